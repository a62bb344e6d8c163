// SPDX-License-Identifier: MIT
// The fixture of the kqueue layer's tests (docs/kqueue.md): one kqueue per
// case, on the libkevent backend under test. kqueue() takes libkevent's
// default backend, which KEVENT_BACKEND chooses (each case runs in its own
// process, so setting it in SetUp is safe). TearDown closes the kqueue and
// checks that no libkevent registration is left in the process.
#pragma once
#include <sys/event.h>

#include <gtest/gtest.h>
#include <kevent/kevent.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace kq_test {

struct backend {
	const char *name;
};

inline std::vector<backend> backends() { return {{"epoll"}, {"uring"}}; }
inline void PrintTo(const backend &b, std::ostream *os) { *os << b.name; }
inline std::string backend_name(const ::testing::TestParamInfo<backend> &i) { return i.param.name; }

// kevent() with a timeout in milliseconds (-1: none), once: EINTR returned.
inline int wait_once(int kq, struct kevent *out, int n, long ms) {
	timespec t{ms / 1000, (ms % 1000) * 1000000L};
	return kevent(kq, nullptr, 0, out, n, ms < 0 ? nullptr : &t);
}

// The same, called again on EINTR as BSD programs do: a thread that used
// io_uring (an earlier test's queue on that backend) gets one EINTR when
// the kernel tears that ring down (kqueue(3), NOTES).
inline int wait(int kq, struct kevent *out, int n, long ms) {
	int r;
	do
		r = wait_once(kq, out, n, ms);
	while (r < 0 && errno == EINTR);
	return r;
}

// One change; returns kevent()'s result (0, or -1 with errno).
inline int change(int kq, uintptr_t ident, short filter, unsigned short flags, unsigned fflags = 0,
		  intptr_t data = 0, void *udata = nullptr) {
	struct kevent kev;
	EV_SET(&kev, ident, filter, flags, fflags, data, udata);
	return kevent(kq, &kev, 1, nullptr, 0, nullptr);
}

// A regular file with no name (O_TMPFILE): READ knotes on a file that is
// always ready. -1 with errno on failure.
inline int anonymous_file() { return open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600); }

// What one poll (timeout 0) reports.
inline std::vector<struct kevent> poll_events(int kq) {
	std::vector<struct kevent> v(16);
	int n = wait(kq, v.data(), 16, 0);
	EXPECT_GE(n, 0) << std::strerror(errno);
	v.resize(n < 0 ? 0 : n);
	return v;
}

// A TCP listener on loopback (backlog 8); its address in `a`.
inline int loopback_listener(sockaddr_in &a) {
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	EXPECT_GE(l, 0) << std::strerror(errno);
	a = sockaddr_in{};
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof a;
	EXPECT_EQ(0, bind(l, (sockaddr *)&a, sizeof a));
	EXPECT_EQ(0, listen(l, 8));
	EXPECT_EQ(0, getsockname(l, (sockaddr *)&a, &len));
	return l;
}

class KqTest : public ::testing::TestWithParam<backend> {
protected:
	int kq = -1;
	void SetUp() override {
		setenv("KEVENT_BACKEND", GetParam().name, 1);
		kq = kqueue();
		if (kq < 0 && (errno == ENOSYS || errno == EOPNOTSUPP)) {
			GTEST_SKIP() << "backend " << GetParam().name
				     << " is not available here: " << std::strerror(errno);
		}
		ASSERT_GE(kq, 0) << std::strerror(errno);
	}
	void TearDown() override {
		if (kq >= 0) {
			EXPECT_EQ(0, close(kq));
		}
		kq = -1;
	}
};

#define KQ_INSTANTIATE(suite)                                                               \
	INSTANTIATE_TEST_SUITE_P(backends, suite, ::testing::ValuesIn(kq_test::backends()), \
				 kq_test::backend_name)

} // namespace kq_test
