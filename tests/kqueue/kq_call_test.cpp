// SPDX-License-Identifier: MIT
// kevent() as FreeBSD's kern_kevent (kqueue(3), docs/kqueue.md "The call"):
// errors and receipts in the event list, the count returned at once,
// no room, nevents == 0, one array for both lists, bad arguments, every
// ready knote in the first call that has room for it.
#include "kq_test.hpp"

using namespace kq_test;
using KqCall = KqTest;

// libevent's start-up probe: an ADD of fd -1 must come back as EV_ERROR
// and the call must return at once, even with a NULL timeout.
TEST_P(KqCall, FailedChangeIsCountedAndTheCallDoesNotWait) {
	struct kevent ch, ev[4];
	EV_SET(&ch, static_cast<uintptr_t>(-1), EVFILT_READ, EV_ADD, 0, 0, nullptr);
	ASSERT_EQ(1, kevent(kq, &ch, 1, ev, 4, nullptr));
	EXPECT_EQ(static_cast<uintptr_t>(-1), ev[0].ident);
	EXPECT_EQ(EVFILT_READ, ev[0].filter);
	EXPECT_EQ(EV_ERROR, ev[0].flags);
	EXPECT_EQ(EBADF, ev[0].data);
}

TEST_P(KqCall, ReceiptReportsSuccessAsErrorZero) {
	int p[2];
	ASSERT_EQ(0, pipe(p));
	struct kevent ch[2], ev[4];
	EV_SET(&ch[0], p[0], EVFILT_READ, EV_ADD | EV_RECEIPT, 0, 0, (void *)7);
	EV_SET(&ch[1], 999, EVFILT_USER, EV_DELETE | EV_RECEIPT, 0, 0, nullptr);
	ASSERT_EQ(2, kevent(kq, ch, 2, ev, 4, nullptr));
	EXPECT_EQ(EV_ERROR, ev[0].flags);
	EXPECT_EQ(0, ev[0].data);
	EXPECT_EQ((void *)7, ev[0].udata);
	EXPECT_EQ(EV_ERROR, ev[1].flags);
	EXPECT_EQ(ENOENT, ev[1].data);
	close(p[0]);
	close(p[1]);
}

// With no room, a failed change fails the call and the later ones are not
// applied.
TEST_P(KqCall, NoRoomFailsAndStopsLaterChanges) {
	struct kevent ch[2];
	EV_SET(&ch[0], 5, EVFILT_USER, EV_DELETE, 0, 0, nullptr);
	EV_SET(&ch[1], 6, EVFILT_USER, EV_ADD, 0, 0, nullptr);
	errno = 0;
	EXPECT_EQ(-1, kevent(kq, ch, 2, nullptr, 0, nullptr));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, change(kq, 6, EVFILT_USER, EV_DELETE));
	EXPECT_EQ(ENOENT, errno) << "the change after the failed one was applied";
}

// Room for one error only: the second failure ends the call with -1.
TEST_P(KqCall, ErrorsBeyondTheRoomFailTheCall) {
	struct kevent ch[3], ev[1];
	EV_SET(&ch[0], 5, EVFILT_USER, EV_DELETE, 0, 0, nullptr);
	EV_SET(&ch[1], 6, EVFILT_USER, EV_DELETE, 0, 0, nullptr);
	EV_SET(&ch[2], 7, EVFILT_USER, EV_ADD, 0, 0, nullptr);
	EXPECT_EQ(-1, kevent(kq, ch, 3, ev, 1, nullptr));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, change(kq, 7, EVFILT_USER, EV_DELETE));
}

TEST_P(KqCall, NeventsZeroAppliesChangesAndReturns) {
	EXPECT_EQ(0, change(kq, 1, EVFILT_USER, EV_ADD, NOTE_TRIGGER));
	struct kevent ev[2];
	ASSERT_EQ(1, wait(kq, ev, 2, 0));
	EXPECT_EQ(1u, ev[0].ident);
}

// The same array as changes and events: each change is read before an
// error is written over it.
TEST_P(KqCall, OneArrayForBothLists) {
	struct kevent a[3];
	EV_SET(&a[0], 11, EVFILT_USER, EV_DELETE, 0, 0, nullptr); // ENOENT
	EV_SET(&a[1], 12, EVFILT_USER, EV_ADD, 0, 0, nullptr);    // ok
	EV_SET(&a[2], 13, EVFILT_USER, EV_DELETE, 0, 0, nullptr); // ENOENT
	ASSERT_EQ(2, kevent(kq, a, 3, a, 3, nullptr));
	EXPECT_EQ(11u, a[0].ident);
	EXPECT_EQ(ENOENT, a[0].data);
	EXPECT_EQ(13u, a[1].ident);
	EXPECT_EQ(ENOENT, a[1].data);
	EXPECT_EQ(0, change(kq, 12, EVFILT_USER, EV_DELETE)) << "the middle change was applied";
}

