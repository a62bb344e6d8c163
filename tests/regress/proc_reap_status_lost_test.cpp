// SPDX-License-Identifier: MIT
// proc_reap_status_lost_test — issue 14, item 4.
//
// Bug: a PROC kevent with KEVENT_PROC_REAP was delivered with ret_data[0] = 0
// instead of the child's wait status (0x700 for exit(7)) whenever another
// ADD looked at the backend between the exit and the harvest (190 of 200
// staggered children).
//
// Root cause: the origin ran waitid(2) on every report of the pidfd. The
// ADD's look at the backend took the exit report: waitid read 0x700 and, with
// REAP, reaped the child. Reaping wakes the pidfd once more (Linux 6.9+), so
// the next harvest ran waitid again, got ECHILD and overwrote the status
// with 0 while the kevent still waited on the ready list.
//
// Fix (src/origin/proc.cpp): the first report that finds the process gone
// reads its status once, keeps it, and stops watching the pidfd; later
// reports change nothing.
#include "kevent_test.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

using kevent_test::make;

namespace {

uint64_t pid_id(pid_t pid) {
	kevent_id id{};
	id.raw[0] = static_cast<uint32_t>(pid);
	return id.raw_u64;
}

// A child that exits with `code` once a byte arrives on its pipe.
struct held_child {
	pid_t pid = -1;
	int go = -1;
};

held_child spawn(int code) {
	int p[2];
	EXPECT_EQ(0, ::pipe2(p, O_CLOEXEC));
	held_child c;
	c.pid = ::fork();
	if (c.pid == 0) {
		::close(p[1]);
		char b;
		while (::read(p[0], &b, 1) < 0 && errno == EINTR) {
		}
		_exit(code);
	}
	::close(p[0]);
	c.go = p[1];
	return c;
}

// Let it exit and return once it is a zombie (not reaped).
void exit_and_wait(held_child &c) {
	char b = 'x';
	EXPECT_EQ(1, ::write(c.go, &b, 1));
	::close(c.go);
	siginfo_t si{};
	int r;
	do
		r = ::waitid(P_PID, static_cast<id_t>(c.pid), &si, WEXITED | WNOWAIT);
	while (r < 0 && errno == EINTR);
	EXPECT_EQ(0, r) << std::strerror(errno);
}

class ProcReapStatusLost : public kevent_test::QueueTest {};

TEST_P(ProcReapStatusLost, AnUnrelatedAddBeforeTheHarvestKeepsTheStatus) {
	constexpr int rounds = 20;
	for (int i = 0; i < rounds; i++) {
		held_child c = spawn(7);
		ASSERT_GT(c.pid, 0);
		ukevent e = make(KEVENT_PROC, pid_id(c.pid), KEVENT_PROC_EXIT | KEVENT_PROC_REAP, 0,
				 static_cast<uint64_t>(i));
		ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &e));
		exit_and_wait(c);
		// Any fd ADD makes the queue look at the backend: it takes the
		// exit report (and reaps) before kevent_get_events does.
		int efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		ASSERT_GE(efd, 0);
		ukevent other = make(KEVENT_POLL, static_cast<uint64_t>(efd), POLLIN);
		ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &other));
		auto ev = kevent_test::get(kfd, 1, 8, 2000);
		ASSERT_EQ(1u, ev.size()) << "round " << i;
		EXPECT_EQ(pid_id(c.pid), ev[0].id.raw_u64);
		EXPECT_EQ(0x700u, ev[0].ret_data[0])
			<< "round " << i << ": the status read at the exit was overwritten";
		int st;
		errno = 0;
		EXPECT_EQ(-1, ::waitpid(c.pid, &st, WNOHANG)) << "REAP left the child unreaped";
		EXPECT_EQ(ECHILD, errno);
		ukevent rm[2] = {make(KEVENT_PROC, pid_id(c.pid), KEVENT_PROC_EXIT),
				 make(KEVENT_POLL, static_cast<uint64_t>(efd), POLLIN)};
		ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 2, rm));
		::close(efd);
	}
}

KEVENT_INSTANTIATE_BACKENDS(ProcReapStatusLost);

} // namespace
