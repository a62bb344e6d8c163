// SPDX-License-Identifier: MIT
// coro/spawn.hpp — starting a task on an io_context: spawn (detached, or
// with a completion called with the exception or the value) and sync_wait
// (run the context on this thread until the task finishes, then return its
// value or rethrow its exception). A spawned task counts as work until it
// finishes; it starts on a runner thread, never inside spawn().
#pragma once

#include <kevent/coro/io_context.hpp>
#include <kevent/coro/task.hpp>

#include <atomic>
#include <chrono>
#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace kevent::coro {

namespace detail {

// A self-destroying coroutine that drives one task to its end. Its promise
// is the posted node that starts it on a runner, so spawning allocates the
// driver's frame and nothing else.
struct driver {
	struct promise_type : posted_node {
		driver get_return_object() noexcept {
			return driver{std::coroutine_handle<promise_type>::from_promise(*this)};
		}
		std::suspend_always initial_suspend() const noexcept { return {}; }
		std::suspend_never final_suspend() const noexcept { return {}; }
		void return_void() const noexcept {}
		// The body catches everything; the completion itself must not throw.
		void unhandled_exception() const noexcept { std::terminate(); }
	};
	std::coroutine_handle<promise_type> h;
};

template <class T> struct outcome {
	std::exception_ptr error;
	std::optional<T> value;
};
template <> struct outcome<void> { std::exception_ptr error; };

template <class T, class F> driver drive(work_guard, task<T> t, F done) {
	outcome<T> r;
	try {
		if constexpr (std::is_void_v<T>)
			co_await std::move(t);
		else
			r.value.emplace(co_await std::move(t));
	} catch (...) {
		r.error = std::current_exception();
	}
	// Destroy the task's frame before the completion runs and before the
	// work guard (a parameter, destroyed last) may let run() return.
	t = task<T>();
	done(std::move(r));
}

template <class T, class F> void start(io_context &ctx, task<T> t, F done) {
	driver d = drive(work_guard(ctx), std::move(t), std::move(done));
	d.h.promise().run = [](posted_node *self, bool execute) {
		auto h = std::coroutine_handle<driver::promise_type>::from_promise(
			*static_cast<driver::promise_type *>(self));
		if (execute)
			h.resume();
		else
			h.destroy();
	};
	ctx.post_node(&d.h.promise());
}

} // namespace detail

// Runs t on ctx; an exception leaving it propagates out of the run() call
// that was running it.
template <class T> void spawn(io_context &ctx, task<T> t) {
	detail::start(ctx, std::move(t), [&ctx](detail::outcome<T> &&r) {
		if (r.error)
			ctx.report(r.error);
	});
}

// Runs t on ctx; then calls done(std::exception_ptr) (task<void>) or
// done(std::exception_ptr, std::optional<T>) on the runner that finished it.
template <class T, class F> void spawn(io_context &ctx, task<T> t, F done) {
	detail::start(ctx, std::move(t), [f = std::move(done)](detail::outcome<T> &&r) mutable {
		if constexpr (std::is_void_v<T>)
			f(r.error);
		else
			f(r.error, std::move(r.value));
	});
}

// Runs ctx on the calling thread until t finishes; returns its value or
// rethrows its exception. Other threads may run ctx at the same time (t may
// then finish on one of them).
template <class T> T sync_wait(io_context &ctx, task<T> t) {
	struct state {
		std::atomic<bool> done{false};
		detail::outcome<T> r;
	} st;
	detail::start(ctx, std::move(t), [&st, &ctx](detail::outcome<T> &&r) {
		st.r = std::move(r);
		st.done.store(true, std::memory_order_release);
		ctx.wake_all();
	});
	while (!st.done.load(std::memory_order_acquire)) {
		if (ctx.stopped())
			ctx.restart();
		// wake_all() wakes a thread already blocked; one about to block
		// misses it, so the wait is bounded and the flag looked at again.
		ctx.run_one_for(std::chrono::milliseconds(50));
	}
	if (st.r.error)
		std::rethrow_exception(st.r.error);
	if constexpr (!std::is_void_v<T>)
		return std::move(*st.r.value);
}

} // namespace kevent::coro
