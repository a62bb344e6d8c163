// SPDX-License-Identifier: MIT
// timer_service — the core's "deadline T" service: one timer_heap per clock
// and one backend deadline per clock, armed to the earliest expiry. The
// backend deadline is moved only when the earliest expiry moves *earlier*
// (or has passed): cancelling the first timer costs no syscall, and an early
// wake-up finds nothing due and re-arms.
//
// Used under the queue lock only.
#pragma once

#include "backend/backend.hpp"
#include "core/timer_heap.hpp"

#include <cstdint>

namespace kevent::detail {

class timer_service {
public:
	explicit timer_service(backend &be) : be_(be) {
		for (auto &a : armed_)
			a = INT64_MAX;
	}

	// n->tm.clock, n->tm.expiry and n->tm.interval are set. 0 or -errno.
	int schedule(knode *n);
	void cancel(knode *n);
	size_t size() const;

	// Pop what is due; add the expirations (missed periods counted, not
	// replayed) to ret_data[0], move periodic timers to their next period,
	// and hand each expired knode to fire().
	template <class F> void expire(F &&fire) {
		for (int c = 0; c < clock_count; c++) {
			timer_heap &h = heaps_[c];
			if (h.empty())
				continue;
			int64_t now = now_of(c);
			while (!h.empty() && h.top_expiry() <= now) {
				knode *n = h.top();
				uint64_t count = 1;
				if (n->tm.interval > 0) {
					count += advance(n, now);
					// Fired again before its last expiry was
					// delivered: no deadline until it is
					// (deliver()), or a short period would wake
					// every wait at once, again and again.
					if (n->has(on_ready | add_ready)) {
						n->flags |= timer_held;
						h.hold(n);
					} else {
						h.update(n);
					}
				} else {
					h.erase(n);
				}
				add_count(n->uk.ret_data[0], count);
				fire(n);
			}
			rearm(c, now);
		}
	}

	static int64_t now_of(int clock);

	// A TIMER kevent is being delivered as `out`: a held timer counts the
	// periods that passed since it was held and takes its deadline back.
	void deliver(knode *n, ukevent &out);

	// The clock as of the start of the running kevent_ctl: read once per
	// clock per call, not once per ADD entry (a vDSO clock_gettime was 11%
	// of timer_churn). A batch is atomic, so its timers start together; a
	// caller that read the clock before the call still sees its timer fire
	// no earlier than asked.
	int64_t batch_now(int clock) {
		if (batch_now_[clock] == 0)
			batch_now_[clock] = now_of(clock);
		return batch_now_[clock];
	}
	// kevent_ctl begins and ends: forget the batch's clock readings.
	void new_batch() {
		for (auto &t : batch_now_)
			t = 0;
	}

private:
	void rearm(int c, int64_t now);
	// Arm the backend for a new earliest expiry of clock c.
	int arm_if_earlier(int c, int64_t expiry);

	// n->tm.expiry <= now: move it to the first period after now; how many
	// more periods than the one due have passed.
	static uint64_t advance(knode *n, int64_t now) {
		uint64_t missed = uint64_t(now - n->tm.expiry) / uint64_t(n->tm.interval);
		n->tm.expiry += int64_t(missed + 1) * n->tm.interval;
		return missed;
	}
	static void add_count(uint32_t &to, uint64_t count) {
		uint64_t sum = to + count;
		to = sum > UINT32_MAX ? UINT32_MAX : uint32_t(sum);
	}

	backend &be_;
	timer_heap heaps_[clock_count];
	int64_t armed_[clock_count];          // deadline the backend holds; INT64_MAX: none
	int64_t batch_now_[clock_count] = {}; // 0: not read in this batch
};

} // namespace kevent::detail
