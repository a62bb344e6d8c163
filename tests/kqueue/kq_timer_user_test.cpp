// SPDX-License-Identifier: MIT
// EVFILT_TIMER and EVFILT_USER (kqueue(3), docs/kqueue.md): units, periodic
// and oneshot timers, counted expirations, many timers of one period,
// disable keeps counting; USER triggers, fflags control, EV_CLEAR.
#include "kq_test.hpp"

#include <ctime>
#include <thread>
#include <vector>

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
	// FreeBSD's filt_timerattach sets EV_CLEAR, and the event shows it.
	EXPECT_EQ(EV_ONESHOT | EV_CLEAR, ev[0].flags);
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

// Disable drains a timer that has fired; the expirations are kept, and
// enable reports them all in one event.
TEST_P(KqTimer, DisableDrainsEnableReportsTheCount) {
	ASSERT_EQ(0, change(kq, 7, EVFILT_TIMER, EV_ADD, NOTE_MSECONDS, 1));
	usleep(20000);
	ASSERT_EQ(0, change(kq, 7, EVFILT_TIMER, EV_DISABLE));
	EXPECT_TRUE(poll_events(kq).empty()) << "disable did not drain";
	usleep(10000);
	ASSERT_EQ(0, change(kq, 7, EVFILT_TIMER, EV_ENABLE));
	struct kevent ev[2];
	ASSERT_EQ(1, wait(kq, ev, 2, 5000));
	EXPECT_GE(ev[0].data, 20) << "expirations before and while disabled were lost";
}

// A one-shot timer of 0 added disabled is due at once but not reported
// until it is enabled.
TEST_P(KqTimer, DueAtAddWhileDisabledWaitsForEnable) {
	ASSERT_EQ(0, change(kq, 3, EVFILT_TIMER, EV_ADD | EV_ONESHOT | EV_DISABLE, 0, 0));
	EXPECT_TRUE(poll_events(kq).empty());
	ASSERT_EQ(0, change(kq, 3, EVFILT_TIMER, EV_ENABLE));
	auto v = poll_events(kq);
	ASSERT_EQ(1u, v.size());
	EXPECT_EQ(1, v[0].data);
	EXPECT_TRUE(poll_events(kq).empty()) << "oneshot reported twice";
}

// EV_DISPATCH: one report, then disabled while the timer keeps counting.
TEST_P(KqTimer, DispatchReportsOnceThenCountsUntilEnabled) {
	ASSERT_EQ(0, change(kq, 4, EVFILT_TIMER, EV_ADD | EV_DISPATCH, NOTE_MSECONDS, 1));
	struct kevent ev[2];
	ASSERT_EQ(1, wait(kq, ev, 2, 5000));
	usleep(20000);
	EXPECT_TRUE(poll_events(kq).empty()) << "dispatch did not disable";
	ASSERT_EQ(0, change(kq, 4, EVFILT_TIMER, EV_ENABLE));
	ASSERT_EQ(1, wait(kq, ev, 2, 5000));
	EXPECT_GE(ev[0].data, 10);
}

// EV_ADD on a timer restarts it with the new period; its count is dropped.
TEST_P(KqTimer, AddAgainRestartsWithTheNewPeriod) {
	ASSERT_EQ(0, change(kq, 5, EVFILT_TIMER, EV_ADD, NOTE_MSECONDS, 1));
	usleep(10000);
	ASSERT_EQ(0, change(kq, 5, EVFILT_TIMER, EV_ADD, NOTE_SECONDS, 3600));
	EXPECT_TRUE(poll_events(kq).empty()) << "the old timer's count survived the restart";
	// The flags of the first ADD stay (FreeBSD): it is still periodic.
	ASSERT_EQ(0, change(kq, 5, EVFILT_TIMER, EV_ADD, NOTE_USECONDS, 100));
	struct kevent ev[2];
	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(1, wait(kq, ev, 2, 5000));
		EXPECT_EQ(5u, ev[0].ident);
		EXPECT_GE(ev[0].data, 1);
	}
	EXPECT_EQ(0, change(kq, 5, EVFILT_TIMER, EV_DELETE));
}

