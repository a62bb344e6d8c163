// SPDX-License-Identifier: MIT
// PIPE origin: id.raw[0] = pipe or FIFO fd (anything else: EINVAL). RECV on
// data, SEND on room. The other end gone (POLLHUP on a read end, POLLERR on a
// write end) -> BROKEN, with RECV still reported if data is left to read.
#include "origin/origin.hpp"

#include <cerrno>
#include <poll.h>
#include <sys/stat.h>

namespace kevent::detail::pipe_origin {
namespace {

constexpr uint32_t all_bits = KEVENT_PIPE_RECV | KEVENT_PIPE_SEND;

} // namespace

int validate(const ukevent &uk) { return validate_event_bits(uk, all_bits); }

int check_kind(int, const sys::inode_id &inode) { return S_ISFIFO(inode.mode) ? 0 : EINVAL; }

uint32_t interest(const ukevent &uk) {
	uint32_t ev = 0;
	if (uk.event & KEVENT_PIPE_RECV)
		ev |= POLLIN;
	if (uk.event & KEVENT_PIPE_SEND)
		ev |= POLLOUT;
	return ev;
}

fd_report translate(const ukevent &uk, uint32_t revents, int) {
	fd_report r;
	if ((uk.event & KEVENT_PIPE_RECV) && (revents & POLLIN))
		r.fired |= KEVENT_PIPE_RECV;
	if ((uk.event & KEVENT_PIPE_SEND) && (revents & POLLOUT))
		r.fired |= KEVENT_PIPE_SEND;
	if (revents & (POLLHUP | POLLERR)) {
		r.broken = true;
		r.err = EPIPE;
	}
	return r;
}

} // namespace kevent::detail::pipe_origin
