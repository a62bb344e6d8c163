// SPDX-License-Identifier: MIT
// The kqueue descriptor (kqueue(3), docs/kqueue.md): pollable, nestable in
// another kqueue, not in itself; kqueue1(O_CLOEXEC); close(kq) retires it;
// after fork the child's copy is closed and the parent's works.
#include "kq_test.hpp"

#include <poll.h>
#include <sys/wait.h>

using namespace kq_test;
using KqDescriptor = KqTest;

TEST_P(KqDescriptor, PollableAndNestable) {
	int outer = kqueue();
	ASSERT_GE(outer, 0);
	ASSERT_EQ(0, change(outer, kq, EVFILT_READ, EV_ADD));
	EXPECT_TRUE(poll_events(outer).empty());
	ASSERT_EQ(0, change(kq, 3, EVFILT_USER, EV_ADD, NOTE_TRIGGER));
	pollfd pfd{kq, POLLIN, 0};
	EXPECT_EQ(1, poll(&pfd, 1, 2000));
	struct kevent ev[1];
	ASSERT_EQ(1, wait(outer, ev, 1, 2000));
	EXPECT_EQ(static_cast<uintptr_t>(kq), ev[0].ident);
	close(outer);
}

TEST_P(KqDescriptor, NotInItself) {
	EXPECT_EQ(-1, change(kq, kq, EVFILT_READ, EV_ADD));
	EXPECT_EQ(EINVAL, errno);
}

TEST_P(KqDescriptor, CloexecOnlyWithKqueue1) {
	EXPECT_EQ(0, fcntl(kq, F_GETFD) & FD_CLOEXEC);
	int k = kqueue1(O_CLOEXEC);
	ASSERT_GE(k, 0);
	EXPECT_NE(0, fcntl(k, F_GETFD) & FD_CLOEXEC);
	close(k);
	EXPECT_EQ(-1, kqueue1(O_NONBLOCK));
	EXPECT_EQ(EINVAL, errno);
}

TEST_P(KqDescriptor, ClosedKqueueIsEbadf) {
	int k = kqueue();
	ASSERT_GE(k, 0);
	close(k);
	struct kevent ev[1];
	EXPECT_EQ(-1, wait(k, ev, 1, 0));
	EXPECT_EQ(EBADF, errno);
}

TEST_P(KqDescriptor, ForkChildsCopyIsClosed) {
	ASSERT_EQ(0, change(kq, 1, EVFILT_USER, EV_ADD, NOTE_TRIGGER));
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct kevent ev[1];
		int n = wait(kq, ev, 1, 0);
		_exit(n == -1 && errno == EBADF ? 0 : 1);
	}
	int st;
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "the child could use the kqueue";
	EXPECT_EQ(1u, poll_events(kq).size()) << "the parent's kqueue was touched";
}

KQ_INSTANTIATE(KqDescriptor);
