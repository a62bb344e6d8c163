// SPDX-License-Identifier: MIT
// huge_timeout_overflows_test — found testing from the man pages alone
// (issue 14, item 7).
//
// Bug: a timeout of {LONG_MAX, 999999999} or {LONG_MAX, 0} returned 0 at
// once, and {18446744074, 0} after 0.29 s: to_ns() multiplied tv_sec by 1e9
// in int64_t (signed overflow, flagged by UBSan) and the deadline wrapped
// into the past or the near future. kevent_get_events(3): any tv_sec >= 0
// with tv_nsec in [0, 1e9) is a valid timeout.
//
// Fix: to_ns saturates at INT64_MAX (src/sys/clock.hpp), and the condition
// variable wait takes at most an hour at a time (steady_clock::now() + 292
// years would overflow in wait_for).
#include "kevent_test.hpp"

#include <climits>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace {

struct waiter {
	int kfd;
	timespec ts;
	unsigned flags;
	bool ring;
	std::atomic<int> result{-2};
};

void *run(void *p) {
	auto *w = static_cast<waiter *>(p);
	if (w->ring) {
		w->result = kevent_wait(w->kfd, 1, 0, &w->ts, w->flags);
	} else {
		ukevent buf[4];
		w->result = kevent_get_events(w->kfd, 1, 4, &w->ts, buf, w->flags);
	}
	return nullptr;
}

// A waiter with this timeout is still blocked after 300 ms, then returns 0
// when woken with READY of no entries.
void expect_blocks(int kfd, timespec ts, unsigned flags, bool ring = false) {
	waiter w{kfd, ts, flags, ring};
	pthread_t t;
	ASSERT_EQ(0, pthread_create(&t, nullptr, run, &w));
	std::this_thread::sleep_for(std::chrono::milliseconds(300));
	EXPECT_EQ(-2, w.result.load()) << "a wait of {" << ts.tv_sec << ", " << ts.tv_nsec
				       << "} (flags " << flags << ") returned early";
	// The sleeping waiter may have been the poller or on the cv: wake
	// until it is out.
	for (int i = 0; i < 100 && w.result.load() == -2; i++) {
		ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_READY, 0, nullptr));
		std::this_thread::sleep_for(std::chrono::milliseconds(10));
	}
	pthread_join(t, nullptr);
	EXPECT_EQ(0, w.result.load());
}

} // namespace

class HugeTimeout : public kevent_test::QueueTest {};

TEST_P(HugeTimeout, HugeRelativeTimeoutsWaitRatherThanWrap) {
	expect_blocks(kfd, {LONG_MAX, 999999999}, 0);
	expect_blocks(kfd, {LONG_MAX, 0}, 0);
	expect_blocks(kfd, {18446744074, 0}, 0); // 2^64 ns and a little more
	expect_blocks(kfd, {INT64_MAX / 1000000000, 999999999}, 0);
}

TEST_P(HugeTimeout, HugeAbsoluteDeadlinesWaitRatherThanWrap) {
	expect_blocks(kfd, {LONG_MAX, 999999999}, KEVENT_FLAGS_ABSTIME);
	expect_blocks(kfd, {18446744074, 0}, KEVENT_FLAGS_ABSTIME);
}

TEST_P(HugeTimeout, TwoWaitersOneOnTheConditionVariable) {
	// The second waiter is not the poller: it sleeps on the queue's
	// condition variable with the huge timeout.
	waiter a{kfd, {LONG_MAX, 0}, 0, false};
	pthread_t ta;
	ASSERT_EQ(0, pthread_create(&ta, nullptr, run, &a));
	expect_blocks(kfd, {LONG_MAX, 999999999}, 0);
	for (int i = 0; i < 100 && a.result.load() == -2; i++) {
		ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_READY, 0, nullptr));
		std::this_thread::sleep_for(std::chrono::milliseconds(10));
	}
	pthread_join(ta, nullptr);
	EXPECT_EQ(0, a.result.load());
}

TEST_P(HugeTimeout, RingWaitWithHugeTimeout) {
	ASSERT_EQ(0, kevent_close(kfd));
	std::vector<uint64_t> mem((sizeof(kevent_ring) + 8 * sizeof(ukevent)) / 8 + 1);
	kfd = kevent_init(reinterpret_cast<kevent_ring *>(mem.data()), 8, GetParam().flags);
	ASSERT_GE(kfd, 0);
	expect_blocks(kfd, {LONG_MAX, 999999999}, 0, true);
}

KEVENT_INSTANTIATE_BACKENDS(HugeTimeout);