TEST_P(KqCall, BadArguments) {
	struct kevent ev[1];
	EXPECT_EQ(-1, kevent(kq, nullptr, -1, ev, 1, nullptr));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, kevent(kq, nullptr, 0, ev, -1, nullptr));
	EXPECT_EQ(EINVAL, errno);
	timespec bad{0, 1000000000};
	EXPECT_EQ(-1, kevent(kq, nullptr, 0, ev, 1, &bad));
	EXPECT_EQ(EINVAL, errno);
	int p[2];
	ASSERT_EQ(0, pipe(p));
	EXPECT_EQ(-1, kevent(p[0], nullptr, 0, ev, 1, nullptr));
	EXPECT_EQ(EBADF, errno);
	close(p[0]);
	close(p[1]);
	EXPECT_EQ(-1, change(kq, 1, -100, EV_ADD));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, change(kq, 1, EVFILT_AIO, EV_ADD));
	EXPECT_EQ(EINVAL, errno);
}

TEST_P(KqCall, TimeoutZeroAndTimeoutExpire) {
	struct kevent ev[1];
	EXPECT_EQ(0, wait(kq, ev, 1, 0));
	EXPECT_EQ(0, wait(kq, ev, 1, 20));
}

// New READ knotes of one call are registered together (add_batch.cpp): a
// failed change among them still reports in change order, the knotes
// before it work, and with no room the ones after it are not applied.
TEST_P(KqCall, NewReadKnotesOfOneCallAroundAFailure) {
	int a[2], b[2], c[2];
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, a));
	ASSERT_EQ(0, pipe(b));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, c));
	struct kevent ch[4], ev[4];
	EV_SET(&ch[0], a[0], EVFILT_READ, EV_ADD, 0, 0, (void *)1);
	EV_SET(&ch[1], b[0], EVFILT_READ, EV_ADD, 0, 0, (void *)2);
	EV_SET(&ch[2], 100000, EVFILT_READ, EV_ADD, 0, 0, nullptr); // EBADF
	EV_SET(&ch[3], c[0], EVFILT_READ, EV_ADD, 0, 0, (void *)3);
	ASSERT_EQ(1, kevent(kq, ch, 4, ev, 4, nullptr));
	EXPECT_EQ(100000u, ev[0].ident);
	EXPECT_EQ(EBADF, ev[0].data);
	ASSERT_EQ(1, write(a[1], "x", 1));
	ASSERT_EQ(2, write(b[1], "yy", 2));
	ASSERT_EQ(3, write(c[1], "zzz", 3));
	int n = wait(kq, ev, 4, 1000);
	ASSERT_EQ(3, n) << std::strerror(errno);
	intptr_t seen[4] = {};
	for (int i = 0; i < n; i++)
		seen[reinterpret_cast<uintptr_t>(ev[i].udata)] = ev[i].data;
	EXPECT_EQ(1, seen[1]);
	EXPECT_EQ(2, seen[2]);
	EXPECT_EQ(3, seen[3]);
	for (int fd : {a[0], b[0], c[0]})
		EXPECT_EQ(0, change(kq, fd, EVFILT_READ, EV_DELETE));

	// No room: the call fails at the bad change; the one before it is
	// registered, the one after it is not.
	errno = 0;
	EXPECT_EQ(-1, kevent(kq, ch, 4, nullptr, 0, nullptr));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(0, change(kq, a[0], EVFILT_READ, EV_DELETE));
	EXPECT_EQ(0, change(kq, b[0], EVFILT_READ, EV_DELETE));
	EXPECT_EQ(-1, change(kq, c[0], EVFILT_READ, EV_DELETE));
	EXPECT_EQ(ENOENT, errno) << "the change after the failed one was applied";
	for (int fd : {a[0], a[1], b[0], b[1], c[0], c[1]})
		close(fd);
}

KQ_INSTANTIATE(KqCall);

// FreeBSD copies out every active knote that fits: a descriptor that turned
// ready is not left behind a level USER knote or a knote that was ready at
// its ADD (libkevent's fairness shortcut kept it out for up to 16 calls).
TEST_P(KqCall, EveryReadyKnoteIsInTheFirstCallWithRoom) {
	int a[2], b[2];
	ASSERT_EQ(0, pipe(a));
	ASSERT_EQ(0, pipe(b));
	ASSERT_EQ(1, write(a[1], "x", 1)); // ready at its ADD
	ASSERT_EQ(0, change(kq, a[0], EVFILT_READ, EV_ADD));
	ASSERT_EQ(0, change(kq, b[0], EVFILT_READ, EV_ADD));
	ASSERT_EQ(0, change(kq, 1, EVFILT_USER, EV_ADD, NOTE_TRIGGER)); // level: every call
	ASSERT_EQ(1, write(b[1], "y", 1));                              // after the ADDs
	for (int call = 0; call < 20; call++) {
		auto v = poll_events(kq);
		EXPECT_EQ(3u, v.size()) << "call " << call;
	}
	for (int fd : {a[0], a[1], b[0], b[1]})
		close(fd);
}
