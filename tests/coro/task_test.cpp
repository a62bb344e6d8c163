// SPDX-License-Identifier: MIT
// task_test.cpp — task<T>: lazy, move-only, symmetric transfer, values and
// exceptions through co_await, spawn and sync_wait; destroying a task
// suspended on a kevent withdraws the kevent.
#include "coro_fixture.hpp"

#include <stdexcept>
#include <string>
#include <type_traits>

using namespace kevent_test;
namespace coro = kevent::coro;

namespace {

static_assert(!std::is_copy_constructible_v<coro::task<int>>);
static_assert(std::is_nothrow_move_constructible_v<coro::task<int>>);

class Task : public CoroTest {};

coro::task<int> value(int v) { co_return v; }
coro::task<int> sum(int a, int b) { co_return co_await value(a) + co_await value(b); }
coro::task<void> fail() {
	throw std::runtime_error("out of a task");
	co_return;
}
coro::task<std::string> rethrows() {
	try {
		co_await fail();
	} catch (const std::runtime_error &e) {
		co_return std::string("caught: ") + e.what();
	}
	co_return "not thrown";
}

TEST_P(Task, IsLazy) {
	bool started = false;
	auto t = [](bool &s) -> coro::task<void> {
		s = true;
		co_return;
	}(started);
	EXPECT_FALSE(started);
	coro::sync_wait(ctx(), std::move(t));
	EXPECT_TRUE(started);
}

TEST_P(Task, ValuesAndExceptionsFlowThroughCoAwait) {
	EXPECT_EQ(5, coro::sync_wait(ctx(), sum(2, 3)));
	EXPECT_EQ("caught: out of a task", coro::sync_wait(ctx(), rethrows()));
	EXPECT_THROW(coro::sync_wait(ctx(), fail()), std::runtime_error);
}

coro::task<long> deep(int n) {
	if (n == 0)
		co_return 0;
	co_return 1 + co_await deep(n - 1);
}

// Symmetric transfer: a chain completing at once does not grow the stack.
// GCC makes the transfer a tail call only when it optimises; the Debug
// builds of the sanitizer presets nest a frame per level, so there the
// chain is shallow (the deep one is checked by the default build).
#if defined(__OPTIMIZE__)
constexpr long chain = 100000;
#else
constexpr long chain = 1000;
#endif
TEST_P(Task, LongSynchronousChainsDoNotOverflowTheStack) {
	EXPECT_EQ(chain, coro::sync_wait(ctx(), deep(static_cast<int>(chain))));
}

TEST_P(Task, SpawnWithCompletionGetsTheValueOrTheException) {
	std::optional<int> got;
	std::exception_ptr err;
	coro::spawn(ctx(), sum(20, 22), [&](std::exception_ptr e, std::optional<int> v) {
		err = e;
		got = v;
	});
	bool failed = false;
	coro::spawn(ctx(), fail(), [&](std::exception_ptr e) { failed = e != nullptr; });
	ctx().run();
	EXPECT_FALSE(err);
	EXPECT_EQ(42, got.value_or(0));
	EXPECT_TRUE(failed);
}

TEST_P(Task, DetachedExceptionLeavesRun) {
	coro::spawn(ctx(), fail());
	EXPECT_THROW(ctx().run(), std::runtime_error);
}

coro::task<void> wait_readable(coro::io_context &c, int fd, bool &resumed) {
	co_await coro::readable(c, fd);
	resumed = true;
}

// Destroying a task suspended in an awaiter REMOVEs its kevent: nothing is
// left registered and nothing is resumed.
TEST_P(Task, DestroyingASuspendedTaskWithdrawsItsKevent) {
	socket_pair sp;
	bool resumed = false;
	{
		auto t = wait_readable(ctx(), sp.fd[0], resumed);
		auto h = t.handle();
		h.resume(); // runs to the co_await and suspends there
		ASSERT_FALSE(h.done());
		EXPECT_EQ(1u, q.stats().registered - 1) << "the wait and the context's wake";
	}
	EXPECT_EQ(1u, q.stats().registered) << "only the context's own wake kevent is left";
	ASSERT_EQ(1, ::write(sp.fd[1], "x", 1));
	EXPECT_EQ(0u, ctx().poll());
	EXPECT_FALSE(resumed);
}

KEVENT_INSTANTIATE_BACKENDS(Task);

} // namespace
