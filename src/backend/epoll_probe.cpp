// SPDX-License-Identifier: MIT
#include "backend/epoll_probe.hpp"

#include <cerrno>
#include <sys/epoll.h>

namespace kevent::detail {

descriptor_match epoll_probe(int ep, int fd) {
	// The usual answer is EEXIST: a call that succeeds must not leave
	// it in errno (an outside test saw kevent_close(3) do that).
	const int saved = errno;
	epoll_event ev{};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0) {
		epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
		return descriptor_match::different;
	}
	switch (errno) {
	case EEXIST:
		errno = saved;
		return descriptor_match::same;
	case EBADF:
		return descriptor_match::not_open;
	default:
		return descriptor_match::different;
	}
}

} // namespace kevent::detail
