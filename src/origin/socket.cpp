// SPDX-License-Identifier: MIT
// SOCKET origin: id.raw[0] = socket fd. RECV (data or EOF), ACCEPT (a
// connection waits), SEND (room). POLLERR/POLLHUP -> BROKEN.
#include "origin/origin.hpp"

#include <cerrno>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

namespace kevent::detail::socket_origin {
namespace {

constexpr uint32_t all_bits = KEVENT_SOCKET_RECV | KEVENT_SOCKET_ACCEPT | KEVENT_SOCKET_SEND;

} // namespace

int validate(const ukevent &uk) { return validate_event_bits(uk, all_bits); }

int check_kind(int, const sys::inode_id &inode) { return S_ISSOCK(inode.mode) ? 0 : EINVAL; }

uint32_t interest(const ukevent &uk) {
	uint32_t ev = 0;
	if (uk.event & KEVENT_SOCKET_RECV)
		ev |= POLLIN | POLLRDHUP; // RDHUP: EOF is "something to read"
	if (uk.event & KEVENT_SOCKET_ACCEPT)
		ev |= POLLIN;
	if (uk.event & KEVENT_SOCKET_SEND)
		ev |= POLLOUT;
	return ev;
}

fd_report translate(const ukevent &uk, uint32_t revents, int fd) {
	fd_report r;
	bool hangup = revents & (POLLERR | POLLHUP);
	if ((uk.event & KEVENT_SOCKET_RECV) && (revents & (POLLIN | POLLRDHUP)))
		r.fired |= KEVENT_SOCKET_RECV;
	if ((uk.event & KEVENT_SOCKET_ACCEPT) && (revents & POLLIN))
		r.fired |= KEVENT_SOCKET_ACCEPT;
	if ((uk.event & KEVENT_SOCKET_SEND) && (revents & POLLOUT) && !hangup)
		r.fired |= KEVENT_SOCKET_SEND;
	if (hangup) {
		r.broken = true;
		int err = 0;
		socklen_t len = sizeof err;
		if (!(revents & POLLERR) || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 ||
		    err == 0)
			err = EPIPE;
		r.err = err;
	}
	return r;
}

} // namespace kevent::detail::socket_origin
