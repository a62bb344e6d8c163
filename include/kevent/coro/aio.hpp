// SPDX-License-Identifier: MIT
// coro/aio.hpp — co_await on the asynchronous I/O calls (kevent_aio_read(3)
// and its siblings): recv, send, accept, connect, sendfile (KEVENT_NAIO)
// and read, write, fsync (KEVENT_AIO). Each returns the bytes transferred
// (accept: the new descriptor; connect and fsync: nothing). The operation
// starts when it is awaited, with the awaiter's address as cookie; the
// buffer must live until the co_await returns. Cancelling REMOVEs (type, id):
// the operation is then either cancelled (nothing touches the buffer any
// more; operation_canceled) or had already run and its result is returned.
#pragma once

#include <kevent/coro/operation.hpp>

#include <sys/socket.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>

namespace kevent::coro {

namespace detail {

enum class aio_kind : uint8_t { recv, send, accept, connect, sendfile, read, write, fsync };

struct aio_args {
	aio_kind kind;
	int fd;
	int fd2 = -1; // sendfile: in_fd
	void *buf = nullptr;
	size_t len = 0;
	int64_t off = 0; // read/write/sendfile offset; recv/send/accept flags
	const sockaddr *addr = nullptr;
	unsigned addrlen = 0;
};

template <class T> class aio_op : public operation<aio_op<T>, T> {
	using base = operation<aio_op<T>, T>;
	friend base;

public:
	aio_op(io_context &ctx, const aio_args &a) noexcept : base(ctx), a_(a) {}
	aio_op(io_context &ctx, const aio_args &a, std::error_code &ec) noexcept
	    : base(ctx, ec), a_(a) {}
	aio_op(aio_op &&) noexcept = default;

private:
	int submit(ukevent &) noexcept {
		uint64_t cookie = reinterpret_cast<uintptr_t>(static_cast<op_base *>(this));
		int k = this->kfd();
		int flags = static_cast<int>(a_.off);
		int64_t id = -1;
		switch (a_.kind) {
		case aio_kind::recv:
			id = kevent_aio_recv(k, a_.fd, a_.buf, a_.len, flags, cookie);
			break;
		case aio_kind::send:
			id = kevent_aio_send(k, a_.fd, a_.buf, a_.len, flags, cookie);
			break;
		case aio_kind::accept:
			id = kevent_aio_accept(k, a_.fd, flags, cookie);
			break;
		case aio_kind::connect:
			id = kevent_aio_connect(k, a_.fd, a_.addr, a_.addrlen, cookie);
			break;
		case aio_kind::sendfile:
			id = kevent_aio_sendfile(k, a_.fd, a_.fd2, a_.off, a_.len, cookie);
			break;
		case aio_kind::read:
			id = kevent_aio_read(k, a_.fd, a_.buf, a_.len, a_.off, cookie);
			break;
		case aio_kind::write:
			id = kevent_aio_write(k, a_.fd, a_.buf, a_.len, a_.off, cookie);
			break;
		case aio_kind::fsync:
			id = kevent_aio_fsync(k, a_.fd, static_cast<unsigned>(flags), cookie);
			break;
		}
		if (id < 0)
			return -errno;
		// Only the submitting thread reads id_ until the state is published.
		id_ = static_cast<uint64_t>(id);
		return 0;
	}
	ukevent key() const noexcept {
		ukevent uk{};
		uk.id.raw_u64 = id_;
		bool file = a_.kind == aio_kind::read || a_.kind == aio_kind::write ||
			    a_.kind == aio_kind::fsync;
		uk.type = file ? KEVENT_AIO : KEVENT_NAIO;
		return uk;
	}
	T value(const ukevent &ev) noexcept {
		if constexpr (!std::is_void_v<T>)
			return static_cast<T>(ev.ret_data[0]);
	}

	aio_args a_;
	uint64_t id_ = 0;
};

} // namespace detail

namespace detail {
inline aio_args recv_args(int fd, std::span<std::byte> b, int flags) noexcept {
	return {aio_kind::recv, fd, -1, b.data(), b.size(), flags};
}
inline aio_args send_args(int fd, std::span<const std::byte> b, int flags) noexcept {
	return {aio_kind::send, fd, -1, const_cast<std::byte *>(b.data()), b.size(), flags};
}
} // namespace detail

using io_op = detail::aio_op<size_t>;
using accept_op = detail::aio_op<int>;
using void_io_op = detail::aio_op<void>;

inline io_op recv(io_context &ctx, int fd, std::span<std::byte> buf, int flags = 0) noexcept {
	return io_op(ctx, detail::recv_args(fd, buf, flags));
}
inline io_op recv(io_context &ctx, int fd, std::span<std::byte> buf, int flags,
		  std::error_code &ec) noexcept {
	return io_op(ctx, detail::recv_args(fd, buf, flags), ec);
}

inline io_op send(io_context &ctx, int fd, std::span<const std::byte> buf, int flags = 0) noexcept {
	return io_op(ctx, detail::send_args(fd, buf, flags));
}
inline io_op send(io_context &ctx, int fd, std::span<const std::byte> buf, int flags,
		  std::error_code &ec) noexcept {
	return io_op(ctx, detail::send_args(fd, buf, flags), ec);
}

// flags: SOCK_NONBLOCK, SOCK_CLOEXEC. Returns the new descriptor.
inline accept_op accept(io_context &ctx, int fd, int flags = 0) noexcept {
	return accept_op(ctx, {detail::aio_kind::accept, fd, -1, nullptr, 0, flags});
}
inline accept_op accept(io_context &ctx, int fd, int flags, std::error_code &ec) noexcept {
	return accept_op(ctx, {detail::aio_kind::accept, fd, -1, nullptr, 0, flags}, ec);
}

// addr is copied when the operation starts (at the co_await).
inline void_io_op connect(io_context &ctx, int fd, const sockaddr *addr,
			  unsigned addrlen) noexcept {
	return void_io_op(ctx, {detail::aio_kind::connect, fd, -1, nullptr, 0, 0, addr, addrlen});
}
inline void_io_op connect(io_context &ctx, int fd, const sockaddr *addr, unsigned addrlen,
			  std::error_code &ec) noexcept {
	return void_io_op(ctx, {detail::aio_kind::connect, fd, -1, nullptr, 0, 0, addr, addrlen},
			  ec);
}

inline io_op sendfile(io_context &ctx, int out_fd, int in_fd, int64_t off, size_t len) noexcept {
	return io_op(ctx, {detail::aio_kind::sendfile, out_fd, in_fd, nullptr, len, off});
}
inline io_op sendfile(io_context &ctx, int out_fd, int in_fd, int64_t off, size_t len,
		      std::error_code &ec) noexcept {
	return io_op(ctx, {detail::aio_kind::sendfile, out_fd, in_fd, nullptr, len, off}, ec);
}

// off == -1: the file position.
inline io_op read(io_context &ctx, int fd, std::span<std::byte> buf, int64_t off) noexcept {
	return io_op(ctx, {detail::aio_kind::read, fd, -1, buf.data(), buf.size(), off});
}
inline io_op read(io_context &ctx, int fd, std::span<std::byte> buf, int64_t off,
		  std::error_code &ec) noexcept {
	return io_op(ctx, {detail::aio_kind::read, fd, -1, buf.data(), buf.size(), off}, ec);
}
inline io_op write(io_context &ctx, int fd, std::span<const std::byte> buf, int64_t off) noexcept {
	return io_op(ctx, {detail::aio_kind::write, fd, -1, const_cast<std::byte *>(buf.data()),
			   buf.size(), off});
}
inline io_op write(io_context &ctx, int fd, std::span<const std::byte> buf, int64_t off,
		   std::error_code &ec) noexcept {
	return io_op(ctx,
		     {detail::aio_kind::write, fd, -1, const_cast<std::byte *>(buf.data()),
		      buf.size(), off},
		     ec);
}

inline void_io_op fsync(io_context &ctx, int fd, bool datasync = false) noexcept {
	return void_io_op(ctx, {detail::aio_kind::fsync, fd, -1, nullptr, 0,
				datasync ? KEVENT_AIO_FSYNC_DATASYNC : 0});
}
inline void_io_op fsync(io_context &ctx, int fd, bool datasync, std::error_code &ec) noexcept {
	return void_io_op(ctx,
			  {detail::aio_kind::fsync, fd, -1, nullptr, 0,
			   datasync ? KEVENT_AIO_FSYNC_DATASYNC : 0},
			  ec);
}

} // namespace kevent::coro
