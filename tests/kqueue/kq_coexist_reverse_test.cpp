// SPDX-License-Identifier: MIT
// kq_coexist_test's program with the headers the other way round:
// <kevent/kevent.hpp> first, then <sys/event.h> (docs/kqueue.md).
#include <kevent/kevent.hpp>

#include <sys/event.h>

#include <gtest/gtest.h>
#include <unistd.h>

TEST(KqCoexistReverse, BothNamesWork) {
	int kq = kqueue();
	ASSERT_GE(kq, 0);
	struct kevent ev;
	EV_SET(&ev, 2, EVFILT_USER, EV_ADD | EV_RECEIPT, 0, 0, nullptr);
	struct kevent out[1];
	ASSERT_EQ(1, kevent(kq, &ev, 1, out, 1, nullptr));
	EXPECT_EQ(EV_ERROR, out[0].flags);
	EXPECT_EQ(0, out[0].data);
	close(kq);
	libkevent::queue q;
	EXPECT_GE(q.fd(), 0);
}
