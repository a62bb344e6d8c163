// SPDX-License-Identifier: MIT
// cancel_test.cpp — cancellation by std::stop_token: a stop request REMOVEs
// the kevent and the coroutine resumes exactly once, with the result or
// with operation_canceled (kevent_ctl(3): a racing event is delivered
// before REMOVE returns or never; an AIO operation is cancelled or hands
// over its result); with_timeout, when_any's losers.
#include "coro_fixture.hpp"

#include <atomic>
#include <thread>
#include <vector>

using namespace kevent_test;
namespace coro = kevent::coro;
using namespace std::chrono_literals;

namespace {

class Cancel : public CoroTest {};

coro::task<void> wait_readable(coro::io_context &c, int fd, std::stop_token t,
			       std::error_code &ec) {
	co_await coro::readable(c, fd, ec).stop_on(std::move(t));
}

TEST_P(Cancel, StopRemovesThePendingKeventAndResumesWithCanceled) {
	socket_pair sp;
	std::stop_source src;
	std::error_code ec;
	coro::spawn(ctx(), wait_readable(ctx(), sp.fd[0], src.get_token(), ec));
	ctx().poll();
	EXPECT_EQ(2u, q.stats().registered) << "the wait and the context's wake";
	src.request_stop();
	ctx().run();
	EXPECT_EQ(std::errc::operation_canceled, ec);
	EXPECT_EQ(1u, q.stats().registered);
}

TEST_P(Cancel, StopBeforeTheAwaitRegistersNothing) {
	socket_pair sp;
	std::stop_source src;
	src.request_stop();
	std::error_code ec;
	coro::sync_wait(ctx(), wait_readable(ctx(), sp.fd[0], src.get_token(), ec));
	EXPECT_EQ(std::errc::operation_canceled, ec);
	EXPECT_EQ(0u, q.stats().added - 1) << "only the context's wake kevent was ever added";
}

coro::task<void> wait_user(coro::io_context &c, uint64_t id, std::stop_token t,
			   std::atomic<int> &resumed, std::atomic<int> &got, std::atomic<int> &cx) {
	std::error_code ec;
	uint64_t v = co_await coro::user_event(c, id, ec).stop_on(std::move(t));
	resumed.fetch_add(1);
	if (!ec && v == 42)
		got.fetch_add(1);
	else if (ec == std::errc::operation_canceled)
		cx.fetch_add(1);
}

// A stop request and the event race: the coroutine resumes exactly once,
// with one of the two, and nothing stays registered.
TEST_P(Cancel, StopRacingCompletionResumesExactlyOnce) {
	std::atomic<int> resumed{0}, got{0}, cx{0};
	for (int i = 0; i < race_rounds; ++i) {
		std::stop_source src;
		coro::spawn(ctx(), wait_user(ctx(), 9, src.get_token(), resumed, got, cx));
		ctx().restart();
		ctx().poll(); // suspends in the wait
		std::thread stopper([&] { src.request_stop(); });
		std::error_code ec;
		coro::notify(ctx(), 9, 42, ec); // ENOENT when the stop came first
		stopper.join();
		ctx().restart();
		ctx().run();
		ASSERT_EQ(i + 1, resumed.load()) << "round " << i;
		ASSERT_EQ(1u, q.stats().registered) << "round " << i;
	}
	EXPECT_EQ(race_rounds, got.load() + cx.load());
}

coro::task<void> recv_one(coro::io_context &c, int fd, std::stop_token t, std::atomic<int> &resumed,
			  std::atomic<long> &bytes) {
	std::byte b[1];
	std::error_code ec;
	size_t n = co_await coro::recv(c, fd, b, 0, ec).stop_on(std::move(t));
	resumed.fetch_add(1);
	if (!ec)
		bytes.fetch_add(static_cast<long>(n));
}

// An AIO recv against a stop: either it took the byte, or the byte is still
// in the socket (kevent_aio_read(3), Cancelling) — never both, never lost.
TEST_P(Cancel, StopRacingAioRecvLosesNoData) {
	socket_pair sp;
	std::atomic<int> resumed{0};
	std::atomic<long> bytes{0};
	const int n = race_rounds / 10;
	long left = 0;
	for (int i = 0; i < n; ++i) {
		std::stop_source src;
		coro::spawn(ctx(), recv_one(ctx(), sp.fd[0], src.get_token(), resumed, bytes));
		ctx().restart();
		ctx().poll();
		std::thread stopper([&] { src.request_stop(); });
		ASSERT_EQ(1, ::write(sp.fd[1], "z", 1));
		stopper.join();
		ctx().restart();
		ctx().run();
		ASSERT_EQ(i + 1, resumed.load());
		char c;
		while (::read(sp.fd[0], &c, 1) == 1)
			++left;
	}
	EXPECT_EQ(n, bytes.load() + left);
	EXPECT_EQ(1u, q.stats().registered);
	EXPECT_EQ(0u, q.stats().inflight_io);
}

coro::task<size_t> recv_with_timeout(coro::io_context &c, int fd, std::error_code &ec,
				     std::chrono::milliseconds limit) {
	std::byte b[8];
	try {
		co_return co_await coro::with_timeout(c, coro::recv(c, fd, b), limit);
	} catch (const std::system_error &e) {
		ec = e.code();
	}
	co_return 0;
}

TEST_P(Cancel, WithTimeoutTimesOut) {
	socket_pair sp;
	std::error_code ec;
	EXPECT_EQ(0u, coro::sync_wait(ctx(), recv_with_timeout(ctx(), sp.fd[0], ec, 20ms)));
	EXPECT_EQ(std::errc::timed_out, ec);
	EXPECT_EQ(1u, q.stats().registered);
	EXPECT_EQ(0u, q.stats().inflight_io);
}

TEST_P(Cancel, WithTimeoutReturnsTheResultInTime) {
	socket_pair sp;
	ASSERT_EQ(3, ::write(sp.fd[1], "abc", 3));
	std::error_code ec;
	// The data is there before the co_await; a long limit keeps a loaded
	// machine (a runner off the CPU for 20 ms, as seen once under ASan) from
	// letting the timer win. The test takes no longer for it.
	EXPECT_EQ(3u, coro::sync_wait(ctx(), recv_with_timeout(ctx(), sp.fd[0], ec, 10s)));
	EXPECT_FALSE(ec);
	EXPECT_EQ(1u, q.stats().registered) << "the timer was withdrawn";
}

coro::task<size_t> any_of(coro::io_context &c, int fd) {
	auto r = co_await coro::when_any(
		[&c, fd](std::stop_token t) -> coro::task<void> {
			co_await coro::readable(c, fd).stop_on(std::move(t));
		},
		[&c](std::stop_token t) -> coro::task<int> {
			co_await coro::sleep_for(c, 1ms).stop_on(std::move(t));
			co_return 5;
		});
	EXPECT_EQ(5, std::get<1>(r));
	co_return r.index();
}

TEST_P(Cancel, WhenAnyCancelsTheLoser) {
	socket_pair sp;
	EXPECT_EQ(1u, coro::sync_wait(ctx(), any_of(ctx(), sp.fd[0])));
	EXPECT_EQ(1u, q.stats().registered) << "the loser's kevent was removed";
}

// Four runners, many waits cancelled from a fifth thread while their
// events fire: every coroutine resumes exactly once (run under TSan).
TEST_P(Cancel, FourRunnersWithRacingStops) {
	constexpr int n = race_rounds / 20;
	std::atomic<int> resumed{0}, got{0}, cx{0};
	std::vector<std::stop_source> srcs(n);
	coro::work_guard g(ctx());
	for (int i = 0; i < n; ++i)
		coro::spawn(ctx(),
			    wait_user(ctx(), 1000 + static_cast<uint64_t>(i),
				      srcs[static_cast<size_t>(i)].get_token(), resumed, got, cx));
	std::vector<std::thread> runners;
	for (int i = 0; i < 4; ++i)
		runners.emplace_back([&] { ctx().run(); });
	// Each wait must be registered before it can be notified: wait for the
	// registrations (the wake kevent is the one extra).
	while (q.stats().registered < static_cast<uint64_t>(n) + 1 && resumed.load() == 0)
		std::this_thread::yield();
	std::thread stopper([&] {
		for (auto &s : srcs)
			s.request_stop();
	});
	for (int i = 0; i < n; ++i) {
		std::error_code ec;
		coro::notify(ctx(), 1000 + static_cast<uint64_t>(i), 42, ec);
	}
	stopper.join();
	g.reset();
	for (auto &t : runners)
		t.join();
	EXPECT_EQ(n, resumed.load());
	EXPECT_EQ(n, got.load() + cx.load());
	EXPECT_EQ(1u, q.stats().registered);
}

KEVENT_INSTANTIATE_BACKENDS(Cancel);

} // namespace
