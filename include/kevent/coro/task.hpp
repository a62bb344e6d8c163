// SPDX-License-Identifier: MIT
// coro/task.hpp — kevent::coro::task<T>, the coroutine type of the layer:
// lazy (it starts when awaited or spawned), move-only, one awaiter, and
// completing by symmetric transfer to its awaiter (no stack growth however
// long a chain of tasks completing at once). An exception leaving the body
// is rethrown by co_await. Destroying a task that has not finished destroys
// its frame and so its suspended awaiter, which withdraws its kevent
// (operation.hpp). See docs/coroutines.md.
#pragma once

#include <kevent/error.hpp>

#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace kevent::coro {

template <class T = void> class task;

namespace detail {

struct task_promise_base {
	std::coroutine_handle<> continuation = std::noop_coroutine();
	std::exception_ptr error;

	std::suspend_always initial_suspend() const noexcept { return {}; }
	struct final_awaiter {
		bool await_ready() const noexcept { return false; }
		template <class P>
		std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) const noexcept {
			return h.promise().continuation;
		}
		void await_resume() const noexcept {}
	};
	final_awaiter final_suspend() const noexcept { return {}; }
	void unhandled_exception() noexcept { error = std::current_exception(); }
	void rethrow_if_error() const {
		if (error)
			std::rethrow_exception(error);
	}
};

template <class T> struct task_promise : task_promise_base {
	std::optional<T> value;
	task<T> get_return_object() noexcept;
	template <class U>
	requires std::is_convertible_v<U &&, T>
	void return_value(U &&v) noexcept(std::is_nothrow_constructible_v<T, U &&>) {
		value.emplace(std::forward<U>(v));
	}
	T take() {
		rethrow_if_error();
		return std::move(*value);
	}
};

template <> struct task_promise<void> : task_promise_base {
	task<void> get_return_object() noexcept;
	void return_void() const noexcept {}
	void take() const { rethrow_if_error(); }
};

} // namespace detail

template <class T> class [[nodiscard]] task {
public:
	using promise_type = detail::task_promise<T>;
	using value_type = T;

	task() noexcept = default;
	explicit task(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}
	task(task &&o) noexcept : h_(std::exchange(o.h_, {})) {}
	task &operator=(task &&o) noexcept {
		if (this != &o) {
			if (h_)
				h_.destroy();
			h_ = std::exchange(o.h_, {});
		}
		return *this;
	}
	task(const task &) = delete;
	task &operator=(const task &) = delete;
	~task() {
		if (h_)
			h_.destroy();
	}

	bool valid() const noexcept { return static_cast<bool>(h_); }
	bool done() const noexcept { return h_ && h_.done(); }

	// co_await t: starts t (symmetric transfer) and resumes the awaiter when
	// t finishes, with its value or its exception.
	auto operator co_await() &&noexcept {
		struct awaiter {
			std::coroutine_handle<promise_type> h;
			bool await_ready() const noexcept { return !h || h.done(); }
			std::coroutine_handle<> await_suspend(std::coroutine_handle<> c) noexcept {
				h.promise().continuation = c;
				return h;
			}
			T await_resume() { return h.promise().take(); }
		};
		return awaiter{h_};
	}
	auto operator co_await() &noexcept { return std::move(*this).operator co_await(); }

	// For the layer's own drivers (spawn, sync_wait, when_all).
	std::coroutine_handle<promise_type> handle() const noexcept { return h_; }
	std::coroutine_handle<promise_type> release() noexcept { return std::exchange(h_, {}); }

private:
	std::coroutine_handle<promise_type> h_;
};

namespace detail {
template <class T> task<T> task_promise<T>::get_return_object() noexcept {
	return task<T>(std::coroutine_handle<task_promise<T>>::from_promise(*this));
}
inline task<void> task_promise<void>::get_return_object() noexcept {
	return task<void>(std::coroutine_handle<task_promise<void>>::from_promise(*this));
}
} // namespace detail

} // namespace kevent::coro
