// PROC origin (kqueue's EVFILT_PROC/NOTE_EXIT): id.raw[0] = pid, on a pidfd
// (Linux 5.3). ret_data[0] = the wait status of a child, as waitpid(2)
// stores it, read with waitid(P_PIDFD, WNOWAIT) so the child stays a zombie
// for its parent to reap — unless KEVENT_PROC_REAP asks us to. Another
// process's status is not ours to read: 0.
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

namespace kevent::detail {
namespace {

struct proc_ext final : origin_ext, fd_source {
	proc_ext(origin_services &svc, knode &n, int fd) : svc_(svc), node(n), pidfd(fd) {}
	~proc_ext() override { ::close(pidfd); }

	void on_ready(uint32_t) override {
		siginfo_t si{};
		int opts = WEXITED | WNOHANG;
		if (!(node.uk.event & KEVENT_PROC_REAP))
			opts |= WNOWAIT;
		uint32_t status = 0;
		if (waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &si, opts) ==
			    0 &&
		    si.si_pid != 0) {
			switch (si.si_code) {
			case CLD_EXITED:
				status = static_cast<uint32_t>(si.si_status & 0xff) << 8;
				break;
			case CLD_KILLED:
				status = static_cast<uint32_t>(si.si_status & 0x7f);
				break;
			case CLD_DUMPED:
				status = static_cast<uint32_t>(si.si_status & 0x7f) | 0x80;
				break;
			default:
				break;
			}
		}
		node.uk.ret_data[0] = status;
		svc_.make_ready(node);
	}

	origin_services &svc_;
	knode &node;
	int pidfd;
};

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

} // namespace

const origin_ops proc_origin = {
	.name = "proc",
	.uses_fd = false,
	.watches_sources = true,
	.validate = validate,
	.attach = attach,
	.detach = detach,
};

} // namespace kevent::detail
