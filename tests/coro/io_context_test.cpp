// SPDX-License-Identifier: MIT
// io_context_test.cpp — the scheduler of the coroutine layer: run, run_one,
// poll, stop, post, schedule, work tracking, and run from several threads
// (one polls, the others park; a stuck handler; full batches shared).
#include "coro_fixture.hpp"

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

using namespace kevent_test;
namespace coro = kevent::coro;

namespace {

class IoContext : public CoroTest {};

TEST_P(IoContext, RunWithoutWorkReturnsAtOnce) {
	EXPECT_EQ(0u, ctx().run());
	EXPECT_EQ(0u, ctx().poll());
}

TEST_P(IoContext, PostRunsOnRunAndRunReturnsWhenWorkIsDone) {
	int ran = 0;
	for (int i = 0; i < 3; ++i)
		ctx().post([&] { ++ran; });
	EXPECT_EQ(0, ran) << "post never runs inside post";
	EXPECT_EQ(3u, ctx().run());
	EXPECT_EQ(3, ran);
	EXPECT_EQ(0, ctx().outstanding_work());
}

TEST_P(IoContext, RunOneAndPollRunOneHandlerAtATime) {
	int ran = 0;
	ctx().post([&] { ++ran; });
	ctx().post([&] { ++ran; });
	EXPECT_EQ(1u, ctx().run_one());
	EXPECT_EQ(1, ran);
	EXPECT_EQ(1u, ctx().poll_one());
	EXPECT_EQ(2, ran);
	EXPECT_EQ(0u, ctx().poll());
}

TEST_P(IoContext, StopMakesRunReturnUntilRestart) {
	coro::work_guard g(ctx());
	int ran = 0;
	ctx().post([&] {
		++ran;
		ctx().stop();
	});
	ctx().post([&] { ++ran; });
	EXPECT_EQ(1u, ctx().run());
	EXPECT_TRUE(ctx().stopped());
	EXPECT_EQ(0u, ctx().run()) << "stopped: returns at once";
	ctx().restart();
	EXPECT_EQ(1u, ctx().poll());
	EXPECT_EQ(2, ran);
}

TEST_P(IoContext, StopFromAnotherThreadWakesABlockedRunner) {
	coro::work_guard g(ctx()); // run() would return at once without work
	std::thread t([&] { ctx().run(); });
	std::this_thread::sleep_for(std::chrono::milliseconds(20));
	ctx().stop();
	t.join();
	EXPECT_TRUE(ctx().stopped());
}

TEST_P(IoContext, PostFromAnotherThreadWakesABlockedRunner) {
	coro::work_guard g(ctx());
	std::atomic<int> ran{0};
	std::thread t([&] { ctx().run(); });
	for (int i = 0; i < 100; ++i)
		ctx().post([&] { ran.fetch_add(1); });
	ctx().post([&] { g.reset(); }); // the last work: run() returns
	t.join();
	EXPECT_EQ(100, ran.load());
}

// Posting while a runner is awake costs no system call: the runner takes
// the work before it blocks again; the queue's wake-up counter stays put.
TEST_P(IoContext, PostFromAnAwakeRunnerWakesNobody) {
	kevent_stats before{}, after{};
	int left = 1000;
	std::function<void()> again = [&] {
		if (left == 1000)
			before = q.stats();
		if (--left > 0)
			ctx().post(again);
		else
			after = q.stats();
	};
	ctx().post(again);
	ctx().run();
	EXPECT_EQ(0, left);
	EXPECT_EQ(before.wakeups, after.wakeups);
	EXPECT_EQ(before.backend_calls, after.backend_calls);
}

coro::task<int> hop(coro::io_context &c, std::atomic<int> &count) {
	for (int i = 0; i < 100; ++i) {
		co_await c.schedule();
		count.fetch_add(1, std::memory_order_relaxed);
	}
	co_return 1;
}

TEST_P(IoContext, FourThreadsRunOneContext) {
	std::atomic<int> count{0};
	std::atomic<int> finished{0};
	for (int i = 0; i < 50; ++i)
		coro::spawn(ctx(), hop(ctx(), count),
			    [&](std::exception_ptr e, std::optional<int> v) {
				    EXPECT_FALSE(e);
				    EXPECT_EQ(1, v.value_or(0));
				    finished.fetch_add(1);
			    });
	std::vector<std::thread> ts;
	for (int i = 0; i < 4; ++i)
		ts.emplace_back([&] { ctx().run(); });
	for (auto &t : ts)
		t.join();
	EXPECT_EQ(50 * 100, count.load());
	EXPECT_EQ(50, finished.load());
	EXPECT_EQ(0, ctx().outstanding_work());
}

TEST_P(IoContext, HandlerExceptionLeavesRun) {
	ctx().post([] { throw std::runtime_error("boom"); });
	EXPECT_THROW(ctx().run(), std::runtime_error);
	EXPECT_EQ(0, ctx().outstanding_work());
}

// At most one runner waits in the queue; the others park in the context
// (io_context.hpp). A runner stuck in a handler must not hold back the
// events another coroutine needs: a parked runner takes the poller role
// over. Here the first coroutine's handler waits for the second one, whose
// event comes only once that handler is running: without the take-over
// this never ends.
coro::task<void> wait_for_other(coro::io_context &c, int fd, std::atomic<int> &stage) {
	co_await coro::readable(c, fd);
	stage.store(1);
	while (stage.load() != 2)
		std::this_thread::yield();
}

coro::task<void> release_other(coro::io_context &c, int fd, std::atomic<int> &stage) {
	co_await coro::readable(c, fd);
	stage.store(2);
}

TEST_P(IoContext, ARunnerStuckInAHandlerHoldsBackNoEvent) {
	socket_pair a, b;
	std::atomic<int> stage{0};
	coro::spawn(ctx(), wait_for_other(ctx(), a.fd[0], stage));
	coro::spawn(ctx(), release_other(ctx(), b.fd[0], stage));
	std::vector<std::thread> ts;
	for (int i = 0; i < 2; ++i)
		ts.emplace_back([&] { ctx().run(); });
	// Both coroutines suspended (their kevents and the context's own are
	// registered), one runner blocked in the queue, the other parked.
	while (q.stats().registered < 3)
		std::this_thread::yield();
	std::this_thread::sleep_for(std::chrono::milliseconds(20));
	ASSERT_EQ(1, ::write(a.fd[1], "x", 1));
	while (stage.load() == 0)
		std::this_thread::yield();
	ASSERT_EQ(1, ::write(b.fd[1], "x", 1)); // after the first handler blocked
	for (auto &t : ts)
		t.join();
	EXPECT_EQ(2, stage.load());
	EXPECT_EQ(0, ctx().outstanding_work());
}

// Many descriptors ready at once fill whole batches, half of which the
// poller hands to a parked runner (the spill list): every event still
// resumes its coroutine exactly once. A ring of 64 socket pairs passes 64
// tokens round; each coroutine reads 50 of them.
coro::task<void> pass_on(coro::io_context &c, int in, int out, std::atomic<int> &reads) {
	for (int i = 0; i < 50; ++i) {
		co_await coro::readable(c, in);
		char x;
		EXPECT_EQ(1, ::read(in, &x, 1));
		reads.fetch_add(1, std::memory_order_relaxed);
		EXPECT_EQ(1, ::write(out, "x", 1));
	}
}

TEST_P(IoContext, FullBatchesSpreadOverRunnersExactlyOnce) {
	constexpr int n = 64;
	std::vector<std::unique_ptr<socket_pair>> p;
	for (int i = 0; i < n; ++i)
		p.push_back(std::make_unique<socket_pair>());
	std::atomic<int> reads{0};
	std::atomic<int> finished{0};
	for (int i = 0; i < n; ++i) {
		ASSERT_EQ(1, ::write(p[i]->fd[1], "x", 1));
		coro::spawn(ctx(), pass_on(ctx(), p[i]->fd[0], p[(i + 1) % n]->fd[1], reads),
			    [&](std::exception_ptr e) {
				    EXPECT_FALSE(e);
				    finished.fetch_add(1);
			    });
	}
	std::vector<std::thread> ts;
	for (int i = 0; i < 4; ++i)
		ts.emplace_back([&] { ctx().run(); });
	for (auto &t : ts)
		t.join();
	EXPECT_EQ(n * 50, reads.load());
	EXPECT_EQ(n, finished.load());
	EXPECT_EQ(0, ctx().outstanding_work());
}

KEVENT_INSTANTIATE_BACKENDS(IoContext);

} // namespace
