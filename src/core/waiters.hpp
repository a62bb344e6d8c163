// SPDX-License-Identifier: MIT
// waiters — the threads waiting in one queue (kevent_get_events,
// kevent_wait), and who wakes whom. The wait loop itself is the queue's
// (queue_wait.cpp); it moves through the states below.
//
// At most one waiter at a time is the poller: it waits in backend::wait()
// without the queue lock; every other one sleeps on a condition variable.
// The poller role is a small state machine:
//
//             start_polling(false)               stop_polling()
//   none ───────────────────────────> looking ─────────────────> none
//    │        start_polling(true)                stop_polling()
//    └──────────────────────────────> blocked ─────────────────> none
//                                        │ notify_readiness(): backend wake()
//                                        v                stop_polling()
//                                  blocked_woken ──────────────> none
//
// - none: no thread is in the backend; the next waiter that needs the
//   kernel becomes the poller.
// - looking: the poller takes a look that does not block; it is back at
//   once and needs no wake-up.
// - blocked: the poller sleeps in the backend; news for it must go through
//   backend::wake().
// - blocked_woken: ... and one wake() is on its way (one is enough).
//
// Beside the role:
// - count: the threads in the wait loop, the poller included;
// - ready flag: the backend's ready flag (the queue's descriptor polls
//   readable) is up. It is raised only while events wait and no thread in
//   the queue is there to take them — for a poller of the descriptor
//   outside (nesting) — and lowered when the list empties, or when a poller
//   blocks (else its wait would return at once);
// - closed: kevent_close began; every waiter returns EBADF;
// - wake generation: bumped by force_wake() (KEVENT_CTL_READY with num ==
//   0); a waiter that sees it moved since it entered returns 0 events.
//
// Wake one, never all (the 2006 patches woke everyone): news goes to the
// blocked poller through the backend, or else to one sleeper (no system
// call), never both. A poller that leaves hands the role on to a sleeper,
// so a blocked caller always has someone polling for it. Only a forced
// wake-up, kevent_close and a ring with room again wake everyone.
//
// LOCKING: everything but force_wake() runs under the queue lock, which
// every transition asserts (debug builds). force_wake() takes no lock: an
// atomic add and backend::wake(), both async-signal-safe, so it works from
// a signal handler; the poller sees the generation move and wakes the
// sleepers.
#pragma once

#include "backend/backend.hpp"
#include "sys/adaptive_mutex.hpp"
#include "sys/cancel.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace kevent::detail {

class waiters {
public:
	enum class poller : uint8_t { none, looking, blocked, blocked_woken };

	waiters(backend &be, const sys::adaptive_mutex &mu) : be_(be), mu_(mu) {}

	// ---- the queue's lifecycle

	bool closed() const {
		mu_.assert_held();
		return closed_;
	}
	// kevent_close: the poller and every sleeper wake and return EBADF.
	void close() {
		mu_.assert_held();
		if (closed_)
			return;
		closed_ = true;
		be_.wake();
		cv_.notify_all();
	}

	// ---- one thread's wait

	// A thread enters the wait loop. Returns the wake generation it
	// entered in (forced_since).
	uint64_t enter() {
		mu_.assert_held();
		uint64_t gen = wake_gen_.load(std::memory_order_acquire);
		count_++;
		return gen;
	}
	// It leaves (returns, or is cancelled); `was_poller`: it held the role.
	// The queue then announces what is left on its ready list
	// (notify_readiness), and the thread hands the role on (hand_on).
	void leave(bool was_poller) {
		mu_.assert_held();
		if (was_poller)
			role_ = poller::none;
		count_--;
	}
	// Nobody polls but someone sleeps: wake one to become the poller.
	void hand_on() {
		mu_.assert_held();
		if (count_ > 0 && role_ == poller::none)
			cv_.notify_one();
	}
	// force_wake() ran since the waiter entered in generation `gen`.
	bool forced_since(uint64_t gen) const {
		return wake_gen_.load(std::memory_order_acquire) != gen;
	}
	// Threads in the wait loop besides the caller.
	bool others_waiting() const {
		mu_.assert_held();
		return count_ > 1;
	}

