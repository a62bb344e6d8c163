// SPDX-License-Identifier: MIT
// POLL origin: id.raw[0] = any fd epoll can watch; event = POLL* bits;
// ret_data[0] = fired ∩ requested. Never BROKEN from what the fd reports
// (POLLERR/POLLHUP are just bits, reported when requested).
#include "origin/origin.hpp"

#include <cerrno>
#include <poll.h>

namespace kevent::detail::poll_origin {
namespace {

constexpr uint32_t all_bits = POLLIN | POLLPRI | POLLOUT | POLLERR | POLLHUP | POLLNVAL |
			      POLLRDNORM | POLLRDBAND | POLLWRNORM | POLLWRBAND | POLLMSG |
			      POLLRDHUP;

} // namespace

int validate(const ukevent &uk) { return validate_event_bits(uk, all_bits); }

uint32_t interest(const ukevent &uk) { return uk.event & ~uint32_t(POLLNVAL); }

fd_report translate(const ukevent &uk, uint32_t revents, int) {
	fd_report r;
	r.fired = revents & uk.event;
	return r;
}

} // namespace kevent::detail::poll_origin
