// SPDX-License-Identifier: MIT
// child_process.hpp — fork(2) a child that must finish by itself, and wait
// for it a bounded time: a child that hangs (the fork defects of issue 21
// spun forever in kevent_close) is killed and reported, never waited for
// until ctest's timeout.
#pragma once

#include <kevent/kevent.h>

#include <cerrno>
#include <csignal>
#include <poll.h>
#include <string>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace kevent_test {

// How a child ended: exited with `code`, died of `signal`, or hung (killed
// after the time allowed).
struct child_end {
	bool hung = false;
	int code = -1;  // exit status, if it exited
	int signal = 0; // the signal that ended it, if one did
	bool ok() const { return !hung && signal == 0 && code == 0; }
	std::string describe() const {
		if (hung)
			return "hung (killed)";
		if (signal)
			return "died of signal " + std::to_string(signal);
		return "exited " + std::to_string(code);
	}
};

// Wait for `pid` at most `seconds`; kill it if it is still running then.
inline child_end wait_child(pid_t pid, int seconds) {
	child_end e;
	int status = 0;
	long pfd = syscall(SYS_pidfd_open, pid, 0);
	if (pfd >= 0) {
		pollfd p{static_cast<int>(pfd), POLLIN, 0};
		int r;
		while ((r = poll(&p, 1, seconds * 1000)) < 0 && errno == EINTR) {
		}
		close(static_cast<int>(pfd));
		if (r == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			e.hung = true;
			return e;
		}
	}
	// Exited (or no pidfd here: then wait without a bound).
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return e; // not our child: code -1 says so
	if (WIFEXITED(status))
		e.code = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		e.signal = WTERMSIG(status);
	return e;
}

// fork(2) and run `body` in the child, which _exit()s with its result (and
// is killed if the test process dies first). The child's pid, or -1.
template <class Body> pid_t fork_child(Body body) {
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(body());
	}
	return pid;
}

#if defined(__has_feature)
#define KEVENT_TEST_FEATURE(x) __has_feature(x)
#else
#define KEVENT_TEST_FEATURE(x) 0
#endif
#if defined(__SANITIZE_THREAD__) || KEVENT_TEST_FEATURE(thread_sanitizer)
inline constexpr bool under_tsan = true;
#else
inline constexpr bool under_tsan = false;
#endif
// Why a test that forks while its other threads run is skipped under TSan:
// Debian 12's libtsan (GCC 12) does not hold its own allocator's locks
// across fork(2) (LLVM added that in 2024, llvm-project PR 96600), so a
// child that allocates can hang for ever in TSan's malloc — seen here, a
// child stuck in SizeClassAllocator64::GetFromAllocator under kevent_init —
// and TSan stops checking in such a child anyway. The default and ASan runs
// keep these tests.
inline constexpr const char *tsan_threaded_fork =
	"TSan's runtime (GCC 12) can hang a child forked beside running threads in its own malloc; "
	"the default and ASan runs check this";
#if defined(__SANITIZE_ADDRESS__) || KEVENT_TEST_FEATURE(address_sanitizer)
inline constexpr bool under_asan = true;
#else
inline constexpr bool under_asan = false;
#endif

// Children forked one after another, each waited for a bounded time.
struct fork_rounds {
	int bad = 0;      // children that did not exit 0 in time
	std::string last; // how the last of them ended
};

// Fork up to `count` children running `body`, each given `seconds`; stop
// after `max_bad` failures (each hang costs its full wait).
template <class Body> fork_rounds fork_many(int count, int seconds, Body body, int max_bad = 3) {
	fork_rounds r;
	for (int i = 0; i < count && r.bad < max_bad; i++) {
		pid_t child = fork_child(body);
		if (child < 0)
			continue;
		child_end e = wait_child(child, seconds);
		if (!e.ok()) {
			r.bad++;
			r.last = e.describe();
		}
	}
	return r;
}

// Fewer iterations under the sanitizers, which make fork(2) and every
// call several times slower; the assertions stay the same.
inline constexpr int sanitizer_divisor = under_tsan || under_asan ? 10 : 1;

// The backend for threads that only make and close queues around the one
// under test. TSan cannot see liburing map and unmap its rings (raw system
// calls), so two threads making io_uring queues at once, one ring taking
// the address of another just unmapped, look to it like a race on the
// ring's memory: there such threads use epoll, and the queue under test
// keeps its backend.
inline unsigned churn_backend(unsigned flags) {
	return under_tsan && flags == KEVENT_INIT_URING ? KEVENT_INIT_EPOLL : flags;
}

} // namespace kevent_test