	// ---- the poller role

	bool someone_polls() const {
		mu_.assert_held();
		return role_ != poller::none;
	}
	// The caller becomes the poller (role none before), for a wait that
	// blocks or for a look that does not.
	void start_polling(bool block) {
		mu_.assert_held();
		role_ = block ? poller::blocked : poller::looking;
		if (block)
			lower_ready_flag(); // else the wait returns at once
	}
	// The poller is back from the backend, with the lock again.
	void stop_polling() {
		mu_.assert_held();
		role_ = poller::none;
	}

	// ---- waking

	// The poller found events it does not take: one sleeper may.
	void wake_one_sleeper() {
		mu_.assert_held();
		cv_.notify_one();
	}
	// A forced wake-up or kevent_close, seen by the poller: every sleeper
	// returns.
	void wake_all_sleepers() {
		mu_.assert_held();
		cv_.notify_all();
	}
	// What every waiter waits for may have changed (a ring has room
	// again): the sleepers and the poller look again.
	void wake_all() {
		mu_.assert_held();
		if (count_ == 0)
			return;
		cv_.notify_all();
		if (role_ != poller::none)
			be_.wake();
	}

	// Sleep until woken or `remain_ns` passed (-1: no limit) while another
	// thread polls. A cancellation point (sys/cancel.hpp): pthread_cancel
	// unwinds from here, with the lock held again.
	void sleep(std::unique_lock<sys::adaptive_mutex> &lk, int64_t remain_ns) {
		mu_.assert_held();
		sys::cancel_window cw;
		if (remain_ns < 0)
			cv_.wait(lk);
		else
			cv_.wait_for(lk,
				     std::chrono::nanoseconds(std::min(remain_ns, max_sleep_ns)));
	}

	// After every call that may have changed the ready list: events wait
	// (`events_waiting`) or not. Wake one taker — the poller if it is
	// blocked in the backend, else one sleeper — or, when no thread is in
	// the queue to take them, raise the ready flag for a poller of the
	// descriptor outside. No events: lower the flag. `news` false: the
	// events that wait were announced when they came (a READY of kevents
	// already queued), so no taker is woken again.
	void notify_readiness(bool events_waiting, bool news = true) {
		mu_.assert_held();
		if (!events_waiting) {
			lower_ready_flag();
			return;
		}
		if (count_ > 0) {
			if (!news)
				return;
			if (role_ == poller::none) {
				cv_.notify_one();
			} else if (role_ == poller::blocked) {
				be_.wake();
				role_ = poller::blocked_woken;
			}
		} else {
			raise_ready_flag();
		}
	}

	// KEVENT_CTL_READY with num == 0: every waiter returns 0 events. Takes
	// no lock; async-signal-safe.
	void force_wake() noexcept {
		wake_gen_.fetch_add(1, std::memory_order_acq_rel);
		be_.wake();
	}

private:
	// The longest sleep at a time (a wait with a longer timeout goes round
	// the loop again): wait_for adds its timeout to steady_clock::now(),
	// which a saturated timeout (292 years) would overflow.
	static constexpr int64_t max_sleep_ns = int64_t(3600) * 1000000000;

	void raise_ready_flag() {
		if (!ready_flag_) {
			be_.set_ready(true);
			ready_flag_ = true;
		}
	}
	void lower_ready_flag() {
		if (ready_flag_) {
			be_.set_ready(false);
			ready_flag_ = false;
		}
	}

	backend &be_;
	const sys::adaptive_mutex &mu_;
	std::condition_variable_any cv_;
	poller role_ = poller::none;
	bool ready_flag_ = false;
	bool closed_ = false;
	unsigned count_ = 0;
	std::atomic<uint64_t> wake_gen_{0};
};

} // namespace kevent::detail
