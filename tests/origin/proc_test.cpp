// SPDX-License-Identifier: MIT
// proc_test — the PROC origin (kqueue's EVFILT_PROC/NOTE_EXIT, on a pidfd):
// the common contract (origin_contract.hpp) where a process exit fits it, and
// the rules of kevent_proc(7):
//   - a child's exit is delivered with its wait status in ret_data[0]
//     (WIFEXITED/WEXITSTATUS, WIFSIGNALED/WTERMSIG) and the child is left to
//     be reaped, unless KEVENT_PROC_REAP;
//   - a process that is not our child: the exit is reported, ret_data[0] = 0;
//   - a pid that does not exist -> ESRCH; one that has exited already at
//     ADD -> ready at add.
//
// A process exits once, so the contract cases that trigger the same object
// again and again (default/LEVEL "comes back on new activity", two queues
// triggered twice) are replaced by PROC's own versions below.
#include "origin_contract.hpp"

#include <sys/wait.h>

#include <atomic>
#include <csignal>

namespace {

using namespace kevent_origin;

uint64_t pid_id(pid_t pid) {
	kevent_id id{};
	id.raw[0] = static_cast<uint32_t>(pid);
	id.raw[1] = 0;
	return id.raw_u64;
}

// Blocks until `pid` (our child) has exited, without reaping it.
void wait_exited_not_reaped(pid_t pid) {
	siginfo_t si{};
	int r;
	do
		r = ::waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED | WNOWAIT);
	while (r < 0 && errno == EINTR);
	EXPECT_EQ(0, r) << std::strerror(errno);
}

// A child that waits for one byte on a pipe, then exits with `code`. The
// pipe is written, never closed, to end the wait: later children inherit the
// write end of earlier ones.
class child {
public:
	explicit child(int code) {
		int p[2];
		EXPECT_EQ(0, ::pipe2(p, O_CLOEXEC)) << std::strerror(errno);
		pid_ = ::fork();
		EXPECT_GE(pid_, 0) << std::strerror(errno);
		if (pid_ == 0) {
			::close(p[1]);
			char c;
			while (::read(p[0], &c, 1) < 0 && errno == EINTR) {
			}
			_exit(code);
		}
		::close(p[0]);
		w_.reset(p[1]);
	}
	child(const child &) = delete;
	child &operator=(const child &) = delete;
	~child() {
		if (pid_ <= 0)
			return;
		if (!exited_)
			::kill(pid_, SIGKILL);
		int st;
		::waitpid(pid_, &st, 0); // ECHILD when reaped already: fine
	}
	pid_t pid() const { return pid_; }
	// Let it exit, and return once it has (a zombie, not reaped).
	void exit_now() {
		if (exited_)
			return;
		char c = 'x';
		EXPECT_EQ(1, ::write(w_.get(), &c, 1)) << std::strerror(errno);
		wait_exited_not_reaped(pid_);
		exited_ = true;
	}
	void kill_now(int sig) {
		if (exited_)
			return;
		EXPECT_EQ(0, ::kill(pid_, sig));
		wait_exited_not_reaped(pid_);
		exited_ = true;
	}
	// waitpid(WNOHANG): the pid and status if it is still there to reap.
	pid_t reap(int &status) {
		pid_t r = ::waitpid(pid_, &status, WNOHANG);
		if (r == pid_)
			pid_ = -1;
		return r;
	}

private:
	pid_t pid_ = -1;
	unique_fd w_;
	bool exited_ = false;
};

// ---- target for the common contract ----------------------------------------------

class ProcTarget {
public:
	static constexpr unsigned type = KEVENT_PROC;

	explicit ProcTarget(int n) : code_(7 + n), child_(code_) {}
	uint64_t id() const { return pid_id(child_.pid()); }
	unsigned event() const { return KEVENT_PROC_EXIT; }
	void on_added() {}
	void trigger(int) { child_.exit_now(); }
	void check_fired(const ukevent &e) const {
		int st = static_cast<int>(e.ret_data[0]);
		EXPECT_TRUE(WIFEXITED(st)) << describe(e);
		EXPECT_EQ(code_, WEXITSTATUS(st)) << describe(e);
	}
	// A process that has exited already (a zombie) is ready at ADD.
	void make_ready_before_add(ukevent &) { child_.exit_now(); }
	void check_ready_at_add(const ukevent &e) const { check_fired(e); }

private:
	int code_;
	child child_;
};

