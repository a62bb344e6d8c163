// SPDX-License-Identifier: MIT
// Backend choice at run time: by kevent_init flags, then KEVENT_BACKEND in the
// environment for KEVENT_INIT_AUTO (epoll without it); io_uring is probed
// when asked for.
#include "backend/backend.hpp"

#include <kevent/kevent.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace kevent::detail {

int make_backend(unsigned flags, std::unique_ptr<backend> &out) {
	unsigned want = flags & KEVENT_INIT_BACKEND_MASK;
	if (want == KEVENT_INIT_AUTO) {
		if (const char *env = std::getenv("KEVENT_BACKEND"); env && *env) {
			if (std::strcmp(env, "epoll") == 0)
				want = KEVENT_INIT_EPOLL;
			else if (std::strcmp(env, "uring") == 0 ||
				 std::strcmp(env, "io_uring") == 0) // the kernel's name
				want = KEVENT_INIT_URING;
			else
				return -EINVAL;
		}
	}
	int err = 0;
	switch (want) {
	case KEVENT_INIT_AUTO:
		// epoll, on the evidence (kevent_init(3), docs/benchmarks.md
		// "Which backend AUTO picks"): with the machine quiet, io_uring
		// was the slower backend for HTTP at c=100 (0.51x raw epoll
		// against 1.01x), pipes, timers, user events and the coroutine
		// servers, and won only single-connection round trips. io_uring
		// is the caller's choice: KEVENT_INIT_URING, KEVENT_BACKEND=uring.
		[[fallthrough]];
	case KEVENT_INIT_EPOLL:
		out = make_epoll_backend(err);
		return out ? 0 : err;
	case KEVENT_INIT_URING:
		out = make_uring_backend(err);
		return out ? 0 : err;
	default:
		return -EINVAL;
	}
}

} // namespace kevent::detail
