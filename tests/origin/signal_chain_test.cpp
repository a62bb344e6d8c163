// SPDX-License-Identifier: MIT
// signal_chain (kevent_signal(7), "The program's own dispositions"): a
// sigaction(2) or signal(3) of the program for a signal a SIGNAL kevent
// watches is recorded and chained behind the library's handler: the kevent
// keeps counting; a handler of the program runs; SIG_IGN ignores (the
// process is not killed); SIG_DFL is the default action; SIGCHLD set to
// SIG_IGN still has its children reaped by the kernel. The program reads
// back its own dispositions, and after the last kevent the one it set last
// is the kernel's.
#include "../support/kevent_test.hpp"

#include <atomic>
#include <csignal>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

using kevent_test::make;

namespace {

// TSan puts its own handler in the kernel for every handler of the program:
// what the kernel holds cannot be compared with the program's handler there.
#if defined(__SANITIZE_THREAD__)
#define SKIP_UNDER_TSAN() GTEST_SKIP() << "TSan installs its own handler in the kernel"
#else
#define SKIP_UNDER_TSAN() (void)0
#endif

std::atomic<int> runs{0};
void count_run(int) { runs.fetch_add(1); }
std::atomic<int> other_runs{0};
void count_other(int) { other_runs.fetch_add(1); }

// Puts the disposition of `sig` back as it was, whatever the case did.
class disposition_guard {
public:
	explicit disposition_guard(int sig) : sig_(sig) { sigaction(sig, nullptr, &saved_); }
	~disposition_guard() { sigaction(sig_, &saved_, nullptr); }

private:
	int sig_;
	struct sigaction saved_ {};
};

struct sigaction with(void (*h)(int), int flags = 0) {
	struct sigaction sa {};
	sa.sa_handler = h;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	return sa;
}

// What the kernel holds, past any library: the raw system call.
struct kernel_sigaction {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)();
	uint64_t mask;
};
void (*kernel_handler(int sig))(int) {
	kernel_sigaction k{};
	syscall(SYS_rt_sigaction, sig, nullptr, &k, sizeof k.mask);
	return k.handler;
}

ukevent signal_event(int sig) {
	kevent_id id{};
	id.raw[0] = static_cast<uint32_t>(sig);
	return make(KEVENT_SIGNAL, id.raw_u64, KEVENT_SIGNAL_DELIVERY, 0, 9);
}

// Deliveries the queue reports within `ms` milliseconds.
uint32_t reported(int kfd, long ms) {
	uint32_t n = 0;
	for (const ukevent &e : kevent_test::get(kfd, 1, 8, ms))
		n += e.ret_data[0];
	return n;
}

class SignalChain : public kevent_test::QueueTest {
protected:
	void add_signal(int sig) {
		ukevent e = signal_event(sig);
		ASSERT_EQ(0, add(e)) << std::strerror(errno);
	}
	void remove_signal(int sig) {
		ukevent e = signal_event(sig);
		ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &e)) << std::strerror(errno);
	}
};

} // namespace

// A handler the program installs after the ADD runs, and the kevent counts;
// the program reads back what it set, and before that what it had.
TEST_P(SignalChain, HandlerInstalledAfterAddRunsAndTheKeventCounts) {
	SKIP_UNDER_TSAN();
	disposition_guard g(SIGUSR2);
	struct sigaction first = with(count_other);
	ASSERT_EQ(0, sigaction(SIGUSR2, &first, nullptr));
	add_signal(SIGUSR2);
	runs = other_runs = 0;
	struct sigaction mine = with(count_run), before{};
	ASSERT_EQ(0, sigaction(SIGUSR2, &mine, &before));
	EXPECT_EQ(count_other, before.sa_handler) << "the program's previous disposition";
	struct sigaction now {};
	ASSERT_EQ(0, sigaction(SIGUSR2, nullptr, &now));
	EXPECT_EQ(count_run, now.sa_handler);
	EXPECT_NE(count_run, kernel_handler(SIGUSR2)) << "the library's handler stays";
	ASSERT_EQ(0, raise(SIGUSR2));
	EXPECT_EQ(1u, reported(kfd, 2000));
	EXPECT_EQ(1, runs.load());
	EXPECT_EQ(0, other_runs.load());
	remove_signal(SIGUSR2);
	EXPECT_EQ(count_run, kernel_handler(SIGUSR2)) << "the last disposition, back in the kernel";
}

// signal(3) likewise.
TEST_P(SignalChain, SignalAfterAddRunsAndTheKeventCounts) {
	disposition_guard g(SIGUSR2);
	add_signal(SIGUSR2);
	runs = 0;
	EXPECT_EQ(SIG_DFL, signal(SIGUSR2, count_run));
	ASSERT_EQ(0, raise(SIGUSR2));
	EXPECT_EQ(1u, reported(kfd, 2000));
	EXPECT_EQ(1, runs.load());
	EXPECT_EQ(count_run, signal(SIGUSR2, SIG_DFL));
	remove_signal(SIGUSR2);
}

