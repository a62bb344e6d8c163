// SPDX-License-Identifier: MIT
// coro/readiness.hpp — co_await readable(ctx, fd) / writable(ctx, fd): a
// ONESHOT ADD; a descriptor already ready completes without suspending.
// readable is a KEVENT_POLL kevent (POLLIN|POLLRDHUP: any pollable fd, EOF
// counts as readable); writable is a KEVENT_SOCKET SEND kevent, or a POLL
// POLLOUT one when fd is not a socket. The key of a kevent is (fd, origin)
// (kevent_ctl(3)), so one coroutine may wait for readable and another for
// writable on one socket at once, but two waits of the same kind on one fd
// fail with EEXIST. A socket that reports an error or hang-up completes
// writable with its error (kevent_socket(7)).
#pragma once

#include <kevent/coro/registration.hpp>

#include <poll.h>

namespace kevent::coro {

using readiness_op = detail::registration<void, detail::no_result>;

namespace detail {
inline ukevent readable_entry(int fd) noexcept {
	return oneshot_entry(KEVENT_POLL, static_cast<uint32_t>(fd), POLLIN | POLLRDHUP);
}
inline ukevent writable_entry(int fd) noexcept {
	return oneshot_entry(KEVENT_SOCKET, static_cast<uint32_t>(fd), KEVENT_SOCKET_SEND);
}
} // namespace detail

inline readiness_op readable(io_context &ctx, int fd) noexcept {
	return readiness_op(ctx, detail::readable_entry(fd));
}
inline readiness_op readable(io_context &ctx, int fd, std::error_code &ec) noexcept {
	return readiness_op(ctx, detail::readable_entry(fd), ec);
}
inline readiness_op writable(io_context &ctx, int fd) noexcept {
	return readiness_op(ctx, detail::writable_entry(fd)).poll_fallback(POLLOUT);
}
inline readiness_op writable(io_context &ctx, int fd, std::error_code &ec) noexcept {
	return readiness_op(ctx, detail::writable_entry(fd), ec).poll_fallback(POLLOUT);
}

} // namespace kevent::coro