// Many periodic timers of one period, each its own knote, each reported.
TEST_P(KqTimer, HundredPeriodicTimersOfOnePeriod) {
	constexpr int n = 100;
	for (uintptr_t id = 1; id <= n; id++)
		ASSERT_EQ(0, change(kq, id, EVFILT_TIMER, EV_ADD, NOTE_MSECONDS, 2));
	std::vector<bool> seen(n + 1);
	int distinct = 0;
	std::vector<struct kevent> ev(n);
	while (distinct < n) {
		int got = wait(kq, ev.data(), n, 5000);
		ASSERT_GT(got, 0);
		for (int i = 0; i < got; i++) {
			ASSERT_GE(ev[i].ident, 1u);
			ASSERT_LE(ev[i].ident, static_cast<uintptr_t>(n));
			if (!seen[ev[i].ident]) {
				seen[ev[i].ident] = true;
				distinct++;
			}
		}
	}
	for (uintptr_t id = 1; id <= n; id++)
		ASSERT_EQ(0, change(kq, id, EVFILT_TIMER, EV_DELETE));
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

// A refused EV_ADD of an existing knote changes nothing, its udata
// included: the timer still fires with the udata it had.
TEST_P(KqTimer, RefusedModifyKeepsTheUdata) {
	ASSERT_EQ(0, change(kq, 1, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 20, (void *)3));
	EXPECT_EQ(-1, change(kq, 1, EVFILT_TIMER, EV_ADD | EV_ONESHOT, NOTE_SECONDS | NOTE_USECONDS,
			     20, (void *)4));
	EXPECT_EQ(EINVAL, errno);
	struct kevent ev[2];
	ASSERT_EQ(1, wait(kq, ev, 2, 5000));
	EXPECT_EQ((void *)3, ev[0].udata) << "the refused change replaced the udata";
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

// A trigger while disabled is kept; enable reports it with its fflags.
TEST_P(KqUser, TriggerWhileDisabledIsReportedOnEnable) {
	ASSERT_EQ(0, change(kq, 6, EVFILT_USER, EV_ADD | EV_CLEAR | EV_DISABLE));
	ASSERT_EQ(0, change(kq, 6, EVFILT_USER, 0, NOTE_TRIGGER | NOTE_FFCOPY | 0x42));
	EXPECT_TRUE(poll_events(kq).empty()) << "reported while disabled";
	ASSERT_EQ(0, change(kq, 6, EVFILT_USER, EV_ENABLE));
	auto v = poll_events(kq);
	ASSERT_EQ(1u, v.size());
	EXPECT_EQ(0x42u, v[0].fflags);
	EXPECT_TRUE(poll_events(kq).empty()) << "EV_CLEAR: reported once";
	ASSERT_EQ(0, change(kq, 6, EVFILT_USER, 0, NOTE_TRIGGER));
	ASSERT_EQ(0, change(kq, 6, EVFILT_USER, EV_DISABLE));
	EXPECT_TRUE(poll_events(kq).empty()) << "disable did not drain";
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

// Enabling a triggered knote from another thread wakes a blocked waiter.
TEST_P(KqUser, EnableWakesAWaiter) {
	ASSERT_EQ(0, change(kq, 9, EVFILT_USER, EV_ADD | EV_CLEAR | EV_DISABLE, NOTE_TRIGGER));
	int k = kq;
	std::thread t([k] {
		usleep(20000);
		change(k, 9, EVFILT_USER, EV_ENABLE);
	});
	struct kevent ev[1];
	int n = wait(kq, ev, 1, -1);
	t.join();
	ASSERT_EQ(1, n);
	EXPECT_EQ(9u, ev[0].ident);
}

KQ_INSTANTIATE(KqTimer);
KQ_INSTANTIATE(KqUser);
