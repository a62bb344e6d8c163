// SPDX-License-Identifier: MIT
#include "origin_rules.hpp"

#include <cerrno>
#include <poll.h>

namespace kevent_model {

namespace {

constexpr int64_t ns_per_s = 1000000000;

int check_bits(uint32_t event, uint32_t allowed) {
	return (event == 0 || (event & ~allowed)) ? EINVAL : 0;
}

int validate_timer(const ukevent &uk) {
	const uint32_t options = KEVENT_TIMER_REALTIME | KEVENT_TIMER_BOOTTIME |
				 KEVENT_TIMER_ABSTIME | KEVENT_TIMER_NAMED;
	if (!(uk.event & KEVENT_TIMER_FIRED) || (uk.event & ~(KEVENT_TIMER_FIRED | options)))
		return EINVAL;
	if ((uk.event & KEVENT_TIMER_REALTIME) && (uk.event & KEVENT_TIMER_BOOTTIME))
		return EINVAL;
	// A named timer's interval is in the ADD entry's ret_data, checked at
	// ADD only (kevent_timer(7)): a MODIFY entry's ret_data means nothing.
	if (uk.event & KEVENT_TIMER_NAMED)
		return 0;
	if (uk.id.raw[1] >= ns_per_s)
		return EINVAL;
	// Interval 0 only as a one-shot (semantics.md "ADD — per-entry errors").
	if (timer_interval(uk) == 0 && !(uk.req_flags & KEVENT_REQ_ONESHOT))
		return EINVAL;
	return 0;
}

int validate_event(const ukevent &uk) {
	switch (uk.type) {
	case KEVENT_SOCKET:
		return check_bits(uk.event,
				  KEVENT_SOCKET_RECV | KEVENT_SOCKET_ACCEPT | KEVENT_SOCKET_SEND);
	case KEVENT_PIPE:
		return check_bits(uk.event, KEVENT_PIPE_RECV | KEVENT_PIPE_SEND);
	case KEVENT_POLL:
		return check_bits(uk.event, POLLIN | POLLPRI | POLLOUT | POLLERR | POLLHUP |
						    POLLNVAL | POLLRDNORM | POLLRDBAND |
						    POLLWRNORM | POLLWRBAND | POLLMSG | POLLRDHUP);
	case KEVENT_TIMER:
		return validate_timer(uk);
	case KEVENT_UNOTIFY:
		return 0; // any bits
	case KEVENT_NAIO:
	case KEVENT_AIO:
		return EINVAL; // started by kevent_aio_*(3), never ADDed
	default:
		return ENOSYS; // POSIX_TIMER
	}
}

} // namespace

bool modelled_type(uint32_t type) {
	return type != KEVENT_INODE && type != KEVENT_SIGNAL && type != KEVENT_PROC;
}

bool is_fd_origin(uint32_t type) {
	return type == KEVENT_SOCKET || type == KEVENT_PIPE || type == KEVENT_POLL;
}

int validate_request(const ukevent &uk) {
	if (int r = validate_event(uk))
		return r;
	if ((uk.req_flags & ~KEVENT_REQ_MASK) ||
	    ((uk.req_flags & KEVENT_REQ_ET) && (uk.req_flags & KEVENT_REQ_LEVEL)))
		return EINVAL;
	return 0;
}

uint32_t interest(const ukevent &uk) {
	uint32_t ev = 0;
	switch (uk.type) {
	case KEVENT_SOCKET:
		if (uk.event & KEVENT_SOCKET_RECV)
			ev |= POLLIN | POLLRDHUP; // EOF is something to read
		if (uk.event & KEVENT_SOCKET_ACCEPT)
			ev |= POLLIN;
		if (uk.event & KEVENT_SOCKET_SEND)
			ev |= POLLOUT;
		return ev;
	case KEVENT_PIPE:
		if (uk.event & KEVENT_PIPE_RECV)
			ev |= POLLIN;
		if (uk.event & KEVENT_PIPE_SEND)
			ev |= POLLOUT;
		return ev;
	default:
		return uk.event & ~uint32_t(POLLNVAL);
	}
}

fd_outcome translate(const ukevent &uk, uint32_t revents) {
	fd_outcome o;
	bool hangup = revents & (POLLERR | POLLHUP);
	switch (uk.type) {
	case KEVENT_SOCKET:
		if ((uk.event & KEVENT_SOCKET_RECV) && (revents & (POLLIN | POLLRDHUP)))
			o.fired |= KEVENT_SOCKET_RECV;
		if ((uk.event & KEVENT_SOCKET_ACCEPT) && (revents & POLLIN))
			o.fired |= KEVENT_SOCKET_ACCEPT;
		if ((uk.event & KEVENT_SOCKET_SEND) && (revents & POLLOUT) && !hangup)
			o.fired |= KEVENT_SOCKET_SEND;
		// No SO_ERROR in the model's world: a hang-up is EPIPE.
		if (hangup)
			o = {o.fired, true, EPIPE};
		return o;
	case KEVENT_PIPE:
		if ((uk.event & KEVENT_PIPE_RECV) && (revents & POLLIN))
			o.fired |= KEVENT_PIPE_RECV;
		if ((uk.event & KEVENT_PIPE_SEND) && (revents & POLLOUT))
			o.fired |= KEVENT_PIPE_SEND;
		if (hangup)
			o = {o.fired, true, EPIPE};
		return o;
	default: // POLL: never BROKEN; ERR/HUP only when asked for
		o.fired = revents & uk.event;
		return o;
	}
}

int64_t timer_interval(const ukevent &uk) {
	if (uk.event & KEVENT_TIMER_NAMED) // the ADD entry's ret_data, no interval with ABSTIME
		return (uk.event & KEVENT_TIMER_ABSTIME)
			       ? 0
			       : int64_t(uk.ret_data[0]) * ns_per_s + uk.ret_data[1];
	return int64_t(uk.id.raw[0]) * ns_per_s + uk.id.raw[1];
}

} // namespace kevent_model