using ProcContract = Contract<ProcTarget>;
TEST_P(ProcContract, AddKeepsUnreadyKeventRegisteredAndDeliversOnActivity) {
	add_keeps_unready_kevent_registered();
}
TEST_P(ProcContract, AddSameKeyTwiceIsEexist) { add_same_key_twice_is_eexist(); }
TEST_P(ProcContract, AddWithBadReqFlagsIsEinval) { add_with_bad_req_flags_is_einval(); }
TEST_P(ProcContract, RemoveDeletesAndStopsDelivery) { remove_deletes_and_stops_delivery(); }
TEST_P(ProcContract, RemoveDropsAQueuedKevent) { remove_drops_a_queued_kevent(); }
TEST_P(ProcContract, RemoveMissingIsBrokenEnoent) { remove_missing_is_broken_enoent(); }
TEST_P(ProcContract, ModifyMissingIsBrokenEnoent) { modify_missing_is_broken_enoent(); }
TEST_P(ProcContract, ModifyReplacesCookieAndReqFlags) { modify_replaces_cookie_and_req_flags(); }
TEST_P(ProcContract, ModifyWithBadFlagsChangesNothing) { modify_with_bad_flags_changes_nothing(); }
TEST_P(ProcContract, ModifyOfUnreadyKeventQueuesNothing) {
	modify_of_unready_kevent_queues_nothing();
}
TEST_P(ProcContract, OneshotIsDeliveredOnceDoneAndRemoved) {
	oneshot_is_delivered_once_done_and_removed();
}
TEST_P(ProcContract, DefaultDoesNotComeBackWithoutNewActivity) {
	mode_does_not_come_back_without_new_activity(0);
}
TEST_P(ProcContract, EtDoesNotComeBackWithoutNewActivity) {
	mode_does_not_come_back_without_new_activity(KEVENT_REQ_ET);
}
// LEVEL too: "has exited" is not a condition reported at every call, the
// exit is one event (kevent_proc(7)).
TEST_P(ProcContract, LevelDoesNotComeBackWithoutNewActivity) {
	mode_does_not_come_back_without_new_activity(KEVENT_REQ_LEVEL);
}
TEST_P(ProcContract, LastCheckDeliversAKeventStillReady) {
	last_check_delivers_a_kevent_still_ready();
}
TEST_P(ProcContract, AlwaysQueueKeepsAReadyAtAddKeventQueued) {
	always_queue_keeps_a_ready_at_add_kevent_queued();
}
TEST_P(ProcContract, ReqReadyWithAlwaysQueueQueuesAnUnreadyKevent) {
	req_ready_with_always_queue_queues_an_unready_kevent();
}
TEST_P(ProcContract, ReadyAtAddIsCopiedBackDoneAndNotKept) {
	ready_at_add_is_copied_back_done_and_not_kept();
}
TEST_P(ProcContract, ReqReadyAtAddIsCopiedBackDoneAndNotKept) {
	req_ready_at_add_is_copied_back_done_and_not_kept();
}
TEST_P(ProcContract, CopiedBackEntriesAreCompactedInInputOrder) {
	copied_back_entries_are_compacted_in_input_order();
}
TEST_P(ProcContract, CookieRoundTripsUntouched) { cookie_round_trips_untouched(); }
TEST_P(ProcContract, CloseWithRegistrationsFreesThem) { close_with_registrations_frees_them(); }
KEVENT_INSTANTIATE_BACKENDS(ProcContract);

// ---- kevent_proc(7), the PROC origin's own rules --------------------------------

class Proc : public QueueTest {
protected:
	static ukevent exit_of(pid_t pid, unsigned bits = KEVENT_PROC_EXIT, unsigned req = 0,
			       uint64_t cookie = 0) {
		return make(KEVENT_PROC, pid_id(pid), bits, req, cookie);
	}
	void add_armed(int q, ukevent e) {
		ASSERT_EQ(0, kevent_ctl(q, KEVENT_CTL_ADD, 1, &e)) << describe(e);
	}
	void add_armed(ukevent e) { add_armed(kfd, e); }
	void expect_add_error(ukevent e, int err) {
		ASSERT_EQ(1, add(e)) << describe(e);
		EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, e.ret_flags) << describe(e);
		EXPECT_EQ(-err, err_of(e)) << describe(e) << " " << std::strerror(-err_of(e));
	}
	static ukevent one(int q, pid_t pid) {
		auto ev = get(q, 1, 8, 2000);
		EXPECT_EQ(1u, ev.size()) << describe(ev);
		if (ev.empty())
			return {};
		EXPECT_EQ(pid_id(pid), ev[0].id.raw_u64) << describe(ev[0]);
		return ev[0];
	}
};

