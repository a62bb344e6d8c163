// SPDX-License-Identifier: MIT
// The map of the library: one entry per ukevent.type.
#include "origin/origin.hpp"

#include <cerrno>

namespace kevent::detail {

int validate_not_built_in(const ukevent &) { return ENOSYS; }

namespace {

// POSIX_TIMER is reserved by the SPEC.
constexpr origin_ops not_built_in(const char *name) {
	return origin_ops{.name = name, .uses_fd = false, .validate = validate_not_built_in};
}

const origin_ops posix_timer_origin = not_built_in("posix_timer");

const origin_ops *const table[KEVENT_MAX] = {
	&socket_origin,      // KEVENT_SOCKET       0
	&inode_origin,       // KEVENT_INODE        1
	&timer_origin,       // KEVENT_TIMER        2
	&poll_origin,        // KEVENT_POLL         3
	&naio_origin,        // KEVENT_NAIO         4
	&aio_origin,         // KEVENT_AIO          5
	&pipe_origin,        // KEVENT_PIPE         6
	&signal_origin,      // KEVENT_SIGNAL       7
	&posix_timer_origin, // KEVENT_POSIX_TIMER  8
	&unotify_origin,     // KEVENT_UNOTIFY      9
	&proc_origin,        // KEVENT_PROC        10
};

} // namespace

const origin_ops &origin_for(uint32_t type) { return *table[type]; }

} // namespace kevent::detail
