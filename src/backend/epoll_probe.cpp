// SPDX-License-Identifier: MIT
#include "backend/epoll_probe.hpp"

#include <cerrno>
#include <sys/epoll.h>

namespace kevent::detail {

descriptor_match epoll_probe(int ep, int fd) {
	epoll_event ev{};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0) {
		epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
		return descriptor_match::different;
	}
	switch (errno) {
	case EEXIST:
		return descriptor_match::same;
	case EBADF:
		return descriptor_match::not_open;
	default:
		return descriptor_match::different;
	}
}

} // namespace kevent::detail
