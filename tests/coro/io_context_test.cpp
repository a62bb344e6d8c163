// SPDX-License-Identifier: MIT
// io_context_test.cpp — the scheduler of the coroutine layer: run, run_one,
// poll, stop, post, schedule, work tracking, and run from several threads.
#include "coro_fixture.hpp"

#include <atomic>
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

KEVENT_INSTANTIATE_BACKENDS(IoContext);

} // namespace
