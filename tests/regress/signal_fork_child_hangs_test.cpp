// SPDX-License-Identifier: MIT
// signal_fork_child_hangs_test — found auditing issue 21, item 5 (every
// sigaction the library installs), of the class of issue 21, item 1.
//
// Bug: a fork child whose parent had a thread adding or removing a SIGNAL
// kevent at the moment of fork(2) could hang for ever in its first SIGNAL
// ADD or in kevent_close of a queue with one: the origin's registration
// mutex, held by a parent thread that does not exist in the child, was
// copied locked.
//
// Fix (src/origin/signal.cpp): pthread_atfork handlers take the mutex before
// fork and release it on both sides, so the child's copy is never held.
#include "child_process.hpp"
#include "kevent_test.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <thread>

using kevent_test::make;

namespace {

ukevent sigurg_event() {
	kevent_id id{};
	id.raw[0] = SIGURG;
	return make(KEVENT_SIGNAL, id.raw_u64, KEVENT_SIGNAL_DELIVERY);
}

class SignalForkChildHangs : public kevent_test::QueueTest {};

TEST_P(SignalForkChildHangs, AChildWatchesSignalsWhileTheParentChurns) {
	if (kevent_test::under_tsan)
		GTEST_SKIP() << kevent_test::tsan_threaded_fork;
	std::atomic<bool> stop{false};
	// Adds and removes a SIGNAL kevent without pause: most of its time is
	// spent inside the origin's registration lock (two sigaction calls).
	std::thread churn([&] {
		while (!stop.load()) {
			ukevent e = sigurg_event();
			if (kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &e) != 0)
				break;
			ukevent r = sigurg_event();
			if (kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &r) != 0)
				break;
		}
	});
	constexpr int children = 30;
	int hung = 0, failed = 0;
	for (int i = 0; i < children; i++) {
		pid_t pid = ::fork();
		ASSERT_GE(pid, 0) << std::strerror(errno);
		if (pid == 0) {
			alarm(1); // a hang ends here, as SIGALRM
			int q = kevent_init(nullptr, 0, GetParam().flags);
			if (q < 0)
				_exit(2);
			ukevent e = sigurg_event();
			if (kevent_ctl(q, KEVENT_CTL_ADD, 1, &e) != 0)
				_exit(3);
			if (kevent_close(q) != 0)
				_exit(4);
			_exit(0);
		}
		int st = 0;
		ASSERT_EQ(pid, ::waitpid(pid, &st, 0));
		if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
			hung++;
		else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			failed++;
	}
	stop = true;
	churn.join();
	EXPECT_EQ(0, hung) << "children hung in the SIGNAL origin's lock";
	EXPECT_EQ(0, failed);
}

KEVENT_INSTANTIATE_BACKENDS(SignalForkChildHangs);

} // namespace
