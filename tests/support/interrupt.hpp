// SPDX-License-Identifier: MIT
// interrupt.hpp — interrupting a blocked wait with a signal, for the tests of
// KEVENT_FLAGS_EINTR: a thread runs the wait; the test sends SIGUSR1 with
// pthread_kill once /proc shows that thread asleep in a backend's wait, and
// waits for the handler to have run — no case depends on timing.
#pragma once

#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <pthread.h>
#include <string>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>

namespace kevent_test {

inline std::atomic<int> handler_runs{0};
inline void on_usr1(int) { handler_runs.fetch_add(1); }

// The handler for SIGUSR1 while a case runs; the old one back after.
class usr1_handler {
public:
	explicit usr1_handler(int flags) {
		struct sigaction sa {};
		sa.sa_handler = on_usr1;
		sa.sa_flags = flags;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGUSR1, &sa, &old_);
	}
	~usr1_handler() { sigaction(SIGUSR1, &old_, nullptr); }

private:
	struct sigaction old_ {};
};

// Is thread `tid` asleep in one of the backends' blocking waits?
inline bool blocked_in_wait(pid_t tid) {
	char path[64];
	std::snprintf(path, sizeof path, "/proc/self/task/%d/syscall", static_cast<int>(tid));
	std::ifstream f(path);
	long nr = -1;
	if (!(f >> nr))
		return false;
	if (nr != SYS_epoll_wait && nr != SYS_epoll_pwait && nr != 441 /* epoll_pwait2 */ &&
	    nr != SYS_io_uring_enter)
		return false;
	// io_uring_enter also submits without waiting: asleep in the wait?
	std::snprintf(path, sizeof path, "/proc/self/task/%d/wchan", static_cast<int>(tid));
	std::ifstream w(path);
	std::string where;
	w >> where;
	return where.find("ep_poll") != std::string::npos ||
	       where.find("epoll") != std::string::npos ||
	       where.find("io_cqring_wait") != std::string::npos;
}

inline void wait_until_blocked(pid_t tid) {
	while (!blocked_in_wait(tid))
		std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

// A thread that runs `call` (a blocking wait) and keeps its result.
class waiter {
public:
	template <class F> explicit waiter(F call) {
		th_ = std::thread([this, call] {
			tid_.store(static_cast<pid_t>(syscall(SYS_gettid)));
			int r = call();
			err_ = errno;
			result_.store(r);
			done_.store(true);
		});
		while (!tid_.load())
			std::this_thread::yield();
	}
	~waiter() {
		if (th_.joinable())
			th_.join();
	}
	// Sends SIGUSR1 once the thread blocks in the kernel, and waits for
	// the handler to have run there.
	void interrupt() {
		wait_until_blocked(tid_.load());
		int before = handler_runs.load();
		pthread_kill(th_.native_handle(), SIGUSR1);
		while (handler_runs.load() == before)
			std::this_thread::yield();
	}
	void block_again() { wait_until_blocked(tid_.load()); }
	bool done() const { return done_.load(); }
	int join(int &err) {
		th_.join();
		err = err_;
		return result_.load();
	}

private:
	std::thread th_;
	std::atomic<pid_t> tid_{0};
	std::atomic<int> result_{0};
	std::atomic<bool> done_{false};
	int err_ = 0;
};

} // namespace kevent_test
