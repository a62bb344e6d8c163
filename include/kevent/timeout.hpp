// SPDX-License-Identifier: MIT
// timeout.hpp — a std::chrono timeout as the timespec that kevent_get_events
// and kevent_wait take, shared by the queue (queue.hpp) and the ring
// (ring.hpp), whose waits accept durations and deadlines.
#pragma once
// <sys/event.h> of libkevent-kqueue makes `kevent` a macro in C++ (see
// there); the namespace below keeps its name.
#pragma push_macro("kevent")
#undef kevent

#include <kevent/error.hpp>

#include <chrono>
#include <ctime>

namespace kevent::detail {

// A duration as a relative timespec; negative durations mean "now" (do not
// block), which is what a caller computing "deadline - now" wants.
inline timespec to_timespec(std::chrono::nanoseconds d) noexcept {
	if (d.count() < 0)
		d = std::chrono::nanoseconds::zero();
	auto secs = std::chrono::duration_cast<std::chrono::seconds>(d);
	timespec ts{};
	ts.tv_sec = static_cast<time_t>(secs.count());
	ts.tv_nsec = static_cast<long>((d - secs).count());
	return ts;
}

} // namespace kevent::detail

#pragma pop_macro("kevent")
