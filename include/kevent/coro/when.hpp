// SPDX-License-Identifier: MIT
// coro/when.hpp — running tasks concurrently inside one coroutine:
//   co_await when_all(t1, t2, ...)  starts every task and resumes when all
//       have finished: a tuple of their values (void: std::monostate); the
//       first exception (in argument order) is rethrown after all finished.
//   co_await when_any(f1, f2, ...)  each fi is called with a std::stop_token
//       and returns a task; the first to finish wins, the others are asked to
//       stop (their awaitables REMOVE their kevents) and are waited for;
//       returns a std::variant whose index() is the winner's position,
//       holding its value (its exception is rethrown).
// The children start on the awaiting thread, one after another, and may
// finish on any runner; the last to finish resumes the parent.
#pragma once

#include <kevent/coro/spawn.hpp>
#include <kevent/coro/task.hpp>

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <optional>
#include <stop_token>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

namespace kevent::coro {

namespace detail {

template <class T> using non_void = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

struct join_state {
	std::atomic<size_t> count;
	std::coroutine_handle<> parent;
	std::atomic<size_t> first{SIZE_MAX};
	std::stop_source *stop = nullptr; // when_any: ask the others to stop
};

// One child: runs its task, stores the outcome, and the last child to end
// resumes the parent.
struct join_child {
	struct promise_type {
		join_state *st = nullptr;
		join_child get_return_object() noexcept {
			return {std::coroutine_handle<promise_type>::from_promise(*this)};
		}
		std::suspend_always initial_suspend() const noexcept { return {}; }
		struct last {
			bool await_ready() const noexcept { return false; }
			std::coroutine_handle<>
			await_suspend(std::coroutine_handle<promise_type> h) const noexcept {
				join_state *st = h.promise().st;
				if (st->count.fetch_sub(1, std::memory_order_acq_rel) == 1)
					return st->parent;
				return std::noop_coroutine();
			}
			void await_resume() const noexcept {}
		};
		last final_suspend() const noexcept { return {}; }
		void return_void() const noexcept {}
		void unhandled_exception() const noexcept { std::terminate(); }
	};
	std::coroutine_handle<promise_type> h;
};

template <class T> join_child run_child(join_state &st, size_t index, task<T> t, outcome<T> &out) {
	try {
		if constexpr (std::is_void_v<T>)
			co_await std::move(t);
		else
			out.value.emplace(co_await std::move(t));
	} catch (...) {
		out.error = std::current_exception();
	}
	size_t none = SIZE_MAX;
	if (st.first.compare_exchange_strong(none, index, std::memory_order_acq_rel) && st.stop)
		st.stop->request_stop();
}

template <class... T> struct join_awaiter {
	join_state st;
	std::tuple<task<T>...> tasks;
	std::tuple<outcome<T>...> outs;
	join_child children[sizeof...(T)];

	join_awaiter(std::stop_source *stop, task<T>... ts) : tasks(std::move(ts)...) {
		st.count.store(sizeof...(T) + 1, std::memory_order_relaxed);
		st.stop = stop;
	}
	join_awaiter(const join_awaiter &) = delete;
	~join_awaiter() {
		for (auto &c : children)
			if (c.h)
				c.h.destroy();
	}

	bool await_ready() const noexcept { return false; }
	bool await_suspend(std::coroutine_handle<> parent) {
		st.parent = parent;
		make(std::index_sequence_for<T...>{});
		for (auto &c : children) {
			c.h.promise().st = &st;
			c.h.resume();
		}
		// Our own count: the children that finished at once did not resume
		// the parent.
		return st.count.fetch_sub(1, std::memory_order_acq_rel) != 1;
	}
	void await_resume() const noexcept {}

private:
	template <size_t... I> void make(std::index_sequence<I...>) {
		((children[I] = run_child(st, I, std::move(std::get<I>(tasks)), std::get<I>(outs))),
		 ...);
	}
};

template <class T> non_void<T> take_value(outcome<T> &o) {
	if constexpr (std::is_void_v<T>)
		return {};
	else
		return std::move(*o.value);
}

} // namespace detail

template <class... T> task<std::tuple<detail::non_void<T>...>> when_all(task<T>... ts) {
	detail::join_awaiter<T...> j(nullptr, std::move(ts)...);
	co_await j;
	std::apply([](auto &...o) { ((o.error ? std::rethrow_exception(o.error) : void()), ...); },
		   j.outs);
	co_return std::apply(
		[](auto &...o) {
			return std::tuple<detail::non_void<T>...>(detail::take_value(o)...);
		},
		j.outs);
}

template <class... F>
task<std::variant<detail::non_void<typename std::invoke_result_t<F, std::stop_token>::value_type>...>>
when_any(F... fns) {
	using result = std::variant<
		detail::non_void<typename std::invoke_result_t<F, std::stop_token>::value_type>...>;
	std::stop_source stop;
	detail::join_awaiter<typename std::invoke_result_t<F, std::stop_token>::value_type...> j(
		&stop, fns(stop.get_token())...);
	co_await j;
	size_t w = j.st.first.load(std::memory_order_acquire);
	std::optional<result> r;
	auto pick = [&]<size_t I>(std::integral_constant<size_t, I>) {
		if (I != w)
			return;
		auto &o = std::get<I>(j.outs);
		if (o.error)
			std::rethrow_exception(o.error);
		r.emplace(std::in_place_index<I>, detail::take_value(o));
	};
	[&]<size_t... I>(std::index_sequence<I...>) {
		(pick(std::integral_constant<size_t, I>{}), ...);
	}
	(std::index_sequence_for<F...>{});
	co_return std::move(*r);
}

} // namespace kevent::coro
