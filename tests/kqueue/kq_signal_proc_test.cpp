// SPDX-License-Identifier: MIT
// EVFILT_SIGNAL and EVFILT_PROC (kqueue(3), docs/kqueue.md): a signal is
// counted also when the program ignores it after adding (libevent's
// order), no mask is changed; a child's exit with its status. As on BSD the
// program's disposition stays in force: a case that raises a signal whose
// default ends the process ignores it first.
#include "kq_test.hpp"

#include <csignal>
#include <sys/wait.h>

using namespace kq_test;
using KqSignal = KqTest;
using KqProc = KqTest;

TEST_P(KqSignal, CountedWhenIgnoredAfterAdd) {
	ASSERT_EQ(0, change(kq, SIGUSR1, EVFILT_SIGNAL, EV_ADD, 0, 0, (void *)5));
	struct sigaction ign {
	}, old{};
	ign.sa_handler = SIG_IGN;
	ASSERT_EQ(0, sigaction(SIGUSR1, &ign, &old));
	ASSERT_EQ(0, raise(SIGUSR1));
	struct kevent ev[1];
	ASSERT_EQ(1, wait(kq, ev, 1, 5000));
	EXPECT_EQ(static_cast<uintptr_t>(SIGUSR1), ev[0].ident);
	EXPECT_EQ(1, ev[0].data);
	EXPECT_EQ((void *)5, ev[0].udata);
	EXPECT_EQ(EV_CLEAR, ev[0].flags) << "FreeBSD's filt_sigattach sets EV_CLEAR";
	EXPECT_TRUE(poll_events(kq).empty());
	ASSERT_EQ(0, change(kq, SIGUSR1, EVFILT_SIGNAL, EV_DELETE));
	sigset_t cur;
	pthread_sigmask(SIG_BLOCK, nullptr, &cur);
	EXPECT_FALSE(sigismember(&cur, SIGUSR1)) << "the mask was not restored";
	sigaction(SIGUSR1, &old, nullptr);
}

TEST_P(KqSignal, DisabledKeepsCounting) {
	ASSERT_EQ(0, change(kq, SIGUSR2, EVFILT_SIGNAL, EV_ADD | EV_DISABLE));
	sighandler_t old = signal(SIGUSR2, SIG_IGN);
	ASSERT_EQ(0, raise(SIGUSR2));
	EXPECT_TRUE(poll_events(kq).empty());
	ASSERT_EQ(0, change(kq, SIGUSR2, EVFILT_SIGNAL, EV_ENABLE));
	auto v = poll_events(kq);
	ASSERT_EQ(1u, v.size());
	EXPECT_EQ(1, v[0].data);
	ASSERT_EQ(0, change(kq, SIGUSR2, EVFILT_SIGNAL, EV_DELETE));
	signal(SIGUSR2, old);
}

TEST_P(KqSignal, BadSignalsAreRefused) {
	EXPECT_EQ(-1, change(kq, 0, EVFILT_SIGNAL, EV_ADD));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, change(kq, SIGKILL, EVFILT_SIGNAL, EV_ADD));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, change(kq, 1000, EVFILT_SIGNAL, EV_ADD));
	EXPECT_EQ(EINVAL, errno);
}

TEST_P(KqProc, ExitWithStatusIsEofOneshot) {
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		usleep(20000);
		_exit(7);
	}
	ASSERT_EQ(0, change(kq, pid, EVFILT_PROC, EV_ADD, NOTE_EXIT, 0, (void *)6));
	struct kevent ev[1];
	ASSERT_EQ(1, wait(kq, ev, 1, 5000));
	EXPECT_EQ(static_cast<uintptr_t>(pid), ev[0].ident);
	EXPECT_EQ(NOTE_EXIT, ev[0].fflags);
	EXPECT_TRUE(WIFEXITED(ev[0].data));
	EXPECT_EQ(7, WEXITSTATUS(ev[0].data));
	EXPECT_EQ(EV_EOF | EV_ONESHOT, ev[0].flags & (EV_EOF | EV_ONESHOT));
	EXPECT_EQ((void *)6, ev[0].udata);
	int st;
	EXPECT_EQ(pid, waitpid(pid, &st, 0)) << "the child was reaped by the layer";
	EXPECT_EQ(-1, change(kq, pid, EVFILT_PROC, EV_DELETE));
	EXPECT_EQ(ENOENT, errno);
}

// An exit while the knote is disabled is kept and reported on enable.
TEST_P(KqProc, ExitWhileDisabledIsReportedOnEnable) {
	int gate[2];
	ASSERT_EQ(0, pipe(gate));
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		close(gate[1]);
		char c;
		(void)!read(gate[0], &c, 1);
		_exit(3);
	}
	close(gate[0]);
	ASSERT_EQ(0, change(kq, pid, EVFILT_PROC, EV_ADD | EV_DISABLE, NOTE_EXIT));
	close(gate[1]); // the child exits now
	siginfo_t si{};
	ASSERT_EQ(0, waitid(P_PID, pid, &si, WEXITED | WNOWAIT)) << "the child did not exit";
	struct kevent ev[1];
	EXPECT_EQ(0, wait(kq, ev, 1, 50)) << "reported while disabled";
	ASSERT_EQ(0, change(kq, pid, EVFILT_PROC, EV_ENABLE));
	ASSERT_EQ(1, wait(kq, ev, 1, 5000));
	EXPECT_EQ(3, WEXITSTATUS(ev[0].data));
	int st;
	EXPECT_EQ(pid, waitpid(pid, &st, 0));
}

TEST_P(KqProc, ForkExecTrackAreRefused) {
	EXPECT_EQ(-1, change(kq, getpid(), EVFILT_PROC, EV_ADD, NOTE_EXIT | NOTE_FORK));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, change(kq, getpid(), EVFILT_PROC, EV_ADD, NOTE_TRACK));
	EXPECT_EQ(EINVAL, errno);
}

// Every kqueue that watches a signal counts each delivery (BSD; libevent's
// regress signal/signal_switchbase).
TEST_P(KqSignal, TwoKqueuesBothCount) {
	int kq2 = kqueue();
	ASSERT_GE(kq2, 0);
	ASSERT_EQ(0, change(kq, SIGUSR1, EVFILT_SIGNAL, EV_ADD));
	ASSERT_EQ(0, change(kq2, SIGUSR1, EVFILT_SIGNAL, EV_ADD));
	sighandler_t old = signal(SIGUSR1, SIG_IGN);
	ASSERT_EQ(0, kill(getpid(), SIGUSR1));
	struct kevent ev[1];
	ASSERT_EQ(1, wait(kq2, ev, 1, 5000));
	EXPECT_EQ(1, ev[0].data);
	ASSERT_EQ(1, wait(kq, ev, 1, 5000));
	EXPECT_EQ(1, ev[0].data);
	ASSERT_EQ(0, change(kq, SIGUSR1, EVFILT_SIGNAL, EV_DELETE));
	ASSERT_EQ(0, change(kq2, SIGUSR1, EVFILT_SIGNAL, EV_DELETE));
	signal(SIGUSR1, old);
	close(kq2);
}

KQ_INSTANTIATE(KqSignal);
KQ_INSTANTIATE(KqProc);
