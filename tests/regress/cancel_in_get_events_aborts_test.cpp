// SPDX-License-Identifier: MIT
// cancel_in_get_events_aborts_test — found testing from the man pages alone
// (issue 14, item 2).
//
// Bug: pthread_cancel of a thread blocked in kevent_get_events could end the
// process ("terminate called without an active exception"): every run of a
// Debug/ASan build, about one in 40 otherwise. The waiter, woken by READY
// entries it could not yet take (min_nr 5, three ready), went round its loop
// and cleared the queue's ready flag with read(2) — a cancellation point —
// inside a noexcept helper; the cancellation acting there unwound through
// noexcept. Any other cancellation point between the waits (poll(2) of a
// LAST_CHECK, write(2) of a wake-up) could unwind out of half-done work and
// lose an event taken off the ready list.
//
// Fix: every C entry point runs with cancellation disabled; the wait opens a
// window with the caller's state around its two blocking waits only
// (src/sys/cancel.hpp); the eventfd helpers use raw syscalls.
// kevent_get_events(3): a cancelled waiter loses no event.
#include "kevent_test.hpp"

#include <pthread.h>

#include <atomic>

using kevent_test::make;

namespace {

struct waiter_args {
	int kfd;
	std::atomic<bool> started{false};
};

void *wait_forever(void *p) {
	auto *a = static_cast<waiter_args *>(p);
	ukevent buf[16];
	a->started = true;
	kevent_get_events(a->kfd, 5, 16, nullptr, buf, 0);
	return nullptr; // never: only the cancellation ends it
}

} // namespace

class CancelInGetEvents : public kevent_test::QueueTest {};

TEST_P(CancelInGetEvents, CancelledWaiterNeitherAbortsNorLosesEvents) {
	for (int round = 0; round < 200; round++) {
		ukevent uk[3];
		for (int i = 0; i < 3; i++)
			uk[i] = make(KEVENT_UNOTIFY, uint64_t(round) * 8 + uint64_t(i), 1,
				     KEVENT_REQ_ONESHOT, uint64_t(i));
		ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 3, uk));
		waiter_args a{kfd};
		pthread_t t;
		ASSERT_EQ(0, pthread_create(&t, nullptr, wait_forever, &a));
		while (!a.started)
			sched_yield();
		// Ready, but fewer than the waiter's min_nr: it wakes, looks,
		// and goes back to waiting — the cancellation may come anywhere
		// in between.
		ASSERT_EQ(3, kevent_ctl(kfd, KEVENT_CTL_READY, 3, uk));
		if (round % 2)
			sched_yield();
		ASSERT_EQ(0, pthread_cancel(t));
		void *res = nullptr;
		ASSERT_EQ(0, pthread_join(t, &res));
		EXPECT_EQ(PTHREAD_CANCELED, res);
		auto ev = kevent_test::get(kfd, 0, 16, 0);
		ASSERT_EQ(3u, ev.size())
			<< "round " << round << ": the cancelled waiter lost events";
		for (const ukevent &e : ev)
			EXPECT_EQ(unsigned(KEVENT_RET_DONE), e.ret_flags);
	}
}

KEVENT_INSTANTIATE_BACKENDS(CancelInGetEvents);
