// SPDX-License-Identifier: MIT
// coro/timeout.hpp — co_await with_timeout(ctx, op, d): runs op (an
// awaitable of this layer, or a callable taking a std::stop_token and
// returning a task) and a sleep of d at once; whichever finishes first
// cancels the other. The result is op's, or std::errc::timed_out
// (thrown as std::system_error) when the sleep won and op ended cancelled.
// A with_timeout is a task: it allocates one coroutine frame.
#pragma once

#include <kevent/coro/task.hpp>
#include <kevent/coro/timer.hpp>
#include <kevent/coro/when.hpp>

#include <chrono>
#include <concepts>
#include <stop_token>
#include <system_error>
#include <type_traits>
#include <utility>

namespace kevent::coro {

namespace detail {
template <class Op>
task<std::remove_cvref_t<decltype(std::declval<Op &&>().await_resume())>>
await_with_token(Op op, std::stop_token tok) {
	co_return co_await std::move(op).stop_on(std::move(tok));
}
} // namespace detail

template <class Op, class Rep, class Period>
auto with_timeout(io_context &ctx, Op op, std::chrono::duration<Rep, Period> d) {
	if constexpr (std::is_invocable_v<Op &, std::stop_token>) {
		using T = typename std::invoke_result_t<Op &, std::stop_token>::value_type;
		return [](io_context &c, Op f, std::chrono::steady_clock::time_point until)
			       -> task<T> {
			auto r = co_await when_any(
				std::move(f), [&c, until](std::stop_token t) -> task<void> {
					co_await sleep_until(c, until).stop_on(std::move(t));
				});
			if (r.index() == 1)
				throw std::system_error(std::make_error_code(std::errc::timed_out));
			if constexpr (!std::is_void_v<T>)
				co_return std::move(std::get<0>(r));
		}(ctx, std::move(op),
			       std::chrono::steady_clock::now() +
				       std::chrono::ceil<std::chrono::steady_clock::duration>(d));
	} else {
		auto f = [o = std::move(op)](std::stop_token t) mutable {
			return detail::await_with_token(std::move(o), std::move(t));
		};
		return with_timeout(ctx, std::move(f), d);
	}
}

} // namespace kevent::coro