TEST_P(Proc, ChildExitIsDeliveredWithItsWaitStatusAndNotReaped) {
	child c(7);
	add_armed(exit_of(c.pid()));
	EXPECT_TRUE(get(kfd, 1, 8, 50).empty()) << "reported before the child exited";
	c.exit_now();
	ukevent e = one(kfd, c.pid());
	int st = static_cast<int>(e.ret_data[0]);
	EXPECT_EQ(0u, e.ret_flags) << describe(e);
	ASSERT_TRUE(WIFEXITED(st)) << describe(e);
	EXPECT_EQ(7, WEXITSTATUS(st));
	// Still ours to reap.
	int status = 0;
	const pid_t pid = c.pid();
	ASSERT_EQ(pid, c.reap(status)) << "the library reaped the child: " << std::strerror(errno);
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(7, WEXITSTATUS(status));
}

TEST_P(Proc, ReapFlagReapsTheChild) {
	child c(7);
	add_armed(exit_of(c.pid(), KEVENT_PROC_EXIT | KEVENT_PROC_REAP));
	c.exit_now();
	ukevent e = one(kfd, c.pid());
	int st = static_cast<int>(e.ret_data[0]);
	ASSERT_TRUE(WIFEXITED(st)) << describe(e);
	EXPECT_EQ(7, WEXITSTATUS(st));
	int status = 0;
	errno = 0;
	EXPECT_EQ(-1, c.reap(status)) << "KEVENT_PROC_REAP left the child unreaped";
	EXPECT_EQ(ECHILD, errno);
}

TEST_P(Proc, ModifyCanAskForReapBeforeTheExit) {
	child c(3);
	add_armed(exit_of(c.pid()));
	ukevent m = exit_of(c.pid(), KEVENT_PROC_EXIT | KEVENT_PROC_REAP);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_MODIFY, 1, &m));
	EXPECT_EQ(KEVENT_RET_DONE, m.ret_flags) << describe(m);
	c.exit_now();
	ukevent e = one(kfd, c.pid());
	EXPECT_EQ(3, WEXITSTATUS(static_cast<int>(e.ret_data[0])));
	int status = 0;
	errno = 0;
	EXPECT_EQ(-1, c.reap(status));
	EXPECT_EQ(ECHILD, errno);
}

TEST_P(Proc, ChildKilledBySigkillIsWifsignaled) {
	child c(0);
	add_armed(exit_of(c.pid()));
	c.kill_now(SIGKILL);
	ukevent e = one(kfd, c.pid());
	int st = static_cast<int>(e.ret_data[0]);
	ASSERT_TRUE(WIFSIGNALED(st)) << describe(e);
	EXPECT_EQ(SIGKILL, WTERMSIG(st));
	EXPECT_FALSE(WIFEXITED(st));
	int status = 0;
	const pid_t pid = c.pid();
	ASSERT_EQ(pid, c.reap(status));
	EXPECT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(static_cast<int>(e.ret_data[0]), status) << "ret_data[0] must be what waitpid "
							      "stores";
}

TEST_P(Proc, ChildKilledBySigtermIsWifsignaled) {
	child c(0);
	add_armed(exit_of(c.pid()));
	c.kill_now(SIGTERM);
	ukevent e = one(kfd, c.pid());
	int st = static_cast<int>(e.ret_data[0]);
	ASSERT_TRUE(WIFSIGNALED(st)) << describe(e);
	EXPECT_EQ(SIGTERM, WTERMSIG(st));
}

TEST_P(Proc, PidThatDoesNotExistIsBrokenEsrch) {
	pid_t gone;
	{
		child c(0);
		gone = c.pid();
		c.exit_now();
		int st;
		ASSERT_EQ(gone, c.reap(st));
	}
	ASSERT_EQ(-1, ::kill(gone, 0)) << "pid " << gone << " was reused already";
	expect_add_error(exit_of(gone), ESRCH);
	EXPECT_EQ(0u, queue_stats(kfd).registered);
}

TEST_P(Proc, ZombieAtAddIsReadyAtAddWithItsStatusAndNotReaped) {
	child c(7);
	c.exit_now(); // a zombie now
	ukevent e = exit_of(c.pid(), KEVENT_PROC_EXIT, 0, 42);
	ASSERT_EQ(1, add(e)) << describe(e);
	EXPECT_EQ(KEVENT_RET_DONE, e.ret_flags) << describe(e);
	EXPECT_EQ(42u, cookie_of(e));
	int st = static_cast<int>(e.ret_data[0]);
	ASSERT_TRUE(WIFEXITED(st)) << describe(e);
	EXPECT_EQ(7, WEXITSTATUS(st));
	EXPECT_EQ(0u, queue_stats(kfd).registered);
	EXPECT_TRUE(get(kfd, 1, 8, 50).empty());
	int status = 0;
	const pid_t pid = c.pid();
	EXPECT_EQ(pid, c.reap(status));
	EXPECT_EQ(7, WEXITSTATUS(status));
}

