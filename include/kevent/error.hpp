// SPDX-License-Identifier: MIT
// error.hpp — how the C++ API reports a failed C call, shared by every part
// of kevent.hpp: the errno as a std::error_code (system category), thrown as
// std::system_error by the throwing form of a call. It also holds the one
// check that the compiler is in C++20 mode, which every part includes first.
#pragma once
// <sys/event.h> of libkevent-kqueue makes `kevent` a macro in C++ (see
// there); the namespace below keeps its name.
#pragma push_macro("kevent")
#undef kevent

// One clear line instead of hundreds of errors about std::span and concepts
// when the compiler's default is older than C++20 (g++ 12 defaults to C++17).
// The missing include then stops the compiler at once: #error alone lets it
// go on through the whole header.
#if !defined(__cplusplus) || __cplusplus < 202002L
#error "kevent.hpp needs C++20: compile with -std=c++20 (CMake: link kevent::kevent, which requires it); C code uses kevent.h"
#include <kevent/kevent_hpp_needs_cxx20> // does not exist, on purpose
#endif

#include <cerrno>
#include <system_error>

namespace kevent::detail {

inline std::error_code errno_code(int e) noexcept { return {e, std::system_category()}; }
inline std::error_code last_error() noexcept { return errno_code(errno); }

inline void throw_on(const std::error_code &ec, const char *what) {
	if (ec)
		throw std::system_error(ec, what);
}

} // namespace kevent::detail

#pragma pop_macro("kevent")
