// SPDX-License-Identifier: MIT
// io_uring backend: fd watches — a poll per watched number (multishot for
// edge watches, single-shot for LEVEL and oneshot ones), the private epoll
// set that mirrors them (what a number names, and epoll's verdict on a new
// watch), and the wake-up's poll (the ledger: uring_backend.hpp). Their
// CQEs are handled in uring_ring.cpp, on the event path.
//
// LOCKING: watch() and unwatch() take mu_ (uring_backend.hpp) around what
// touches the slots and the SQ, not around the epoll_ctl calls on the
// mirror and epfd_ (mirror()); the other functions run under it.
#include "backend/uring/uring_backend.hpp"

#include <cerrno>
#include <poll.h>
#include <sys/epoll.h>

namespace kevent::detail {
namespace {

// The part of a watch's life its mirror CQE carries: own_token() has 55
// bits above the kind, the number takes 32.
constexpr uint32_t life_mask = (1u << 22) - 1;

} // namespace

int uring_backend::watch(int fd, const watch_mode &want, const watch_mode *was, uint64_t token) {
	{
		// First what may throw: nothing is to undo then.
		std::lock_guard lk(mu_);
		if (static_cast<size_t>(fd) >= slots_.size())
			slots_.resize(static_cast<size_t>(fd) + 1 + slots_.size() / 2);
		if (!was)
			prepare_fixed();
	}
	bool nested = false;
	if (!was && !async_mirror_) {
		if (int r = mirror(fd, nested); r < 0)
			return r;
	} else if (was) {
		// Re-arming a number that was closed (or names another
		// file now) fails, as EPOLL_CTL_MOD does.
		if (probe_watched(fd) != descriptor_match::same)
			return -EBADF;
	}
	std::lock_guard lk(mu_);
	fd_slot &s = slots_[fd];
	if (s.active && !s.in_backlog)
		remove_poll(fd, s);
	s.token = token;
	s.mode = want;
	s.active = true;
	s.in_backlog = nullptr; // a stale backlog entry is skipped
	if (!was) {
		s.in_front = nested;
		s.life = next_seq(s.life);
		install_fixed(fd);
		if (async_mirror_)
			queue_mirror_add(fd, s); // issued after the table's update, before the poll
	}
	// A program's file is polled from the next wait (or this call's
	// look), which then sees what the file says, as epoll looks again at
	// each epoll_wait: the SQ holds no such poll at the end of a call,
	// so what flush_changes() submits then reports nothing stale. A
	// poller blocked in the ring comes back to no backlog: armed now.
	// So is a source's file (watch_mode::at_once), submitted by the end
	// of this call.
	if (poller_blocked_ || want.at_once) {
		arm_poll(fd, s);
		submit_at_end_ |= want.at_once;
	} else {
		to_backlog(fd, s, unarmed_);
	}
	submit_if_blocked();
	return 0;
}

// Add a new watch's file to the mirror: identity for probe_watched(), and
// epoll's verdict on whether this file can be watched at all. An epoll
// file (EPOLLEXCLUSIVE refused: the ledger) goes into epfd_ too, where the kernel checks it for
// loops and depth as the epoll backend's own set would. 0 or -errno, nothing added.
int uring_backend::mirror(int fd, bool &nested) {
	epoll_event ev{};
	ev.events = EPOLLEXCLUSIVE;
	count();
	if (epoll_ctl(shadow_.get(), EPOLL_CTL_ADD, fd, &ev) == 0) {
		nested = false;
		return 0;
	}
	if (errno == EEXIST) {
		// A stale mirror of this (file, number): closed under its watch
		// while a dup kept the file, now named again (dup2). Renewed.
		count();
		epoll_ctl(shadow_.get(), EPOLL_CTL_DEL, fd, nullptr);
		count();
		epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, fd, nullptr);
		count();
		if (epoll_ctl(shadow_.get(), EPOLL_CTL_ADD, fd, &ev) == 0) {
			nested = false;
			return 0;
		}
	}
	if (errno != EINVAL)
		return -errno;
	ev.events = 0;
	count();
	if (epoll_ctl(shadow_.get(), EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno; // EINVAL: our own mirror's number
	count();
	if (epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = errno; // EINVAL: ourselves; ELOOP: a loop or too deep
		count();
		epoll_ctl(shadow_.get(), EPOLL_CTL_DEL, fd, nullptr);
		return -err;
	}
	nested = true;
	return 0;
}

int uring_backend::unwatch(int fd) {
	bool nested;
	{
		std::lock_guard lk(mu_);
		if (static_cast<size_t>(fd) >= slots_.size() || !slots_[fd].active)
			return -ENOENT;
		fd_slot &s = slots_[fd];
		if (!s.in_backlog)
			remove_poll(fd, s);
		submit_at_end_ = true; // flush_changes() submits it (and the table's release)
		s.active = false;
		s.in_backlog = nullptr;
		release_fixed(fd);
		nested = s.in_front;
		s.in_front = false;
		if (async_mirror_)
			queue_mirror_del(fd);
		submit_if_blocked();
	}
	if (nested) {
		count();
		epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, fd, nullptr);
	}
	if (async_mirror_)
		return 0;
	count();
	return epoll_ctl(shadow_.get(), EPOLL_CTL_DEL, fd, nullptr) < 0 ? -errno : 0;
}

// The mirror's changes as SQEs (the ledger). The kernel copies the event
// when it issues the SQE: one constant serves every ADD.
void uring_backend::queue_mirror_add(int fd, fd_slot &s) {
	static const epoll_event exclusive{EPOLLEXCLUSIVE, {}};
	io_uring_sqe *sqe = get_sqe();
	io_uring_prep_epoll_ctl(sqe, shadow_.get(), fd, EPOLL_CTL_ADD,
				const_cast<epoll_event *>(&exclusive));
	sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	sqe->user_data =
		own_token(own_watch_set, uint64_t(s.life & life_mask) << 32 | uint32_t(fd));
	s.set_add_at = ring_.sq.sqe_tail;
}

// An unwatch: its failure (the number closed: the file's release takes
// the item out anyway) posts a CQE that is ignored.
void uring_backend::queue_mirror_del(int fd) {
	io_uring_sqe *sqe = get_sqe();
	io_uring_prep_epoll_ctl(sqe, shadow_.get(), fd, EPOLL_CTL_DEL, nullptr);
	sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	sqe->user_data = own_token(own_ignore);
}

// The mirror's ADD of a new watch failed (its CQE: only a failure posts
// one). EINVAL to EPOLLEXCLUSIVE means an epoll file: it goes into the
// mirror with empty interest and into epfd_ for the loop checks, as
// mirror() does. Otherwise, or if that fails, the watch is taken back
// (its poll cancelled, its file let go: flush_changes() submits them) and
// reported refused, once.
void uring_backend::mirror_refused(const io_uring_cqe &cqe, backend_event *out, int max, int &k) {
	uint64_t seq = (cqe.user_data & ~backend_own_bit) >> 8;
	int fd = static_cast<int>(static_cast<uint32_t>(seq));
	uint32_t life = static_cast<uint32_t>(seq >> 32);
	if (static_cast<size_t>(fd) >= slots_.size())
		return;
	fd_slot &s = slots_[fd];
	if (!s.active || (s.life & life_mask) != life || closing_)
		return; // removed since (its DEL failed too, or finds nothing)
	int err = -cqe.res;
	if (err == EEXIST) {
		// A stale mirror of this (file, number), as in mirror(): closed
		// under its watch while a dup kept the file, named again (dup2).
		// Renewed, the watch stays.
		static const epoll_event exclusive{EPOLLEXCLUSIVE, {}};
		epoll_event ev = exclusive;
		count();
		epoll_ctl(shadow_.get(), EPOLL_CTL_DEL, fd, nullptr);
		count();
		epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, fd, nullptr);
		count();
		if (epoll_ctl(shadow_.get(), EPOLL_CTL_ADD, fd, &ev) == 0)
			return;
		err = errno;
	}
	if (err == EINVAL) {
		epoll_event ev{};
		count();
		if (epoll_ctl(shadow_.get(), EPOLL_CTL_ADD, fd, &ev) < 0) {
			err = errno; // EINVAL: our own mirror's number
		} else {
			count();
			if (epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, fd, &ev) == 0) {
				s.in_front = true;
				return;
			}
			err = errno; // EINVAL: ourselves; ELOOP: a loop or too deep
			count();
			epoll_ctl(shadow_.get(), EPOLL_CTL_DEL, fd, nullptr);
		}
	}
	if (!s.in_backlog)
		remove_poll(fd, s);
	s.active = false;
	s.in_backlog = nullptr;
	release_fixed(fd);
	submit_at_end_ = true;
	emit(out, max, k, backend_event{s.token, POLLERR | POLLNVAL, -watch_errno(err)});
}