TEST_P(Proc, ZombieAtAddWithReapIsReapedAtAdd) {
	child c(7);
	c.exit_now();
	ukevent e = exit_of(c.pid(), KEVENT_PROC_EXIT | KEVENT_PROC_REAP);
	ASSERT_EQ(1, add(e)) << describe(e);
	EXPECT_EQ(KEVENT_RET_DONE, e.ret_flags) << describe(e);
	EXPECT_EQ(7, WEXITSTATUS(static_cast<int>(e.ret_data[0]))) << describe(e);
	int status = 0;
	errno = 0;
	EXPECT_EQ(-1, c.reap(status));
	EXPECT_EQ(ECHILD, errno);
}

// A grandchild: its parent (our child) exits at once, so it is not ours. Its
// exit is still reported, without a status (not ours to read).
TEST_P(Proc, NonChildExitIsReportedWithStatusZero) {
	int hold[2], report[2];
	ASSERT_EQ(0, ::pipe2(hold, O_CLOEXEC));
	ASSERT_EQ(0, ::pipe2(report, O_CLOEXEC));
	pid_t middle = ::fork();
	ASSERT_GE(middle, 0);
	if (middle == 0) {
		pid_t g = ::fork();
		if (g == 0) {
			::close(hold[1]);
			char c;
			while (::read(hold[0], &c, 1) < 0 && errno == EINTR) {
			}
			_exit(5);
		}
		ssize_t w = ::write(report[1], &g, sizeof g);
		_exit(w == sizeof g ? 0 : 1);
	}
	::close(hold[0]);
	::close(report[1]);
	unique_fd hold_w(hold[1]), report_r(report[0]);
	pid_t grandchild = -1;
	ASSERT_EQ(static_cast<ssize_t>(sizeof grandchild),
		  ::read(report_r.get(), &grandchild, sizeof grandchild));
	int st = 0;
	ASSERT_EQ(middle, ::waitpid(middle, &st, 0));
	ASSERT_GT(grandchild, 0);

	add_armed(exit_of(grandchild, KEVENT_PROC_EXIT, 0, 77));
	EXPECT_TRUE(get(kfd, 1, 8, 50).empty()) << "reported before the grandchild exited";
	char c = 'x';
	ASSERT_EQ(1, ::write(hold_w.get(), &c, 1));
	ukevent e = one(kfd, grandchild);
	EXPECT_EQ(0u, e.ret_flags) << describe(e);
	EXPECT_EQ(77u, cookie_of(e));
	EXPECT_EQ(0u, e.ret_data[0]) << "not our child: no status";
}

TEST_P(Proc, InvalidPidOrBitsAreEinval) {
	child c(0);
	for (uint32_t pid : {0u, 0xffffffffu, 0x80000000u})
		expect_add_error(exit_of(static_cast<pid_t>(pid)), EINVAL);
	for (unsigned bits : {0u, unsigned(KEVENT_PROC_REAP), KEVENT_PROC_EXIT | 0x2u, 0x80000001u})
		expect_add_error(exit_of(c.pid(), bits), EINVAL);
	ukevent e = exit_of(c.pid());
	e.id.raw[1] = 1;
	expect_add_error(e, EINVAL);
	EXPECT_EQ(0u, queue_stats(kfd).registered);
}

TEST_P(Proc, LevelDeliversTheExit) {
	child c(7);
	add_armed(exit_of(c.pid(), KEVENT_PROC_EXIT, KEVENT_REQ_LEVEL));
	c.exit_now();
	ukevent e = one(kfd, c.pid());
	EXPECT_EQ(7, WEXITSTATUS(static_cast<int>(e.ret_data[0]))) << describe(e);
}

TEST_P(Proc, TwoQueuesBothReportTheExit) {
	child c(7);
	owned_queue b(kevent_init(nullptr, 0, GetParam().flags));
	ASSERT_GE(b.get(), 0);
	add_armed(kfd, exit_of(c.pid(), KEVENT_PROC_EXIT, 0, 1));
	add_armed(b.get(), exit_of(c.pid(), KEVENT_PROC_EXIT, 0, 2));
	c.exit_now();
	ukevent ea = one(kfd, c.pid());
	ukevent eb = one(b.get(), c.pid());
	EXPECT_EQ(1u, cookie_of(ea));
	EXPECT_EQ(2u, cookie_of(eb));
	EXPECT_EQ(7, WEXITSTATUS(static_cast<int>(ea.ret_data[0])));
	EXPECT_EQ(7, WEXITSTATUS(static_cast<int>(eb.ret_data[0])));
	EXPECT_EQ(0, kevent_close(b.release()));
}

