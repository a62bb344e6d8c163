// SPDX-License-Identifier: MIT
// proc_event_after_reap_test — issue 14, item 5.
//
// Bug: a PROC kevent came back after its process had been reaped (by the
// program's waitpid(2), or by KEVENT_PROC_REAP): a second event, with
// ret_data[0] = 0, in the default mode, ET and LEVEL alike. kevent_proc(7):
// a process exits once; the kevent stays registered but does not come back.
//
// Root cause: the origin turned every report of the pidfd into a delivery.
// Linux (6.9+) wakes a pidfd's waiters again when the zombie is reaped, so
// the reap was a second "exit"; waitid(2) then found no child (ECHILD) and
// the status went out as 0.
//
// Fix (src/origin/proc.cpp): the first report that finds the process gone is
// the only one. The status is read then and the pidfd is no longer watched;
// LEVEL means nothing more for a process than the other modes (it has exited
// once, there is no condition to report again), as kevent_proc(7) says.
#include "kevent_test.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

using kevent_test::make;

namespace {

uint64_t pid_id(pid_t pid) {
	kevent_id id{};
	id.raw[0] = static_cast<uint32_t>(pid);
	return id.raw_u64;
}

// A child that exits with `code` once a byte arrives on its pipe; go() lets
// it and returns once it is a zombie (not reaped).
class held_child {
public:
	explicit held_child(int code) {
		int p[2];
		EXPECT_EQ(0, ::pipe2(p, O_CLOEXEC));
		pid_ = ::fork();
		if (pid_ == 0) {
			::close(p[1]);
			char b;
			while (::read(p[0], &b, 1) < 0 && errno == EINTR) {
			}
			_exit(code);
		}
		::close(p[0]);
		go_ = p[1];
	}
	held_child(const held_child &) = delete;
	held_child &operator=(const held_child &) = delete;
	~held_child() {
		if (go_ >= 0)
			::close(go_);
		int st;
		::waitpid(pid_, &st, 0); // ECHILD if reaped already
	}
	pid_t pid() const { return pid_; }
	void exit_now() {
		char b = 'x';
		EXPECT_EQ(1, ::write(go_, &b, 1));
		siginfo_t si{};
		int r;
		do
			r = ::waitid(P_PID, static_cast<id_t>(pid_), &si, WEXITED | WNOWAIT);
		while (r < 0 && errno == EINTR);
		EXPECT_EQ(0, r) << std::strerror(errno);
	}

private:
	pid_t pid_ = -1;
	int go_ = -1;
};

struct mode {
	unsigned req;
	const char *name;
};
constexpr mode modes[] = {{0, "default"}, {KEVENT_REQ_ET, "ET"}, {KEVENT_REQ_LEVEL, "LEVEL"}};

class ProcEventAfterReap : public kevent_test::QueueTest {
protected:
	// The exit, once, with its status; then `reap` (which must leave no
	// zombie behind); then nothing more, whatever else the queue does.
	void exits_once(unsigned bits, unsigned req, const char *name, void (*reap)(pid_t)) {
		SCOPED_TRACE(name);
		held_child c(7);
		ukevent e = make(KEVENT_PROC, pid_id(c.pid()), bits, req);
		ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &e));
		c.exit_now();
		auto ev = kevent_test::get(kfd, 1, 8, 2000);
		ASSERT_EQ(1u, ev.size());
		EXPECT_EQ(0x700u, ev[0].ret_data[0]);
		EXPECT_EQ(0u, ev[0].ret_flags);
		reap(c.pid());
		auto again = kevent_test::get(kfd, 1, 8, 100);
		EXPECT_TRUE(again.empty()) << "the exit came back after the reap, ret_data[0] = "
					   << (again.empty() ? 0 : again[0].ret_data[0]);
		// Still registered (not ONESHOT), and REMOVE takes it.
		EXPECT_EQ(1u, kevent_test::queue_stats(kfd).registered);
		ukevent rm = make(KEVENT_PROC, pid_id(c.pid()), KEVENT_PROC_EXIT);
		ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &rm));
	}
};

void program_reaps(pid_t pid) {
	int st = 0;
	ASSERT_EQ(pid, ::waitpid(pid, &st, 0));
	EXPECT_EQ(7, WEXITSTATUS(st));
}

void reaped_already(pid_t pid) {
	int st;
	errno = 0;
	EXPECT_EQ(-1, ::waitpid(pid, &st, WNOHANG)) << "KEVENT_PROC_REAP left a zombie";
	EXPECT_EQ(ECHILD, errno);
}

TEST_P(ProcEventAfterReap, TheProgramsWaitpidDoesNotBringItBack) {
	for (const mode &m : modes)
		exits_once(KEVENT_PROC_EXIT, m.req, m.name, program_reaps);
}

TEST_P(ProcEventAfterReap, KeventProcReapDoesNotBringItBack) {
	for (const mode &m : modes)
		exits_once(KEVENT_PROC_EXIT | KEVENT_PROC_REAP, m.req, m.name, reaped_already);
}

KEVENT_INSTANTIATE_BACKENDS(ProcEventAfterReap);

} // namespace
