// SPDX-License-Identifier: MIT
// signal_watch_forces_sa_restart_test — found auditing issue 21, item 5 (every
// flag of the disposition the library's handler stands in for).
//
// Bug: while a SIGNAL kevent watched a signal, the library's handler was
// installed with SA_RESTART whatever the program had asked for. A program
// whose handler was installed without SA_RESTART, to interrupt a blocking
// read(2) (the classic alarm() timeout), saw the read restarted instead of
// failing with EINTR: it blocked on.
//
// Root cause: src/origin/signal.cpp built its disposition from SA_SIGINFO |
// SA_RESTART and only SA_NODEFER|SA_ONSTACK of the program's.
//
// Fix: when the program's handler is to run, SA_RESTART is the program's
// choice; with no handler of the program's to run (SIG_DFL, SIG_IGN, or a
// NOMASK kevent consuming the signal) nothing would have interrupted a system
// call, so the library's handler restarts them.
//
// Each case restores SIGUSR1's disposition: run directly, the cases share one
// process.
#include "kevent_test.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <fstream>
#include <string>
#include <thread>

using kevent_test::make;

namespace {

// TSan's runtime stands between the kernel and every signal handler: it
// installs its own, defers a signal that interrupts a blocking call until the
// call returns, and emulates SA_RESETHAND. What the kernel does with a
// disposition's flags cannot be observed there.
#if defined(__SANITIZE_THREAD__)
constexpr const char *tsan_owns_signals = "TSan delivers signals its own way (asan runs it)";
#endif

std::atomic<int> runs{0};
void count_run(int) { runs.fetch_add(1); }

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

// Is thread `tid` of this process blocked in read(2)? (/proc/<tid>/syscall
// names the system call a sleeping thread is in.)
bool blocked_in_read(pid_t tid) {
	std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/syscall");
	long nr = -1;
	return (f >> nr) && nr == SYS_read;
}

class SignalWatchForcesSaRestart : public kevent_test::QueueTest {
protected:
	void SetUp() override {
#if defined(__SANITIZE_THREAD__)
		GTEST_SKIP() << tsan_owns_signals;
#endif
		QueueTest::SetUp();
	}

	// A thread blocked in read(2) on an empty pipe takes SIGUSR1, whose
	// program handler was installed with `flags`, while a kevent (NOMASK
	// or not) watches it. Returns what the read returned (errno in err).
	ssize_t read_hit_by_the_signal(int flags, bool nomask, int &err) {
		struct sigaction sa {};
		sa.sa_handler = count_run;
		sa.sa_flags = flags;
		sigemptyset(&sa.sa_mask);
		EXPECT_EQ(0, sigaction(SIGUSR1, &sa, nullptr));
		kevent_id id{};
		id.raw[0] = SIGUSR1;
		ukevent e = make(KEVENT_SIGNAL, id.raw_u64 | (nomask ? KEVENT_SIGNAL_NOMASK : 0),
				 KEVENT_SIGNAL_DELIVERY);
		EXPECT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &e));

		int p[2];
		EXPECT_EQ(0, ::pipe2(p, O_CLOEXEC));
		runs = 0;
		std::atomic<pid_t> tid{0};
		ssize_t got = -2;
		std::thread reader([&] {
			tid = static_cast<pid_t>(::syscall(SYS_gettid));
			char b;
			got = ::read(p[0], &b, 1);
			err = errno;
		});
		while (tid == 0 || !blocked_in_read(tid))
			std::this_thread::yield();
		EXPECT_EQ(0, pthread_kill(reader.native_handle(), SIGUSR1));
		// Once the library's handler runs (the queue reports the
		// delivery), the kernel has decided between EINTR and a restart;
		// the byte then ends a restarted read.
		auto ev = kevent_test::get(kfd, 1, 8, 5000);
		EXPECT_EQ(1u, ev.size()) << "the delivery was not reported";
		EXPECT_EQ(1, ::write(p[1], "x", 1));
		reader.join();
		::close(p[0]);
		::close(p[1]);
		EXPECT_EQ(nomask ? 0 : 1, runs.load()) << "the program's handler";
		return got;
	}
};

TEST_P(SignalWatchForcesSaRestart, AHandlerWithoutSaRestartStillInterruptsARead) {
	disposition_guard g(SIGUSR1);
	int err = 0;
	EXPECT_EQ(-1, read_hit_by_the_signal(0, false, err)) << "the read was restarted";
	EXPECT_EQ(EINTR, err);
}

TEST_P(SignalWatchForcesSaRestart, AHandlerWithSaRestartStillRestartsARead) {
	disposition_guard g(SIGUSR1);
	int err = 0;
	EXPECT_EQ(1, read_hit_by_the_signal(SA_RESTART, false, err)) << std::strerror(err);
}

// NOMASK consumes the signal: the program's handler does not run, so nothing
// is there to interrupt the read, whatever flags that handler has.
TEST_P(SignalWatchForcesSaRestart, ANomaskKeventDoesNotInterruptARead) {
	disposition_guard g(SIGUSR1);
	int err = 0;
	EXPECT_EQ(1, read_hit_by_the_signal(0, true, err)) << std::strerror(err);
}

KEVENT_INSTANTIATE_BACKENDS(SignalWatchForcesSaRestart);

} // namespace
