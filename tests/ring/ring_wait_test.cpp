// SPDX-License-Identifier: MIT
// ring_wait_test.cpp — the ring rules of kevent_init(3) and kevent_wait(3):
// argument checks, FIFO moves into the ring, ONESHOT, the room left capping a
// move, stale views, timeouts, forced wake-ups, close, and a wait on a full
// ring that a commit from another thread ends.
#include "ring_fixture.hpp"

#include <kevent/kevent.h>

#include <fcntl.h>
#include <poll.h>

#include <atomic>
#include <climits>
#include <thread>

namespace {

using namespace kevent_ring_test;

// ---- kevent_init ------------------------------------------------------------

TEST_P(RingTest, InitRingRules) {
	unsigned f = GetParam().flags;
	ring_mem m(4);
	EXPECT_ERRNO(EINVAL, kevent_init(m.get(), 0, f)); // ring without size
	EXPECT_ERRNO(EINVAL, kevent_init(nullptr, 4, f)); // size without ring
	EXPECT_ERRNO(EINVAL, kevent_init(m.get(), 1, f)); // size 1
	EXPECT_ERRNO(EINVAL, kevent_init(nullptr, 1, f));
	EXPECT_ERRNO(EINVAL, kevent_init(m.get(), 4, f | 0x100u)); // unknown flag
	// A shared ring: the library's memory, so no ring and a size >= 2.
	EXPECT_ERRNO(EINVAL, kevent_init(m.get(), 4, f | KEVENT_INIT_SHARED_RING));
	EXPECT_ERRNO(EINVAL, kevent_init(nullptr, 0, f | KEVENT_INIT_SHARED_RING));
	EXPECT_ERRNO(EINVAL, kevent_init(nullptr, 1, f | KEVENT_INIT_SHARED_RING));

	// Both indexes start at 0: kevent_init writes the header.
	ASSERT_EQ(~0u, m.get()->ring_kidx);
	int k = kevent_init(m.get(), 2, f);
	ASSERT_GE(k, 0) << std::strerror(errno);
	EXPECT_EQ(0u, load(m.get()->ring_kidx));
	EXPECT_EQ(0u, load(m.get()->ring_over));
	EXPECT_EQ(0, kevent_close(k));

	k = kevent_init(nullptr, 2, f | KEVENT_INIT_SHARED_RING);
	ASSERT_GE(k, 0) << std::strerror(errno);
	EXPECT_EQ(0, kevent_close(k));
}

// ---- kevent_wait ------------------------------------------------------------

TEST_P(RingTest, WaitArgumentRules) {
	timespec zero{};
	EXPECT_ERRNO(EINVAL, kevent_wait(kfd, 1, 0, &zero, 0)); // no ring
	use_ring(4);
	EXPECT_ERRNO(EINVAL, kevent_wait(kfd, 0, 0, &zero, 0)); // num 0
	EXPECT_ERRNO(EINVAL, kevent_wait(kfd, 5, 0, &zero, 0)); // num > size
	EXPECT_ERRNO(EINVAL, kevent_wait(kfd, UINT_MAX, 0, &zero, 0));
	EXPECT_EQ(0, kevent_wait(kfd, 4, 0, &zero, 0)); // num == size
	timespec bad{0, 1000000000L};
	EXPECT_ERRNO(EINVAL, kevent_wait(kfd, 1, 0, &bad, 0));
	bad = {-1, 0};
	EXPECT_ERRNO(EINVAL, kevent_wait(kfd, 1, 0, &bad, 0));
	bad = {0, -1};
	EXPECT_ERRNO(EINVAL, kevent_wait(kfd, 1, 0, &bad, 0));
	EXPECT_ERRNO(EINVAL, kevent_wait(kfd, 1, 0, &zero, 0x8u)); // unknown flag
	EXPECT_ERRNO(EBADF, kevent_wait(-1, 1, 0, &zero, 0));
	int p[2];
	ASSERT_EQ(0, pipe(p));
	EXPECT_ERRNO(EINVAL, kevent_wait(p[0], 1, 0, &zero, 0)); // not a kevent fd
	close(p[0]);
	close(p[1]);
	EXPECT_EQ(0u, kidx());
}

TEST_P(RingTest, WaitMovesReadyEventsInFifoOrder) {
	use_ring(8);
	add_users(5);
	for (unsigned i = 0; i < 5; i++)
		ready(5 - i, 100 + i); // ids 5,4,3,2,1
	ASSERT_EQ(5, rwait(8, 0, 0));
	EXPECT_EQ(5u, kidx());
	EXPECT_EQ(0u, over());
	for (unsigned i = 0; i < 5; i++) {
		EXPECT_EQ(5 - i, slot(i).id.raw_u64);
		EXPECT_EQ(uint32_t(KEVENT_UNOTIFY), slot(i).type);
		EXPECT_EQ(100 + i, slot(i).ret_data[0]);
		EXPECT_EQ(5 - i, cookie_of(slot(i)));
		EXPECT_EQ(0u, slot(i).ret_flags);
	}
	EXPECT_EQ(0u, queue_stats(kfd).ready);
	EXPECT_EQ(5u, queue_stats(kfd).registered); // default mode: still there

	// num caps the move.
	ready(1, 7);
	ready(2, 8);
	ASSERT_EQ(1, rwait(1, 0, 0));
	EXPECT_EQ(6u, kidx());
	EXPECT_EQ(7u, slot(5).ret_data[0]);
	EXPECT_EQ(1u, queue_stats(kfd).ready);
}

// KEVENT_FLAGS_ALL_READY (kevent_wait(3), kevent_get_events(3)
// "Fairness"): the wait asks the kernel although a user event is on the
// ready list, and moves the pipe's event beside it; without the flag the
// first wait moves the list alone.
TEST_P(RingTest, AllReadyFlagMovesADescriptorBesideAUserEvent) {
	use_ring(8);
	add_users(1);
	int p[2];
	ASSERT_EQ(0, ::pipe2(p, O_CLOEXEC | O_NONBLOCK)) << std::strerror(errno);
	ukevent pe = make(KEVENT_POLL, uint64_t(p[0]), POLLIN, KEVENT_REQ_ET, 77);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &pe));
	ready(1, 5);
	ASSERT_EQ(1, ::write(p[1], "x", 1));
	ASSERT_EQ(1, rwait(8, 0, 0)) << "the shortcut this flag turns off was not taken";
	ASSERT_EQ(1, ::write(p[1], "y", 1));
	ready(1, 6);
	timespec zero{0, 0};
	ASSERT_EQ(2, kevent_wait(kfd, 8, 0, &zero, KEVENT_FLAGS_ALL_READY)) << std::strerror(errno);
	EXPECT_EQ(3u, kidx());
	::close(p[0]);
	::close(p[1]);
}

