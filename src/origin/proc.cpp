// SPDX-License-Identifier: MIT
// PROC origin (kqueue's EVFILT_PROC/NOTE_EXIT): id.raw[0] = pid, on a pidfd
// (Linux 5.3). ret_data[0] = the wait status of a child, as waitpid(2)
// stores it, read with waitid(P_PIDFD, WNOWAIT) so the child stays a zombie
// for its parent to reap — unless KEVENT_PROC_REAP asks us to. Another
// process's status is not ours to read: 0.
//
// A process exits once, so the exit is taken from the first report of the
// pidfd that finds it gone, and the pidfd is watched no longer: Linux wakes
// a pidfd again when its zombie is reaped (by us with REAP, or by the
// program), and waitid(2) then finds no child (ECHILD). A second look would
// overwrite the status with 0 (tests/regress/proc_reap_status_lost_test) or
// deliver the exit twice (tests/regress/proc_event_after_reap_test).
#include "origin/origin.hpp"

#include <cerrno>
#include <memory>
#include <new>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace kevent::detail::proc_origin {
namespace {

struct proc_ext final : origin_ext, fd_source {
	proc_ext(origin_services &svc, knode &n, int fd) : svc_(svc), node(n), pidfd(fd) {}
	~proc_ext() override { ::close(pidfd); }

	void on_ready(uint32_t) override {
		if (exited)
			return; // a report queued before the unwatch: said already
		siginfo_t si{};
		int opts = WEXITED | WNOHANG;
		if (!(node.uk.event & KEVENT_PROC_REAP))
			opts |= WNOWAIT;
		int r = waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &si, opts);
		if (r == 0 && si.si_pid == 0)
			return; // our child, not waitable yet: this was not the exit
		// ECHILD: not our child, or reaped by someone else (the
		// program, the kernel for SIG_IGN/SA_NOCLDWAIT): no status.
		exited = true;
		svc_.unwatch_source(*this);
		node.uk.ret_data[0] = r == 0 ? wait_status(si) : 0;
		svc_.make_ready(node);
	}

	// What waitpid(2) would have stored for this siginfo.
	static uint32_t wait_status(const siginfo_t &si) {
		switch (si.si_code) {
		case CLD_EXITED:
			return static_cast<uint32_t>(si.si_status & 0xff) << 8;
		case CLD_KILLED:
			return static_cast<uint32_t>(si.si_status & 0x7f);
		case CLD_DUMPED:
			return static_cast<uint32_t>(si.si_status & 0x7f) | 0x80;
		default:
			return 0;
		}
	}

	origin_services &svc_;
	knode &node;
	int pidfd;
	bool exited = false; // the exit was reported; the pidfd is not watched
};

} // namespace

int validate(const ukevent &uk) {
	if ((uk.event & KEVENT_PROC_EXIT) == 0 ||
	    (uk.event & ~(KEVENT_PROC_EXIT | KEVENT_PROC_REAP)))
		return EINVAL;
	if (uk.id.raw[1] != 0 || static_cast<int32_t>(uk.id.raw[0]) <= 0)
		return EINVAL;
	return 0;
}

int attach(origin_services &svc, knode &n, const ukevent &, bool &) {
	long fd = syscall(SYS_pidfd_open, static_cast<pid_t>(n.uk.id.raw[0]), 0);
	if (fd < 0)
		return -errno; // ESRCH: no such process; ENOSYS: kernel < 5.3
	std::unique_ptr<proc_ext> ext;
	try {
		ext = std::make_unique<proc_ext>(svc, n, static_cast<int>(fd));
	} catch (const std::bad_alloc &) {
		::close(static_cast<int>(fd)); // not owned by anyone yet
		throw;
	}
	// An exited process makes the pidfd readable at once: the ADD's look
	// at the backend finds it ready at add.
	if (int r = svc.watch_source(*ext, ext->pidfd, POLLIN); r < 0)
		return r;
	n.ext = ext.release();
	return 0;
}

void detach(origin_services &svc, knode &n) {
	if (auto *ext = static_cast<proc_ext *>(n.ext))
		svc.unwatch_source(*ext);
}

} // namespace kevent::detail::proc_origin
