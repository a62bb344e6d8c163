// SPDX-License-Identifier: MIT
#include "core/timer_service.hpp"

#include "sys/clock.hpp"

namespace kevent::detail {

namespace {
constexpr clockid_t clock_ids[clock_count] = {CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME};
}

int64_t timer_service::now_of(int clock) { return sys::now_ns(clock_ids[clock]); }

int timer_service::schedule(knode *n) {
	int c = static_cast<int>(n->tm.clock);
	heaps_[c].insert(n);
	if (int r = arm_if_earlier(c, n->tm.expiry); r < 0) {
		heaps_[c].erase(n);
		return r;
	}
	return 0;
}

int timer_service::arm_if_earlier(int c, int64_t expiry) {
	if (expiry >= armed_[c])
		return 0;
	int r = be_.arm_deadline(static_cast<clock_kind>(c), expiry);
	if (r == 0)
		armed_[c] = expiry;
	return r;
}

void timer_service::deliver(knode *n, ukevent &out) {
	if (!n->has(timer_held))
		return;
	n->flags &= ~timer_held;
	int c = static_cast<int>(n->tm.clock);
	int64_t now = now_of(c);
	if (n->tm.expiry <= now)
		add_count(out.ret_data[0], 1 + advance(n, now));
	heaps_[c].update(n);
	// On failure armed_ stays as it was and the next schedule() or expiry
	// retries (as rearm does).
	arm_if_earlier(c, n->tm.expiry);
}

void timer_service::cancel(knode *n) { heaps_[static_cast<int>(n->tm.clock)].erase(n); }

size_t timer_service::size() const {
	size_t s = 0;
	for (auto &h : heaps_)
		s += h.size();
	return s;
}

void timer_service::rearm(int c, int64_t now) {
	if (armed_[c] <= now)
		armed_[c] = INT64_MAX; // it has fired
	if (heaps_[c].empty())
		return;
	int64_t next = heaps_[c].top_expiry();
	if (next == INT64_MAX)
		return; // only held timers: no deadline
	// On failure armed_ stays INT64_MAX and the next schedule() retries.
	arm_if_earlier(c, next);
}

} // namespace kevent::detail
