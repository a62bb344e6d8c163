// SPDX-License-Identifier: MIT
// Limits (issue 8, part 4): fork(2) with a live queue (docs/semantics.md,
// "fork(2)"; kevent_init(3), "The special problem of fork"). The child
// shares the parent's epoll file: every call on the inherited queue but
// kevent_close fails with EINVAL, kevent_close frees the child's copy
// without touching the parent's registrations, and the child's own new
// queues work. The parent's queue is unchanged by all of it.
#include "kevent_test.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using namespace kevent_test;

class Fork : public QueueTest {};

// The child's checks; its exit code says which failed (0: all passed).
int child_checks(int kfd, int rfd) {
	ukevent uk = make(KEVENT_UNOTIFY, 5, 1);
	ukevent buf[4];
	timespec zero{};
	kevent_stats st{};
	if (kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &uk) != -1 || errno != EINVAL)
		return 10;
	if (kevent_ctl(kfd, KEVENT_CTL_READY, 0, nullptr) != -1 || errno != EINVAL)
		return 11;
	if (kevent_get_events(kfd, 0, 4, &zero, buf, 0) != -1 || errno != EINVAL)
		return 12;
	if (kevent_get_stats(kfd, &st, sizeof st) != -1 || errno != EINVAL)
		return 13;
	if (kevent_close(kfd) != 0)
		return 14;
	if (fcntl(kfd, F_GETFD) != -1)
		return 15; // the child's number is closed
	// A queue of its own works, on the same pipe.
	int q = kevent_init(nullptr, 0, 0);
	if (q < 0)
		return 16;
	ukevent p = make(KEVENT_PIPE, unsigned(rfd), KEVENT_PIPE_RECV, 0, 77);
	if (kevent_ctl(q, KEVENT_CTL_ADD, 1, &p) != 1 || p.ret_flags != KEVENT_RET_DONE)
		return 17; // data is there already: ready at ADD
	if (kevent_close(q) != 0)
		return 18;
	return 0;
}

TEST_P(Fork, ChildMayOnlyCloseTheInheritedQueue) {
	int p[2];
	ASSERT_EQ(0, pipe2(p, O_NONBLOCK | O_CLOEXEC));
	ukevent uk = make(KEVENT_PIPE, unsigned(p[0]), KEVENT_PIPE_RECV, 0, 42);
	ASSERT_EQ(0, add(uk));
	ASSERT_EQ(1, write(p[1], "x", 1));
	pid_t child = fork();
	ASSERT_GE(child, 0);
	if (child == 0)
		_exit(child_checks(kfd, p[0]));
	int status = 0;
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) << "see child_checks for the code";
	// The parent's registration is intact and reports the data.
	auto got = get(kfd, 1, 4, 2000);
	ASSERT_EQ(1u, got.size());
	EXPECT_EQ(42u, cookie_of(got[0]));
	EXPECT_EQ(1u, queue_stats(kfd).registered);
	ASSERT_EQ(1, write(p[1], "y", 1)); // and keeps doing so
	EXPECT_EQ(1u, get(kfd, 1, 4, 2000).size());
	close(p[0]);
	close(p[1]);
}

// The child has no signal watchers of its own: a signal the parent's queue
// consumes (NOMASK) has the child's own disposition again, since the
// inherited queue's teardown never runs in the child (docs/semantics.md,
// "fork(2)"); the parent's kevent still counts the parent's signals.
TEST_P(Fork, ChildGetsItsOwnSignalDispositionsBack) {
	ukevent uk =
		make(KEVENT_SIGNAL, SIGUSR1 | KEVENT_SIGNAL_NOMASK, KEVENT_SIGNAL_DELIVERY, 0, 9);
	ASSERT_EQ(0, add(uk));
	int q = kfd;
	pid_t child = fork();
	ASSERT_GE(child, 0);
	if (child == 0) {
		struct sigaction sa {};
		if (sigaction(SIGUSR1, nullptr, &sa) != 0 || sa.sa_handler != SIG_DFL)
			_exit(1);
		if (kevent_close(q) != 0)
			_exit(2);
		raise(SIGUSR1); // the default action: the child dies of it
		_exit(3);
	}
	int status = 0;
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGUSR1)
		<< "exit status " << status << " (see the child's codes)";
	ASSERT_EQ(0, kill(getpid(), SIGUSR1));
	auto got = get(kfd, 1, 4, 2000);
	ASSERT_EQ(1u, got.size());
	EXPECT_EQ(9u, cookie_of(got[0]));
}

KEVENT_INSTANTIATE_BACKENDS(Fork);

} // namespace
