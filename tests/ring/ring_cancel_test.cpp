// SPDX-License-Identifier: MIT
// ring_cancel_test.cpp — a thread cancelled (pthread_cancel) while blocked in
// kevent_wait(3) loses no event (docs/semantics.md "Threads"): as the poller,
// as a second waiter on the condition variable, and on a full ring.
#include "ring_fixture.hpp"

#include <pthread.h>

#include <atomic>
#include <ctime>
#include <thread>

namespace {

using namespace kevent_ring_test;

// ---- cancellation -----------------------------------------------------------

struct cancel_arg {
	int kfd;
	unsigned num, old_uidx;
	std::atomic<bool> entered{false};
	std::atomic<bool> returned{false};
	int result = -2;
};

void *blocked_waiter(void *p) {
	auto *a = static_cast<cancel_arg *>(p);
	a->entered = true;
	a->result = kevent_wait(a->kfd, a->num, a->old_uidx, nullptr, 0);
	a->returned = true; // only if the wait returned instead of being cancelled
	return nullptr;
}

// Cancels a thread blocked in kevent_wait; fails the test (and gets it out
// with a forced wake-up) if it was not cancelled within 3 s.
void cancel_and_join(pthread_t t, cancel_arg &a, int kfd) {
	ASSERT_EQ(0, pthread_cancel(t));
	timespec dl{};
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 3;
	void *res = nullptr;
	int j = pthread_timedjoin_np(t, &res, &dl);
	if (j == ETIMEDOUT) {
		ADD_FAILURE() << "a thread blocked in kevent_wait was not cancelled within 3 s "
				 "(no cancellation point under the wait?)";
		kevent_ctl(kfd, KEVENT_CTL_READY, 0, nullptr);
		j = pthread_join(t, &res);
	}
	ASSERT_EQ(0, j);
	EXPECT_EQ(PTHREAD_CANCELED, res);
	EXPECT_FALSE(a.returned.load()) << "kevent_wait returned " << a.result;
}

void start_waiter(pthread_t &t, cancel_arg &a) {
	ASSERT_EQ(0, pthread_create(&t, nullptr, blocked_waiter, &a));
	while (!a.entered)
		std::this_thread::yield();
	std::this_thread::sleep_for(milliseconds(150)); // let it block
}

// The poller: the only thread blocked in kevent_wait, with room and nothing
// ready, sits in the backend wait.
TEST_P(RingTest, CancelledWaiterLosesNoEvent) {
	use_ring(8);
	add_users(4);
	cancel_arg a;
	a.kfd = kfd;
	a.num = 8;
	a.old_uidx = 0;
	pthread_t t;
	ASSERT_NO_FATAL_FAILURE(start_waiter(t, a));
	EXPECT_NO_FATAL_FAILURE(cancel_and_join(t, a, kfd));
	for (unsigned i = 0; i < 4; i++)
		ready(i + 1, i);
	ASSERT_EQ(4, rwait(8, 0, 0)) << std::strerror(errno);
	for (unsigned i = 0; i < 4; i++)
		EXPECT_EQ(i, slot(i).ret_data[0]);

	// The queue still works for another thread.
	std::atomic<int> r{-2};
	std::thread other([&] { r = rwait(4, 0, 5000); });
	std::this_thread::sleep_for(milliseconds(100));
	ready(1, 4);
	other.join();
	EXPECT_EQ(1, r.load());
	EXPECT_EQ(5u, kidx());
	EXPECT_EQ(4u, slot(4).ret_data[0]);
}

// A second waiter sleeps on the queue's condition variable while the first
// polls: cancel the second; the first still gets every event.
TEST_P(RingTest, CancelledSecondWaiterLosesNoEvent) {
	use_ring(8);
	add_users(4);
	std::atomic<int> r{-2};
	std::thread first([&] { r = rwait(8, 0, 5000); });
	std::this_thread::sleep_for(milliseconds(100));
	cancel_arg b;
	b.kfd = kfd;
	b.num = 8;
	b.old_uidx = 0;
	pthread_t t;
	ASSERT_NO_FATAL_FAILURE(start_waiter(t, b));
	EXPECT_NO_FATAL_FAILURE(cancel_and_join(t, b, kfd));
	for (unsigned i = 0; i < 4; i++)
		ready(i + 1, i);
	first.join();
	int got = r.load();
	ASSERT_GE(got, 1);
	if (got < 4) { // the rest by a later kevent_wait
		ASSERT_EQ(4 - got, rwait(8, 0, 0));
	}
	EXPECT_EQ(4u, kidx());
	for (unsigned i = 0; i < 4; i++)
		EXPECT_EQ(i, slot(i).ret_data[0]);
	EXPECT_EQ(0u, queue_stats(kfd).ready);
}

TEST_P(RingTest, CancelledWaiterOnAFullRingLosesNoEvent) {
	use_ring(2);
	add_users(3);
	for (unsigned i = 0; i < 3; i++)
		ready(i + 1, i);
	ASSERT_EQ(2, rwait(2, 0, 0)); // full, one ready left
	cancel_arg a;
	a.kfd = kfd;
	a.num = 2;
	a.old_uidx = 0;
	pthread_t t;
	ASSERT_NO_FATAL_FAILURE(start_waiter(t, a));
	ASSERT_NO_FATAL_FAILURE(cancel_and_join(t, a, kfd));
	EXPECT_EQ(1u, queue_stats(kfd).ready);
	ASSERT_EQ(1, kevent_commit(kfd, 1, 0));
	ASSERT_EQ(1, kevent_commit(kfd, 0, 0)); // whole ring released, over 1
	ASSERT_EQ(1, rwait(2, 0, 0));
	EXPECT_EQ(2u, slot(0).ret_data[0]);
	EXPECT_EQ(1u, kidx());
}

KEVENT_INSTANTIATE_BACKENDS(RingTest);

} // namespace
