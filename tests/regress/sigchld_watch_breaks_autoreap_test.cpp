// SPDX-License-Identifier: MIT
// sigchld_watch_breaks_autoreap_test — issue 21, item 5.
//
// Bug: watching SIGCHLD changed what the kernel does for the program's
// children. With SIGCHLD set to SIG_IGN, or with SA_NOCLDWAIT, a SIGCHLD
// kevent made exited children stay zombies (waitpid(WNOHANG) returned their
// pid; without the kevent: ECHILD). With the program's handler installed with
// SA_NOCLDSTOP, stopping and continuing a child ran that handler twice more.
// kevent_signal(7): an ignored signal stays ignored; kevent_proc(7): a
// program that sets SIGCHLD to SIG_IGN (or uses SA_NOCLDWAIT) has its
// children reaped by the kernel.
//
// Root cause: the library's handler replaced SIG_IGN and carried over only
// SA_NODEFER and SA_ONSTACK of the disposition it stood in for; SA_NOCLDWAIT,
// SA_NOCLDSTOP and SIGCHLD's SIG_IGN are read by the kernel itself when a
// child exits or stops, and were lost.
//
// Fix (src/origin/signal.cpp): the handler keeps SA_NOCLDSTOP and
// SA_NOCLDWAIT; SIGCHLD set to SIG_IGN is stood in for with SA_NOCLDWAIT
// (the kernel reaps the children and, on Linux, still sends SIGCHLD, which
// the kevent counts: kevent_signal(7)); the program still reads SIG_IGN
// (origin/signal_chain.cpp).
//
// Each case restores SIGCHLD's disposition: run directly, the cases share
// one process.
#include "kevent_test.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>

using kevent_test::make;

namespace {

std::atomic<int> sigchld_runs{0};
void count_sigchld(int) { sigchld_runs.fetch_add(1); }

// Puts the disposition of `sig` back as it was, whatever the case did.
class disposition_guard {
public:
	explicit disposition_guard(int sig) : sig_(sig) {
		EXPECT_EQ(0, sigaction(sig, nullptr, &saved_));
	}
	~disposition_guard() { sigaction(sig_, &saved_, nullptr); }

private:
	int sig_;
	struct sigaction saved_ {};
};

void set_sigchld(void (*h)(int), int flags) {
	struct sigaction sa {};
	sa.sa_handler = h;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGCHLD, &sa, nullptr)) << std::strerror(errno);
}

struct sigaction sigchld_now() {
	struct sigaction sa {};
	EXPECT_EQ(0, sigaction(SIGCHLD, nullptr, &sa));
	return sa;
}

ukevent sigchld_event(bool nomask) {
	kevent_id id{};
	id.raw[0] = SIGCHLD;
	return make(KEVENT_SIGNAL, id.raw_u64 | (nomask ? KEVENT_SIGNAL_NOMASK : 0),
		    KEVENT_SIGNAL_DELIVERY);
}

// A child that exits at once.
pid_t fork_exiting_child() {
	pid_t pid = ::fork();
	if (pid == 0)
		_exit(0);
	EXPECT_GT(pid, 0) << std::strerror(errno);
	return pid;
}

// With the kernel reaping, waitpid blocks until the child is gone, then
// fails with ECHILD; a zombie left behind is returned instead.
void expect_reaped_by_the_kernel(pid_t pid) {
	int st = 0;
	pid_t r;
	do
		r = ::waitpid(pid, &st, 0);
	while (r < 0 && errno == EINTR);
	EXPECT_EQ(-1, r) << "the child was left a zombie for the program to reap";
	EXPECT_EQ(ECHILD, errno);
}

// Deliveries of SIGCHLD the queue reports within `ms` milliseconds.
uint32_t reported(int kfd, long ms) {
	uint32_t n = 0;
	for (const ukevent &e : kevent_test::get(kfd, 1, 8, ms))
		n += e.ret_data[0];
	return n;
}

