// SPDX-License-Identifier: MIT
// coro_fixture.hpp — the fixture of the coroutine suites: the shared queue
// fixture (both backends, nothing leaked at teardown) with an io_context
// borrowing its queue, and small socket helpers.
#pragma once

#include "kevent_test.hpp"

#include <kevent/coro.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <utility>

namespace kevent_test {

// The rounds of a race test (a stop against a completion): sanitizers slow
// every round 5-20x, so fewer there, same checks.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr int race_rounds = 1000;
#else
inline constexpr int race_rounds = 10000;
#endif

class CoroTest : public QueueTest {
protected:
	kevent::queue q{kevent::queue::adopt, -1};
	std::optional<kevent::coro::io_context> ctx_;

	void SetUp() override {
		QueueTest::SetUp();
		if (IsSkipped() || HasFatalFailure())
			return;
		q = kevent::queue(kevent::queue::adopt, kfd);
		ctx_.emplace(q);
	}
	void TearDown() override {
		ctx_.reset();
		(void)q.release(); // QueueTest closes kfd and checks for leaks
		QueueTest::TearDown();
	}
	kevent::coro::io_context &ctx() { return *ctx_; }
};

// A connected, non-blocking AF_UNIX stream pair, closed at scope exit.
struct socket_pair {
	int fd[2] = {-1, -1};
	socket_pair() {
		EXPECT_EQ(0,
			  ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fd));
	}
	~socket_pair() {
		for (int f : fd)
			if (f >= 0)
				::close(f);
	}
	socket_pair(const socket_pair &) = delete;
	socket_pair &operator=(const socket_pair &) = delete;
};

inline std::span<const std::byte> bytes(std::string_view s) {
	return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

} // namespace kevent_test
