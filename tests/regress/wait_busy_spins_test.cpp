// SPDX-License-Identifier: MIT
// wait_busy_spins_test — found testing from the man pages alone (issue 14,
// item 6).
//
// Bug: three waits that could not be satisfied spun at 100% CPU until their
// timeout instead of sleeping:
// (a) one readable LEVEL pipe kevent and kevent_get_events(kfd, 2, 8, 2 s):
//     epoll reports a level item at every epoll_wait (io_uring re-arms a level
//     poll after every report), so the poller's blocking wait returned at once
//     with a kevent that was queued already, again and again;
// (b) kevent_wait on a full ring while a LEVEL kevent is ready: the same;
// (c) a 1 ns periodic timer with min_nr 2: each expiry re-armed the backend's
//     deadline 1 ns later, although the timer was still waiting to be
//     delivered.
// Fix: a level watch that reports nothing new to a poller that meant to block
// is parked until one of its kevents is delivered (watch_table::park);
// a periodic timer that expires again before it is delivered holds no
// deadline until it is, and counts the periods it missed then
// (timer_service::deliver). kevent_get_events(3): a wait that cannot be
// satisfied sleeps.
//
// The measure is the number of system calls the queue made while one wait of
// 300 ms ran (kevent_get_stats backend_calls): a sleeping wait makes a
// handful, a spinning one hundreds of thousands. No timing is asserted.
#include "kevent_test.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <vector>

using kevent_test::make;
using kevent_test::queue_stats;

namespace {

// Enough for a few wake-ups and re-arms; a spin makes thousands per ms.
constexpr uint64_t sleeping_wait_calls = 40;

} // namespace

class WaitBusySpins : public kevent_test::QueueTest {
protected:
	int p[2] = {-1, -1};
	void SetUp() override {
		QueueTest::SetUp();
		ASSERT_EQ(0, pipe2(p, O_NONBLOCK | O_CLOEXEC));
	}
	void TearDown() override {
		close(p[0]);
		close(p[1]);
		QueueTest::TearDown();
	}
	void add_ready_level_pipe() {
		ASSERT_EQ(1, write(p[1], "x", 1));
		ukevent uk = make(KEVENT_PIPE, uint64_t(p[0]), KEVENT_PIPE_RECV,
				  KEVENT_REQ_LEVEL | KEVENT_REQ_ALWAYS_QUEUE, 1);
		ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &uk));
	}
};

TEST_P(WaitBusySpins, LevelKeventAndALargerMinNrSleeps) {
	add_ready_level_pipe();
	uint64_t before = queue_stats(kfd).backend_calls;
	auto ev = kevent_test::get(kfd, 2, 8, 300);
	uint64_t calls = queue_stats(kfd).backend_calls - before;
	ASSERT_EQ(1u, ev.size()) << "the timeout returns what is ready";
	EXPECT_EQ(KEVENT_PIPE_RECV, ev[0].ret_data[0]);
	EXPECT_LE(calls, sleeping_wait_calls) << "the wait spun instead of sleeping";
	// Still LEVEL after the wait: delivered again while the pipe is
	// readable, not after it is drained.
	EXPECT_EQ(1u, kevent_test::get(kfd, 1, 8, 1000).size());
	char c;
	ASSERT_EQ(1, read(p[0], &c, 1));
	EXPECT_EQ(0u, kevent_test::get(kfd, 0, 8, 0).size());
	// And it comes back with new data.
	ASSERT_EQ(1, write(p[1], "y", 1));
	EXPECT_EQ(1u, kevent_test::get(kfd, 1, 8, 1000).size());
}

TEST_P(WaitBusySpins, LevelWatchWithAnUnreadyKeventStillReportsIt) {
	// A second kevent on the file, not ready (SEND-like: a POLL for
	// POLLPRI that a pipe never raises), keeps its interest while the
	// ready one is parked; and a new write still reaches a waiter.
	add_ready_level_pipe();
	ukevent other = make(KEVENT_POLL, uint64_t(p[0]), POLLPRI, 0, 2);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &other));
	uint64_t before = queue_stats(kfd).backend_calls;
	auto ev = kevent_test::get(kfd, 2, 8, 300);
	EXPECT_LE(queue_stats(kfd).backend_calls - before, sleeping_wait_calls);
	ASSERT_EQ(1u, ev.size());
	EXPECT_EQ(1u, kevent_test::cookie_of(ev[0]));
}