class SigchldWatchBreaksAutoreap : public kevent_test::QueueTest {};

TEST_P(SigchldWatchBreaksAutoreap, SigIgnStillReapsAndStaysIgnored) {
	disposition_guard g(SIGCHLD);
	for (bool nomask : {false, true}) {
		SCOPED_TRACE(nomask ? "NOMASK" : "plain");
		set_sigchld(SIG_IGN, 0);
		ukevent e = sigchld_event(nomask);
		ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &e));
		EXPECT_EQ(SIG_IGN, sigchld_now().sa_handler) << "SIG_IGN was replaced";
		expect_reaped_by_the_kernel(fork_exiting_child());
		// Reaped by the kernel, and counted (SA_NOCLDWAIT: Linux still
		// sends SIGCHLD), as kqueue counts an ignored signal.
		EXPECT_EQ(1u, reported(kfd, 2000));
		ukevent rm = sigchld_event(nomask);
		ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &rm));
		EXPECT_EQ(SIG_IGN, sigchld_now().sa_handler);
	}
}

TEST_P(SigchldWatchBreaksAutoreap, NocldwaitWithAHandlerStillReaps) {
	disposition_guard g(SIGCHLD);
	sigchld_runs = 0;
	set_sigchld(count_sigchld, SA_NOCLDWAIT);
	ukevent e = sigchld_event(false);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &e));
	expect_reaped_by_the_kernel(fork_exiting_child());
	// Linux still sends SIGCHLD with SA_NOCLDWAIT: reported, and the
	// program's handler ran for it.
	EXPECT_EQ(1u, reported(kfd, 2000));
	EXPECT_EQ(1, sigchld_runs.load());
	ukevent rm = sigchld_event(false);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &rm));
	EXPECT_EQ(SA_NOCLDWAIT, sigchld_now().sa_flags & SA_NOCLDWAIT);
}

TEST_P(SigchldWatchBreaksAutoreap, NocldwaitWithTheDefaultActionStillReaps) {
	disposition_guard g(SIGCHLD);
	set_sigchld(SIG_DFL, SA_NOCLDWAIT);
	ukevent e = sigchld_event(false);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &e));
	expect_reaped_by_the_kernel(fork_exiting_child());
	EXPECT_EQ(1u, reported(kfd, 2000));
}

TEST_P(SigchldWatchBreaksAutoreap, NocldstopHandlerRunsForTheExitOnly) {
	disposition_guard g(SIGCHLD);
	sigchld_runs = 0;
	set_sigchld(count_sigchld, SA_NOCLDSTOP | SA_RESTART);
	ukevent e = sigchld_event(false);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &e));
	int p[2];
	ASSERT_EQ(0, ::pipe2(p, O_CLOEXEC));
	pid_t pid = ::fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		char b;
		while (::read(p[0], &b, 1) < 0 && errno == EINTR) {
		}
		_exit(0);
	}
	::close(p[0]);
	int st = 0;
	ASSERT_EQ(0, ::kill(pid, SIGSTOP));
	ASSERT_EQ(pid, ::waitpid(pid, &st, WUNTRACED));
	ASSERT_TRUE(WIFSTOPPED(st));
	ASSERT_EQ(0, ::kill(pid, SIGCONT));
	ASSERT_EQ(pid, ::waitpid(pid, &st, WCONTINUED));
	ASSERT_TRUE(WIFCONTINUED(st));
	ASSERT_EQ(1, ::write(p[1], "x", 1));
	::close(p[1]);
	ASSERT_EQ(pid, ::waitpid(pid, &st, 0));
	EXPECT_EQ(1u, reported(kfd, 2000)) << "a stop or a continue was reported";
	EXPECT_EQ(1, sigchld_runs.load()) << "SA_NOCLDSTOP: the handler runs for the exit only";
}

KEVENT_INSTANTIATE_BACKENDS(SigchldWatchBreaksAutoreap);

} // namespace