TEST_P(RingTest, OneshotIsRemovedWhenMovedIntoTheRing) {
	use_ring(4);
	add_users(1, KEVENT_REQ_ONESHOT);
	ready(1, 9);
	ASSERT_EQ(1, rwait(4, 0, 0));
	EXPECT_TRUE(slot(0).ret_flags & KEVENT_RET_DONE);
	EXPECT_EQ(0u, queue_stats(kfd).registered);
	ukevent uk = make(KEVENT_UNOTIFY, 1, 0);
	EXPECT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_READY, 1, &uk)); // gone
}

TEST_P(RingTest, RoomCapsTheMoveAndAFullRingTakesTwoCommits) {
	use_ring(4);
	add_users(6);
	for (unsigned i = 0; i < 6; i++)
		ready(i + 1, i);
	ASSERT_EQ(4, rwait(4, 0, 0));
	EXPECT_EQ(0u, kidx()); // all four slots used: kidx == uidx, full
	// Full: no room, so kevent_wait waits (and times out) with 2 ready.
	auto t0 = steady_clock::now();
	EXPECT_EQ(0, rwait(4, 0, 100));
	EXPECT_GE(ms_since(t0), 90);
	EXPECT_EQ(2u, queue_stats(kfd).ready);
	// new_uidx == uidx releases nothing (kevent_commit(3): equal -> 0), even when full.
	EXPECT_EQ(0, kevent_commit(kfd, 0, 0));
	EXPECT_EQ(0, rwait(4, 0, 0));
	// So a full ring is released in two commits.
	EXPECT_EQ(3, kevent_commit(kfd, 3, 0));
	ASSERT_EQ(2, rwait(4, 3, 0)); // room 3, 2 ready
	EXPECT_EQ(2u, kidx());
	EXPECT_EQ(4u, slot(0).ret_data[0]);
	EXPECT_EQ(5u, slot(1).ret_data[0]);
	EXPECT_EQ(0u, over());
	EXPECT_EQ(1, kevent_commit(kfd, 0, 0)); // wraps: releases slot 3
	EXPECT_EQ(1u, over());
	EXPECT_EQ(2, kevent_commit(kfd, 2, 1));
	EXPECT_EQ(0u, queue_stats(kfd).ready);
}