TEST_P(Proc, TwoQueuesRemovingFromOneLeavesTheOtherWatching) {
	child c(7);
	owned_queue b(kevent_init(nullptr, 0, GetParam().flags));
	ASSERT_GE(b.get(), 0);
	add_armed(kfd, exit_of(c.pid()));
	add_armed(b.get(), exit_of(c.pid()));
	ukevent r = exit_of(c.pid());
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &r));
	c.exit_now();
	ukevent eb = one(b.get(), c.pid());
	EXPECT_EQ(7, WEXITSTATUS(static_cast<int>(eb.ret_data[0])));
	EXPECT_TRUE(get(kfd, 1, 8, 50).empty());
	EXPECT_EQ(0, kevent_close(b.release()));
}

TEST_P(Proc, SeveralChildrenEachReportedOnceWithItsOwnStatus) {
	constexpr int n = 5;
	std::vector<std::unique_ptr<child>> kids;
	for (int i = 0; i < n; i++) {
		kids.push_back(std::make_unique<child>(10 + i));
		add_armed(
			exit_of(kids.back()->pid(), KEVENT_PROC_EXIT, 0, static_cast<uint64_t>(i)));
	}
	for (int i = n - 1; i >= 0; i--)
		kids[static_cast<size_t>(i)]->exit_now();
	std::vector<ukevent> all;
	while (all.size() < n) {
		auto ev = get(kfd, 1, 8, 2000);
		if (ev.empty())
			break;
		all.insert(all.end(), ev.begin(), ev.end());
	}
	ASSERT_EQ(static_cast<size_t>(n), all.size()) << describe(all);
	std::vector<int> seen(n, 0);
	for (const auto &e : all) {
		auto i = cookie_of(e);
		ASSERT_LT(i, static_cast<uint64_t>(n));
		seen[i]++;
		EXPECT_EQ(pid_id(kids[i]->pid()), e.id.raw_u64);
		EXPECT_EQ(10 + static_cast<int>(i), WEXITSTATUS(static_cast<int>(e.ret_data[0])));
	}
	for (int i = 0; i < n; i++)
		EXPECT_EQ(1, seen[static_cast<size_t>(i)]) << "child " << i;
}

TEST_P(Proc, ExitWakesAThreadBlockedInGetEvents) {
	child c(7);
	add_armed(exit_of(c.pid()));
	std::atomic<int> got{-2};
	ukevent out[4]{};
	std::thread waiter([&] {
		timespec t = ms(5000);
		got = kevent_get_events(kfd, 1, 4, &t, out, 0);
	});
	std::this_thread::sleep_for(std::chrono::milliseconds(100));
	auto t0 = std::chrono::steady_clock::now();
	c.exit_now();
	waiter.join();
	ASSERT_EQ(1, got.load());
	EXPECT_EQ(7, WEXITSTATUS(static_cast<int>(out[0].ret_data[0])));
	EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(4000));
}

// SIGCHLD and PROC together: both report the exit (kevent_signal(7)).
TEST_P(Proc, SigchldKeventAndProcKeventBothReportAChildExit) {
	child c(7);
	ukevent sig = make(KEVENT_SIGNAL, SIGCHLD, KEVENT_SIGNAL_DELIVERY, 0, 1);
	ASSERT_EQ(0, add(sig)) << describe(sig);
	add_armed(exit_of(c.pid(), KEVENT_PROC_EXIT, 0, 2));
	c.exit_now();
	std::vector<ukevent> all;
	for (int i = 0; i < 2 && all.size() < 2; i++) {
		auto ev = get(kfd, 1, 8, 2000);
		all.insert(all.end(), ev.begin(), ev.end());
	}
	ASSERT_EQ(2u, all.size()) << describe(all);
	bool saw_sig = false, saw_proc = false;
	for (const auto &e : all) {
		if (e.type == KEVENT_SIGNAL) {
			saw_sig = true;
			EXPECT_GE(e.ret_data[0], 1u);
		} else {
			saw_proc = true;
			EXPECT_EQ(7, WEXITSTATUS(static_cast<int>(e.ret_data[0])));
		}
	}
	EXPECT_TRUE(saw_sig);
	EXPECT_TRUE(saw_proc);
	int status = 0;
	const pid_t pid = c.pid();
	EXPECT_EQ(pid, c.reap(status)) << "neither kevent may reap the child";
}

KEVENT_INSTANTIATE_BACKENDS(Proc);

} // namespace
