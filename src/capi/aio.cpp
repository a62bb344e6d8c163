// SPDX-License-Identifier: MIT
// The kevent_aio_* entry points: argument checks, then one queue call.
#include "capi/guarded.hpp"
#include "core/descriptor_table.hpp"

#include <kevent/kevent.h>

#include <cerrno>
#include <cstring>
#include <sys/socket.h>

using namespace kevent::detail;
using kevent::capi::guarded;

namespace {

// read(2) and friends transfer at most this much at once; ret_data[0] is
// 32 bits.
constexpr size_t max_len = 0x7ffff000;

int64_t start(int kfd, uint32_t type, uint32_t op_bits, io_request &rq, uint64_t cookie) {
	return guarded([&]() -> int64_t {
		if (rq.fd < 0 || (rq.op == io_op::sendfile && rq.fd2 < 0))
			return -EBADF;
		if (rq.off < -1 || (rq.len && !rq.buf && rq.op != io_op::sendfile))
			return -EINVAL;
		if (rq.len > max_len)
			rq.len = max_len;
		queue_ref q;
		if (int r = lookup_queue(kfd, q); r < 0)
			return r;
		return q->with_origins([&](origin_services &svc) {
			return start_operation(svc, type, op_bits, rq, cookie);
		});
	});
}

} // namespace

KEVENT_API int64_t kevent_aio_read(int kfd, int fd, void *buf, size_t len, int64_t off,
				   uint64_t cookie) {
	io_request rq;
	rq.op = io_op::read;
	rq.fd = fd;
	rq.buf = buf;
	rq.len = len;
	rq.off = off;
	return start(kfd, KEVENT_AIO, KEVENT_AIO_READ, rq, cookie);
}

KEVENT_API int64_t kevent_aio_write(int kfd, int fd, const void *buf, size_t len, int64_t off,
				    uint64_t cookie) {
	io_request rq;
	rq.op = io_op::write;
	rq.fd = fd;
	rq.buf = const_cast<void *>(buf); // only read from
	rq.len = len;
	rq.off = off;
	return start(kfd, KEVENT_AIO, KEVENT_AIO_WRITE, rq, cookie);
}

KEVENT_API int64_t kevent_aio_fsync(int kfd, int fd, unsigned flags, uint64_t cookie) {
	if (flags & ~KEVENT_AIO_FSYNC_DATASYNC) {
		errno = EINVAL;
		return -1;
	}
	io_request rq;
	rq.op = io_op::fsync;
	rq.fd = fd;
	rq.flags = static_cast<int>(flags);
	return start(kfd, KEVENT_AIO, KEVENT_AIO_FSYNC, rq, cookie);
}

KEVENT_API int64_t kevent_aio_recv(int kfd, int fd, void *buf, size_t len, int flags,
				   uint64_t cookie) {
	io_request rq;
	rq.op = io_op::recv;
	rq.fd = fd;
	rq.buf = buf;
	rq.len = len;
	rq.flags = flags & ~MSG_DONTWAIT; // the library decides how to wait
	return start(kfd, KEVENT_NAIO, KEVENT_NAIO_RECV, rq, cookie);
}

KEVENT_API int64_t kevent_aio_send(int kfd, int fd, const void *buf, size_t len, int flags,
				   uint64_t cookie) {
	io_request rq;
	rq.op = io_op::send;
	rq.fd = fd;
	rq.buf = const_cast<void *>(buf); // only read from
	rq.len = len;
	// A closed peer is an EPIPE completion, never a SIGPIPE that kills
	// the process from inside the library.
	rq.flags = (flags & ~MSG_DONTWAIT) | MSG_NOSIGNAL;
	return start(kfd, KEVENT_NAIO, KEVENT_NAIO_SEND, rq, cookie);
}

KEVENT_API int64_t kevent_aio_accept(int kfd, int fd, int flags, uint64_t cookie) {
	if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) {
		errno = EINVAL;
		return -1;
	}
	io_request rq;
	rq.op = io_op::accept;
	rq.fd = fd;
	rq.flags = flags;
	return start(kfd, KEVENT_NAIO, KEVENT_NAIO_ACCEPT, rq, cookie);
}

KEVENT_API int64_t kevent_aio_connect(int kfd, int fd, const struct sockaddr *addr,
				      unsigned addrlen, uint64_t cookie) {
	io_request rq;
	if (!addr || addrlen == 0 || addrlen > sizeof rq.addr) {
		errno = EINVAL;
		return -1;
	}
	rq.op = io_op::connect;
	rq.fd = fd;
	std::memcpy(&rq.addr, addr, addrlen); // the caller's may go out of scope
	rq.addrlen = addrlen;
	return start(kfd, KEVENT_NAIO, KEVENT_NAIO_CONNECT, rq, cookie);
}

KEVENT_API int64_t kevent_aio_sendfile(int kfd, int out_fd, int in_fd, int64_t off, size_t len,
				       uint64_t cookie) {
	io_request rq;
	rq.op = io_op::sendfile;
	rq.fd = out_fd;
	rq.fd2 = in_fd;
	rq.off = off;
	rq.len = len;
	return start(kfd, KEVENT_NAIO, KEVENT_NAIO_SENDFILE, rq, cookie);
}