TEST_P(WaitBusySpins, FullRingAndAReadyLevelKeventSleeps) {
	ASSERT_EQ(0, kevent_close(kfd));
	constexpr unsigned size = 2;
	std::vector<uint64_t> mem((sizeof(kevent_ring) + size * sizeof(ukevent)) / 8 + 1);
	auto *ring = reinterpret_cast<kevent_ring *>(mem.data());
	kfd = kevent_init(ring, size, GetParam().flags);
	ASSERT_GE(kfd, 0);
	// Fill the ring with two user events.
	ukevent u[2] = {make(KEVENT_UNOTIFY, 1, 1, KEVENT_REQ_ONESHOT),
			make(KEVENT_UNOTIFY, 2, 1, KEVENT_REQ_ONESHOT)};
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 2, u));
	ASSERT_EQ(2, kevent_ctl(kfd, KEVENT_CTL_READY, 2, u));
	timespec t = kevent_test::ms(1000);
	ASSERT_EQ(2, kevent_wait(kfd, 2, 0, &t, 0));
	add_ready_level_pipe();
	uint64_t before = queue_stats(kfd).backend_calls;
	t = kevent_test::ms(300);
	EXPECT_EQ(0, kevent_wait(kfd, 1, 0, &t, 0)) << "no room: the timeout returns 0";
	EXPECT_LE(queue_stats(kfd).backend_calls - before, sleeping_wait_calls) << "the wait on a "
										   "full ring spun "
										   "instead of "
										   "sleeping";
	// Room again (one slot released): the level kevent goes into slot 0.
	ASSERT_EQ(1, kevent_commit(kfd, 1, 0));
	t = kevent_test::ms(1000);
	EXPECT_EQ(1, kevent_wait(kfd, 1, 1, &t, 0));
	EXPECT_EQ(1u, kevent_test::cookie_of(ring->event[0]));
}

TEST_P(WaitBusySpins, ShortPeriodicTimerWithALargerMinNrSleeps) {
	ukevent uk = make(KEVENT_TIMER, 0, KEVENT_TIMER_FIRED, 0, 3);
	uk.id.raw[1] = 1; // every nanosecond
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &uk));
	uint64_t before = queue_stats(kfd).backend_calls;
	auto ev = kevent_test::get(kfd, 2, 8, 300);
	uint64_t calls = queue_stats(kfd).backend_calls - before;
	ASSERT_EQ(1u, ev.size());
	EXPECT_LE(calls, sleeping_wait_calls) << "the wait spun instead of sleeping";
	// Every period that passed is counted (300 ms of 1 ns periods, at
	// least the 300 ms the wait slept), saturating at UINT32_MAX.
	EXPECT_GE(ev[0].ret_data[0], 250000000u);
	// It keeps firing after the delivery.
	auto again = kevent_test::get(kfd, 1, 8, 1000);
	ASSERT_EQ(1u, again.size());
	EXPECT_GE(again[0].ret_data[0], 1u);
}

TEST_P(WaitBusySpins, HeldTimerDoesNotDelayTheOthers) {
	// A 1 ns timer held while it waits for delivery must not keep a
	// 50 ms timer from firing.
	ukevent uk[2] = {make(KEVENT_TIMER, 0, KEVENT_TIMER_FIRED, 0, 3),
			 make(KEVENT_TIMER, kevent_test::timer_id(50), KEVENT_TIMER_FIRED,
			      KEVENT_REQ_ONESHOT, 4)};
	uk[0].id.raw[1] = 1;
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 2, uk));
	auto ev = kevent_test::get(kfd, 2, 8, 5000);
	ASSERT_EQ(2u, ev.size()) << "the 50 ms timer fired while the 1 ns one was held";
}

KEVENT_INSTANTIATE_BACKENDS(WaitBusySpins);
