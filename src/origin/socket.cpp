// SPDX-License-Identifier: MIT
// SOCKET origin: id.raw[0] = socket fd. RECV (data or EOF), ACCEPT (a
// connection waits), SEND (room). EPOLLERR/EPOLLHUP -> BROKEN.
#include "origin/origin.hpp"

#include <cerrno>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>

namespace kevent::detail {
namespace {

constexpr uint32_t all_bits = KEVENT_SOCKET_RECV | KEVENT_SOCKET_ACCEPT | KEVENT_SOCKET_SEND;

int validate(const ukevent &uk) { return validate_event_bits(uk, all_bits); }

int check_kind(int, const sys::inode_id &inode) { return S_ISSOCK(inode.mode) ? 0 : EINVAL; }

uint32_t interest(const ukevent &uk) {
	uint32_t ev = 0;
	if (uk.event & KEVENT_SOCKET_RECV)
		ev |= EPOLLIN | EPOLLRDHUP; // RDHUP: EOF is "something to read"
	if (uk.event & KEVENT_SOCKET_ACCEPT)
		ev |= EPOLLIN;
	if (uk.event & KEVENT_SOCKET_SEND)
		ev |= EPOLLOUT;
	return ev;
}

fd_report translate(const ukevent &uk, uint32_t revents, int fd) {
	fd_report r;
	bool hangup = revents & (EPOLLERR | EPOLLHUP);
	if ((uk.event & KEVENT_SOCKET_RECV) && (revents & (EPOLLIN | EPOLLRDHUP)))
		r.fired |= KEVENT_SOCKET_RECV;
	if ((uk.event & KEVENT_SOCKET_ACCEPT) && (revents & EPOLLIN))
		r.fired |= KEVENT_SOCKET_ACCEPT;
	if ((uk.event & KEVENT_SOCKET_SEND) && (revents & EPOLLOUT) && !hangup)
		r.fired |= KEVENT_SOCKET_SEND;
	if (hangup) {
		r.broken = true;
		int err = 0;
		socklen_t len = sizeof err;
		if (!(revents & EPOLLERR) || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 ||
		    err == 0)
			err = EPIPE;
		r.err = err;
	}
	return r;
}

} // namespace

const origin_ops socket_origin = {
	.name = "socket",
	.uses_fd = true,
	.validate = validate,
	.check_kind = check_kind,
	.interest = interest,
	.translate = translate,
};

} // namespace kevent::detail