// SIG_IGN after the ADD (libevent's order): counted, and ignored — SIGUSR2's
// default action would end the process. After the REMOVE the kernel holds
// SIG_IGN.
TEST_P(SignalChain, SigIgnAfterAddIsCountedAndIgnored) {
	disposition_guard g(SIGUSR2);
	for (bool by_signal : {false, true}) {
		SCOPED_TRACE(by_signal ? "signal(3)" : "sigaction(2)");
		add_signal(SIGUSR2);
		if (by_signal) {
			ASSERT_NE(SIG_ERR, signal(SIGUSR2, SIG_IGN));
		} else {
			struct sigaction ign = with(SIG_IGN);
			ASSERT_EQ(0, sigaction(SIGUSR2, &ign, nullptr));
		}
		ASSERT_EQ(0, raise(SIGUSR2));
		ASSERT_EQ(0, raise(SIGUSR2));
		EXPECT_EQ(2u, reported(kfd, 2000));
		remove_signal(SIGUSR2);
		EXPECT_EQ(SIG_IGN, kernel_handler(SIGUSR2));
		struct sigaction dfl = with(SIG_DFL);
		ASSERT_EQ(0, sigaction(SIGUSR2, &dfl, nullptr));
	}
}

// SIG_DFL after the ADD: the program's earlier handler no longer runs, the
// default action happens (ignore, for SIGWINCH), the kevent counts.
TEST_P(SignalChain, SigDflAfterAddIsTheDefaultAndCounted) {
	disposition_guard g(SIGWINCH);
	struct sigaction mine = with(count_run);
	ASSERT_EQ(0, sigaction(SIGWINCH, &mine, nullptr));
	add_signal(SIGWINCH);
	runs = 0;
	struct sigaction dfl = with(SIG_DFL);
	ASSERT_EQ(0, sigaction(SIGWINCH, &dfl, nullptr));
	ASSERT_EQ(0, raise(SIGWINCH));
	EXPECT_EQ(1u, reported(kfd, 2000));
	EXPECT_EQ(0, runs.load());
	remove_signal(SIGWINCH);
	EXPECT_EQ(SIG_DFL, kernel_handler(SIGWINCH));
}

// SIG_DFL after the ADD for a signal whose default ends the process: it
// does (in a child, which the parent watches die of it).
TEST_P(SignalChain, SigDflAfterAddStillTerminates) {
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int q = kevent_init(nullptr, 0, GetParam().flags);
		ukevent e = signal_event(SIGUSR2);
		struct sigaction mine = with(count_run), dfl = with(SIG_DFL);
		sigaction(SIGUSR2, &mine, nullptr);
		if (q < 0 || kevent_ctl(q, KEVENT_CTL_ADD, 1, &e) != 0)
			_exit(3);
		sigaction(SIGUSR2, &dfl, nullptr);
		raise(SIGUSR2);
		_exit(4); // not reached
	}
	int st = 0;
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	ASSERT_TRUE(WIFSIGNALED(st)) << "exit status " << WEXITSTATUS(st);
	EXPECT_EQ(SIGUSR2, WTERMSIG(st));
}

// SIGCHLD set to SIG_IGN after the ADD: the kernel still reaps the children
// (SA_NOCLDWAIT behind the library's handler), and the kevent counts them.
TEST_P(SignalChain, SigchldSigIgnAfterAddStillReapsAndCounts) {
	disposition_guard g(SIGCHLD);
	add_signal(SIGCHLD);
	struct sigaction ign = with(SIG_IGN);
	ASSERT_EQ(0, sigaction(SIGCHLD, &ign, nullptr));
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	ASSERT_GT(pid, 0);
	int st = 0;
	pid_t r;
	do
		r = waitpid(pid, &st, 0);
	while (r < 0 && errno == EINTR);
	EXPECT_EQ(-1, r) << "the child was left a zombie";
	EXPECT_EQ(ECHILD, errno);
	EXPECT_EQ(1u, reported(kfd, 2000));
	remove_signal(SIGCHLD);
	EXPECT_EQ(SIG_IGN, kernel_handler(SIGCHLD));
}

// A signal nobody watches is the C library's business: the kernel holds
// what the program sets.
TEST_P(SignalChain, UnwatchedSignalsPassThrough) {
	SKIP_UNDER_TSAN();
	disposition_guard g(SIGUSR2);
	struct sigaction mine = with(count_run);
	ASSERT_EQ(0, sigaction(SIGUSR2, &mine, nullptr));
	EXPECT_EQ(count_run, kernel_handler(SIGUSR2));
	EXPECT_EQ(count_run, signal(SIGUSR2, SIG_DFL));
	EXPECT_EQ(SIG_DFL, kernel_handler(SIGUSR2));
	EXPECT_EQ(SIG_ERR, signal(0, SIG_DFL));
	EXPECT_EQ(EINVAL, errno);
}

KEVENT_INSTANTIATE_BACKENDS(SignalChain);
