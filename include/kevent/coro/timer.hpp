// SPDX-License-Identifier: MIT
// coro/timer.hpp — co_await sleep_for(ctx, d) / sleep_until(ctx, t): one
// ONESHOT KEVENT_TIMER with KEVENT_TIMER_ABSTIME on CLOCK_MONOTONIC (which
// std::chrono::steady_clock is on Linux). The key of a timer is its
// interval (kevent_timer(7)): two sleeps of an equal period would collide
// with EEXIST. For a one-shot ABSTIME timer the interval is not used for
// timing, so every sleep takes a unique interval from its io_context as its
// name (io_context::next_timer_name) and any number of equal sleeps run at
// once. A deadline already passed completes without suspending.
#pragma once

#include <kevent/coro/registration.hpp>

#include <chrono>

namespace kevent::coro {

using sleep_op = detail::registration<void, detail::no_result>;

namespace detail {
inline ukevent sleep_entry(io_context &ctx, std::chrono::steady_clock::time_point t) noexcept {
	auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch());
	if (ns.count() < 0)
		ns = ns.zero();
	ukevent uk = oneshot_entry(KEVENT_TIMER, ctx.next_timer_name().raw_u64,
				   KEVENT_TIMER_FIRED | KEVENT_TIMER_ABSTIME);
	uk.ret_data[0] = static_cast<uint32_t>(ns.count() / 1000000000);
	uk.ret_data[1] = static_cast<uint32_t>(ns.count() % 1000000000);
	return uk;
}
} // namespace detail

inline sleep_op sleep_until(io_context &ctx, std::chrono::steady_clock::time_point t) noexcept {
	return sleep_op(ctx, detail::sleep_entry(ctx, t));
}
inline sleep_op sleep_until(io_context &ctx, std::chrono::steady_clock::time_point t,
			    std::error_code &ec) noexcept {
	return sleep_op(ctx, detail::sleep_entry(ctx, t), ec);
}
template <class Rep, class Period>
sleep_op sleep_for(io_context &ctx, std::chrono::duration<Rep, Period> d) noexcept {
	return sleep_until(ctx, std::chrono::steady_clock::now() +
					std::chrono::ceil<std::chrono::steady_clock::duration>(d));
}
template <class Rep, class Period>
sleep_op sleep_for(io_context &ctx, std::chrono::duration<Rep, Period> d,
		   std::error_code &ec) noexcept {
	return sleep_until(ctx,
			   std::chrono::steady_clock::now() +
				   std::chrono::ceil<std::chrono::steady_clock::duration>(d),
			   ec);
}

} // namespace kevent::coro