// A watch whose mirror ADD the kernel has not consumed yet is the file
// its number named when watch() queued it (the ledger); the rest ask
// the mirror.
descriptor_match uring_backend::probe_watched(int fd) {
	{
		std::lock_guard lk(mu_);
		if (static_cast<size_t>(fd) < slots_.size()) {
			const fd_slot &s = slots_[fd];
			unsigned head = io_uring_smp_load_acquire(ring_.sq.khead);
			if (s.active && async_mirror_ && static_cast<int>(s.set_add_at - head) > 0)
				return descriptor_match::same;
		}
	}
	return backend::probe_watched(fd);
}

// A poll request holds its file: the cancel of an unwatch cannot
// wait for the next wait (lazy submission), or REMOVE then close(2)
// would leave the socket open — its peer sees no EOF — until the queue
// next waits (tests/core/reregister_test). Nor can a new deadline or a
// source's poll: until the kernel has them, a timer, a signal, an inode
// change or a process exit never makes the descriptor readable for a
// program that polls it instead of calling kevent_get_events. One
// io_uring_enter per call that queued any, however many. A program's
// file's poll is not in the SQ then (watch(): it waits in a backlog).
void uring_backend::flush_changes() {
	std::lock_guard lk(mu_);
	if (!submit_at_end_)
		return;
	submit_at_end_ = false;
	if (unsigned n = flush_sq())
		enter(n, 0, 0, false);
	drop_quiet_cqes();
}

