// SPDX-License-Identifier: MIT
// origin_support.hpp — small helpers shared by the origin files
// (tests/origin/*_test.cpp) and by the common contract (origin_contract.hpp):
// owned descriptors and queues, describing a ukevent in a failure message,
// filling and draining pipes and sockets, socket pairs and loopback TCP, and
// moving a file onto a given descriptor number.
#pragma once

#include "kevent_test.hpp"
#include "sys/unique_fd.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace kevent_origin {

using namespace kevent_test;

// An owned file descriptor: the library's own (src/sys/unique_fd.hpp).
using unique_fd = kevent::sys::unique_fd;

// An owned kevent queue (closed with kevent_close, never a raw close).
class owned_queue {
public:
	explicit owned_queue(int q) : q_(q) {}
	owned_queue(const owned_queue &) = delete;
	owned_queue &operator=(const owned_queue &) = delete;
	~owned_queue() {
		if (q_ >= 0)
			kevent_close(q_);
	}
	int get() const { return q_; }
	int release() { return std::exchange(q_, -1); }

private:
	int q_;
};

inline int32_t err_of(const ukevent &uk) { return static_cast<int32_t>(uk.ret_data[1]); }

inline std::string describe(const ukevent &uk) {
	std::ostringstream os;
	os << "{id=0x" << std::hex << uk.id.raw_u64 << std::dec << " type=" << uk.type
	   << " event=0x" << std::hex << uk.event << " req=0x" << uk.req_flags << " ret=0x"
	   << uk.ret_flags << std::dec << " ret_data=[" << uk.ret_data[0] << ","
	   << static_cast<int32_t>(uk.ret_data[1]) << "] cookie=0x" << std::hex << cookie_of(uk)
	   << std::dec << "}";
	return os.str();
}

inline std::string describe(const std::vector<ukevent> &v) {
	std::string s = "[";
	for (const auto &uk : v)
		s += describe(uk) + " ";
	return s + "]";
}

// Writes all of `n` bytes of 'x' (non-blocking fd: stops at EAGAIN).
inline ssize_t put(int fd, size_t n = 1) {
	std::vector<char> buf(n, 'x');
	return ::write(fd, buf.data(), n);
}

// Reads everything that is there now (non-blocking fd); returns bytes read.
inline size_t drain(int fd) {
	char buf[65536];
	size_t total = 0;
	for (;;) {
		ssize_t r = ::read(fd, buf, sizeof buf);
		if (r <= 0)
			break;
		total += static_cast<size_t>(r);
	}
	return total;
}

// Fills a non-blocking pipe or socket until the kernel says EAGAIN.
inline void fill(int fd) {
	std::vector<char> buf(65536, 'f');
	for (;;) {
		ssize_t r = ::send(fd, buf.data(), buf.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r < 0 && errno == ENOTSOCK)
			r = ::write(fd, buf.data(), buf.size());
		if (r <= 0)
			break;
	}
}

// Makes number `n` free when `other` holds it (moves `other` elsewhere), so
// that a target can take the number over with take_number().
inline void vacate(unique_fd &other, int n) {
	if (other.get() == n) {
		int d = ::fcntl(n, F_DUPFD_CLOEXEC, n + 1);
		EXPECT_GE(d, 0) << std::strerror(errno);
		other.reset(d);
	}
}

inline bool fd_is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

// A connected AF_UNIX stream pair, both ends non-blocking.
inline void socket_pair(unique_fd &a, unique_fd &b) {
	int sv[2];
	ASSERT_EQ(0, ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
	a.reset(sv[0]);
	b.reset(sv[1]);
}

// A blocking TCP socket bound to 127.0.0.1 on an ephemeral port, listening
// with `backlog` (or not listening when backlog < 0); `addr` is where it is.
inline unique_fd loopback_tcp(sockaddr_in &addr, int backlog) {
	unique_fd l(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
	EXPECT_GE(l.get(), 0) << std::strerror(errno);
	addr = sockaddr_in{};
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	EXPECT_EQ(0, ::bind(l.get(), reinterpret_cast<sockaddr *>(&addr), sizeof addr))
		<< std::strerror(errno);
	if (backlog >= 0) {
		EXPECT_EQ(0, ::listen(l.get(), backlog)) << std::strerror(errno);
	}
	socklen_t len = sizeof addr;
	EXPECT_EQ(0, ::getsockname(l.get(), reinterpret_cast<sockaddr *>(&addr), &len));
	return l;
}

// Moves the open file `from` onto number `to` (dup2) and returns `to`.
inline int move_fd(int from, int to) {
	if (from == to)
		return to;
	EXPECT_EQ(to, ::dup2(from, to)) << std::strerror(errno);
	::close(from);
	return to;
}

} // namespace kevent_origin
