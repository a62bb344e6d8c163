// SPDX-License-Identifier: MIT
// aio_socket — the readiness path of NAIO (aio.hpp): a socket operation on a
// backend that cannot run it (epoll), tried without blocking each time a
// private dup of the socket is reported ready. LOCKING: see aio.hpp.
#include "origin/aio.hpp"

#include <cerrno>
#include <poll.h>
#include <sys/socket.h>

namespace kevent::detail {

uint32_t socket_io_interest(io_op op) {
	return op == io_op::send || op == io_op::connect ? POLLOUT : POLLIN;
}

int64_t try_socket_io(io_ext &x) {
	io_request &rq = x.rq;
	ssize_t n;
	switch (rq.op) {
	case io_op::recv:
		n = ::recv(rq.fd, rq.buf, rq.len, rq.flags | MSG_DONTWAIT);
		break;
	case io_op::send:
		n = ::send(rq.fd, rq.buf, rq.len, rq.flags | MSG_DONTWAIT);
		break;
	case io_op::accept: {
		// accept4 has no MSG_DONTWAIT: on a blocking listener, look first.
		pollfd p{rq.fd, POLLIN, 0};
		if (::poll(&p, 1, 0) == 0)
			return -EAGAIN;
		n = ::accept4(rq.fd, nullptr, nullptr, rq.flags);
		break;
	}
	case io_op::connect:
		if (!x.connecting) {
			x.connecting = true;
			if (::connect(rq.fd, reinterpret_cast<const sockaddr *>(&rq.addr),
				      rq.addrlen) == 0)
				return 0;
			return errno == EINPROGRESS || errno == EALREADY ? -EAGAIN : -errno;
		} else {
			int err = 0;
			socklen_t len = sizeof err;
			if (::getsockopt(rq.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
				return -errno;
			return -err;
		}
	default:
		return -EINVAL;
	}
	if (n >= 0)
		return n;
	return errno == EWOULDBLOCK ? -EAGAIN : -errno;
}

void io_waiter::on_ready(uint32_t) {
	io_ext &x = io_ext_of(n);
	if (x.rq.op == io_op::sendfile) {
		resume_pooled(svc, n); // room in the socket: copy again (unwatches)
		return;
	}
	int64_t r = try_socket_io(x);
	if (r != -EAGAIN)
		complete_io(svc, n, r); // last: it unwatches this source
}

} // namespace kevent::detail