void uring_backend::arm_poll(int fd, fd_slot &s) {
	io_uring_sqe *sqe = get_sqe();
	s.seq = next_seq(s.seq);
	unsigned events = s.mode.events;
	// io_poll_wake() matches a wake-up's key against the interest
	// without EPOLLPRI (IO_ASYNC_POLL_COMMON): a poll for POLLPRI alone
	// is never woken by a socket, whose wake-ups are keyed (TCP urgent
	// data: sock_def_readable's IN|PRI|RDNORM|RDBAND). RDBAND lets the
	// wake-up in; the report is checked against the file (handle_poll).
	if (events & POLLPRI)
		events |= POLLRDBAND;
	if (s.mode.level || s.mode.oneshot)
		io_uring_prep_poll_add(sqe, fd, events);
	else
		io_uring_prep_poll_multishot(sqe, fd, events);
	if (s.fixed)
		sqe->flags |= IOSQE_FIXED_FILE; // the table's slot `fd`: the file itself
	sqe->user_data = poll_data(fd, s);
}

// ASYNC_CANCEL rather than POLL_REMOVE: see the ledger (uring_backend.hpp).
void uring_backend::remove_poll(int fd, const fd_slot &s) {
	io_uring_sqe *sqe = get_sqe();
	io_uring_prep_cancel64(sqe, poll_data(fd, s), 0);
	sqe->user_data = own_token(own_ignore);
}

void uring_backend::arm_wake() {
	io_uring_sqe *sqe = get_sqe();
	io_uring_prep_poll_multishot(sqe, wake_fd(), POLLIN);
	sqe->user_data = own_token(own_wake);
}

} // namespace kevent::detail
