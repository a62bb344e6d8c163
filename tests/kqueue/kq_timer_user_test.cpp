// SPDX-License-Identifier: MIT
// EVFILT_TIMER and EVFILT_USER (kqueue(3), docs/kqueue.md): units, periodic
// and oneshot timers, counted expirations, many timers of one period,
// disable keeps counting; USER triggers, fflags control, EV_CLEAR.
#include "kq_test.hpp"

#include <ctime>
#include <thread>

using namespace kq_test;
using KqTimer = KqTest;
using KqUser = KqTest;

TEST_P(KqTimer, OneshotFiresOnceWithUdata) {
	ASSERT_EQ(0, change(kq, 1, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 5, (void *)3));
	struct kevent ev[2];
	ASSERT_EQ(1, wait(kq, ev, 2, 5000));
	EXPECT_EQ(1u, ev[0].ident);
	EXPECT_EQ(EVFILT_TIMER, ev[0].filter);
	EXPECT_EQ(1, ev[0].data);
	EXPECT_EQ((void *)3, ev[0].udata);
	EXPECT_EQ(-1, change(kq, 1, EVFILT_TIMER, EV_DELETE)) << "oneshot knote kept";
	EXPECT_EQ(ENOENT, errno);
}

// Several timers of one period in one kqueue: each its own knote.
TEST_P(KqTimer, ManyTimersOfOnePeriod) {
	for (uintptr_t id = 1; id <= 3; id++)
		ASSERT_EQ(0,
			  change(kq, id, EVFILT_TIMER, EV_ADD | EV_ONESHOT, NOTE_USECONDS, 1000));
	int seen = 0;
	struct kevent ev[4];
	while (seen < 3) {
		int n = wait(kq, ev, 4, 5000);
		ASSERT_GT(n, 0);
		seen += n;
	}
	EXPECT_EQ(3, seen);
}

// A disabled periodic timer keeps counting; enabled, it reports the count.
TEST_P(KqTimer, DisabledTimerKeepsCounting) {
	ASSERT_EQ(0, change(kq, 7, EVFILT_TIMER, EV_ADD | EV_DISABLE, NOTE_MSECONDS, 1));
	struct kevent ev[1];
	EXPECT_EQ(0, wait(kq, ev, 1, 30));
	ASSERT_EQ(0, change(kq, 7, EVFILT_TIMER, EV_ENABLE));
	ASSERT_EQ(1, wait(kq, ev, 1, 5000));
	EXPECT_GE(ev[0].data, 2) << "expirations while disabled were lost";
}

TEST_P(KqTimer, AbsoluteTimeInThePastFiresAtOnce) {
	timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	ASSERT_EQ(0,
		  change(kq, 2, EVFILT_TIMER, EV_ADD, NOTE_SECONDS | NOTE_ABSTIME, now.tv_sec - 1));
	struct kevent ev[1];
	ASSERT_EQ(1, wait(kq, ev, 1, 5000));
	EXPECT_EQ(2u, ev[0].ident);
}

TEST_P(KqTimer, BadTimersAreRefused) {
	EXPECT_EQ(-1, change(kq, 1, EVFILT_TIMER, EV_ADD, 0, -1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, change(kq, 1, EVFILT_TIMER, EV_ADD, NOTE_SECONDS | NOTE_USECONDS, 1));
	EXPECT_EQ(EINVAL, errno);
}

TEST_P(KqUser, TriggerAndFflagsControl) {
	ASSERT_EQ(0,
		  change(kq, 5, EVFILT_USER, EV_ADD | EV_CLEAR, NOTE_FFCOPY | 0x11, 0, (void *)4));
	EXPECT_TRUE(poll_events(kq).empty());
	ASSERT_EQ(0, change(kq, 5, EVFILT_USER, 0, NOTE_TRIGGER | NOTE_FFOR | 0x100, 0, (void *)4));
	auto v = poll_events(kq);
	ASSERT_EQ(1u, v.size());
	EXPECT_EQ(0x111u, v[0].fflags);
	EXPECT_EQ((void *)4, v[0].udata);
	EXPECT_TRUE(poll_events(kq).empty()) << "EV_CLEAR: reported once";
	ASSERT_EQ(0,
		  change(kq, 5, EVFILT_USER, 0, NOTE_TRIGGER | NOTE_FFAND | 0x101, 0, (void *)4));
	v = poll_events(kq);
	ASSERT_EQ(1u, v.size());
	EXPECT_EQ(0x101u, v[0].fflags);
}

TEST_P(KqUser, WithoutClearStaysTriggered) {
	ASSERT_EQ(0, change(kq, 5, EVFILT_USER, EV_ADD, NOTE_TRIGGER));
	EXPECT_EQ(1u, poll_events(kq).size());
	EXPECT_EQ(1u, poll_events(kq).size());
	ASSERT_EQ(0, change(kq, 5, EVFILT_USER, EV_DISABLE));
	EXPECT_TRUE(poll_events(kq).empty());
	ASSERT_EQ(0, change(kq, 5, EVFILT_USER, EV_ENABLE));
	EXPECT_EQ(1u, poll_events(kq).size()) << "re-enabled: what it had is reported";
	ASSERT_EQ(0, change(kq, 5, EVFILT_USER, EV_DELETE));
	EXPECT_TRUE(poll_events(kq).empty());
}

// A trigger from another thread wakes a thread blocked in kevent().
TEST_P(KqUser, TriggerWakesAWaiter) {
	ASSERT_EQ(0, change(kq, 8, EVFILT_USER, EV_ADD | EV_CLEAR));
	int k = kq;
	std::thread t([k] {
		usleep(20000);
		change(k, 8, EVFILT_USER, 0, NOTE_TRIGGER);
	});
	struct kevent ev[1];
	int n = wait(kq, ev, 1, -1);
	t.join();
	ASSERT_EQ(1, n);
	EXPECT_EQ(8u, ev[0].ident);
}

KQ_INSTANTIATE(KqTimer);
KQ_INSTANTIATE(KqUser);
