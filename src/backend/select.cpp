// Backend choice at run time: by kevent_init flags, then KEVENT_BACKEND in the
// environment for KEVENT_INIT_AUTO, then by probing what works.
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
			else if (std::strcmp(env, "uring") == 0)
				return -ENOSYS; // not built in this release
			else
				return -EINVAL;
		}
	}
	switch (want) {
	case KEVENT_INIT_AUTO:
	case KEVENT_INIT_EPOLL: {
		int err = 0;
		out = make_epoll_backend(err);
		return out ? 0 : err;
	}
	default:
		return -EINVAL;
	}
}

} // namespace kevent::detail
