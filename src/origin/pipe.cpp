// SPDX-License-Identifier: MIT
// PIPE origin: id.raw[0] = pipe or FIFO fd (anything else: EINVAL). RECV on
// data, SEND on room. The other end gone (POLLHUP on a read end, POLLERR on a
// write end) -> BROKEN, with RECV still reported if data is left to read.
#include "origin/origin.hpp"

#include <cerrno>
#include <sys/epoll.h>
#include <sys/stat.h>

namespace kevent::detail {
namespace {

constexpr uint32_t all_bits = KEVENT_PIPE_RECV | KEVENT_PIPE_SEND;

int validate(const ukevent &uk) { return validate_event_bits(uk, all_bits); }

int check_kind(int, const sys::inode_id &inode) { return S_ISFIFO(inode.mode) ? 0 : EINVAL; }

uint32_t interest(const ukevent &uk) {
	uint32_t ev = 0;
	if (uk.event & KEVENT_PIPE_RECV)
		ev |= EPOLLIN;
	if (uk.event & KEVENT_PIPE_SEND)
		ev |= EPOLLOUT;
	return ev;
}

fd_report translate(const ukevent &uk, uint32_t revents, int) {
	fd_report r;
	if ((uk.event & KEVENT_PIPE_RECV) && (revents & EPOLLIN))
		r.fired |= KEVENT_PIPE_RECV;
	if ((uk.event & KEVENT_PIPE_SEND) && (revents & EPOLLOUT))
		r.fired |= KEVENT_PIPE_SEND;
	if (revents & (EPOLLHUP | EPOLLERR)) {
		r.broken = true;
		r.err = EPIPE;
	}
	return r;
}

} // namespace

const origin_ops pipe_origin = {
	.name = "pipe",
	.uses_fd = true,
	.validate = validate,
	.check_kind = check_kind,
	.interest = interest,
	.translate = translate,
};

} // namespace kevent::detail