TEST_P(RingTest, StaleViewReturnsAtOnceAndMovesNothing) {
	use_ring(4);
	add_users(3);
	ready(1, 0);
	ASSERT_EQ(1, rwait(4, 0, 0));
	ASSERT_EQ(1, kevent_commit(kfd, 1, 0)); // uidx 1
	ready(2, 1);
	ready(3, 2);
	for (unsigned stale : {0u, 2u, 3u, 4u, UINT_MAX}) {
		auto t0 = steady_clock::now();
		EXPECT_EQ(0, rwait(4, stale, -1)) << stale; // no timeout, yet at once
		EXPECT_LT(ms_since(t0), 500);
		EXPECT_EQ(1u, kidx());
		EXPECT_EQ(2u, queue_stats(kfd).ready);
	}
	ASSERT_EQ(2, rwait(4, 1, 0));
	EXPECT_EQ(3u, kidx());
}

TEST_P(RingTest, TimeoutReturnsZero) {
	use_ring(4);
	auto t0 = steady_clock::now();
	EXPECT_EQ(0, rwait(4, 0, 100));
	EXPECT_GE(ms_since(t0), 90);
	timespec abs{};
	clock_gettime(CLOCK_MONOTONIC, &abs);
	abs.tv_nsec += 100000000L;
	if (abs.tv_nsec >= 1000000000L) {
		abs.tv_sec++;
		abs.tv_nsec -= 1000000000L;
	}
	t0 = steady_clock::now();
	EXPECT_EQ(0, kevent_wait(kfd, 4, 0, &abs, KEVENT_FLAGS_ABSTIME));
	EXPECT_GE(ms_since(t0), 90);
}

TEST_P(RingTest, ForcedWakeupReturnsZero) {
	use_ring(4);
	std::atomic<int> r{-2};
	std::thread t([&] { r = rwait(4, 0, -1); });
	std::this_thread::sleep_for(milliseconds(100));
	EXPECT_EQ(-2, r.load());
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_READY, 0, nullptr));
	t.join();
	EXPECT_EQ(0, r.load());
}

TEST_P(RingTest, CloseWakesAWaiterWithEbadf) {
	use_ring(4);
	std::atomic<int> r{-2}, e{0};
	std::thread t([&] {
		int n = rwait(4, 0, -1);
		e = errno;
		r = n;
	});
	std::this_thread::sleep_for(milliseconds(100));
	ASSERT_EQ(0, kevent_close(kfd));
	kfd = -1;
	t.join();
	EXPECT_EQ(-1, r.load());
	EXPECT_EQ(EBADF, e.load());
}

TEST_P(RingTest, FullRingWaitBlocksUntilACommitMakesRoom) {
	use_ring(4);
	add_users(7);
	for (unsigned i = 0; i < 7; i++)
		ready(i + 1, i);
	ASSERT_EQ(4, rwait(4, 0, 0)); // full, 3 still ready
	std::atomic<int> r{-2};
	std::thread t([&] { r = rwait(4, 0, -1); });
	std::this_thread::sleep_for(milliseconds(150));
	EXPECT_EQ(-2, r.load()) << "kevent_wait returned with the ring full";
	auto t0 = steady_clock::now();
	ASSERT_EQ(2, kevent_commit(kfd, 2, 0));
	t.join();
	EXPECT_LT(ms_since(t0), 2000);
	// The commit moved uidx: the waiter's view (old_uidx 0) is stale, so it
	// returns 0 and moves nothing; the next wait with uidx 2 fills.
	EXPECT_EQ(0, r.load());
	EXPECT_EQ(0u, kidx());
	ASSERT_EQ(2, rwait(4, 2, 0));
	EXPECT_EQ(2u, kidx());
	EXPECT_EQ(4u, slot(0).ret_data[0]);
	EXPECT_EQ(5u, slot(1).ret_data[0]);
	EXPECT_EQ(1u, queue_stats(kfd).ready);

	// A waiter blocked on a full ring with the *current* uidx: a commit
	// from another thread wakes it (stale now) and a retry fills.
	std::atomic<int> got{0};
	std::thread t2([&] {
		unsigned u = 2;
		for (int tries = 0; tries < 100 && got == 0; tries++) {
			int n = rwait(4, u, 2000);
			if (n > 0)
				got = n;
			u = 3; // after the commit below
		}
	});
	std::this_thread::sleep_for(milliseconds(100));
	EXPECT_EQ(0, got.load());
	ASSERT_EQ(1, kevent_commit(kfd, 3, 0));
	t2.join();
	EXPECT_EQ(1, got.load());
	EXPECT_EQ(6u, slot(2).ret_data[0]);
}

KEVENT_INSTANTIATE_BACKENDS(RingTest);

} // namespace
