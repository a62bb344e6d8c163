// SPDX-License-Identifier: MIT
// io_uring backend.
//
// Kernel behaviours this file depends on (Linux 5.17+; init() checks the
// feature bits and opcodes and answers ENOSYS without them):
// - Multishot POLL_ADD: one CQE per wake-up of the file's wait queue, the same
//   edges as EPOLLET. A new poll looks at the file at once (vfs_poll) and
//   posts a CQE if it is ready.
// - A multishot poll that cannot post because the CQ ring is full (or the
//   kernel's overflow list is not empty: new CQEs queue behind it) ends: its
//   final CQE (no IORING_CQE_F_MORE) carries the mask and goes to the
//   overflow list (IORING_FEAT_NODROP). That mask is NOT reported: the poll
//   is armed again and its first CQE, which reflects what the file says
//   then, is the report — as epoll re-polls an item before reporting it
//   (ep_send_events), so a file that is no longer ready is not reported and
//   one that is, is reported once (issue 14 item 1: re-arming at once and
//   reporting the final mask too gave a duplicate per ended poll, and with
//   4,096+ ready files a livelock, each re-arm ending again in a full CQ).
// - Polls armed again (those, and LEVEL watches after each report) wait in
//   a backlog and are armed only while the CQ has room for the CQE each may
//   post at once, after a reap, with the overflow list empty: re-arms can
//   never overflow the CQ themselves, so every round makes progress.
// - The overflow list is moved into the CQ only by an io_uring_enter with
//   IORING_ENTER_GETEVENTS: reaping does that whenever IORING_SQ_CQ_OVERFLOW
//   is set.
// - Level-triggered watches are single-shot polls armed again after each
//   report, at the next wait once the report was handed over: the new poll
//   completes at once while the file is still ready, which is what epoll's
//   level mode does at each epoll_wait. A single-shot CQE is never lost to a
//   full CQ (it overflows), so its mask is the report.
// - A oneshot watch (a parked level watch, watch_mode::oneshot) is a
//   single-shot poll that is not armed again after its report.
// - IORING_OP_ASYNC_CANCEL of a poll always ends it: the cancel marks it and
//   its owner posts the final CQE (-ECANCELED), or answers -ENOENT when the
//   poll has ended already. POLL_REMOVE is not used: it fails with -EALREADY
//   and leaves the poll armed when the poll's task work is pending (the
//   file just became ready), so a removed watch would keep its file open,
//   and the close path's count of owed CQEs never balanced (issue 14 item
//   8: a queue that never waited took 10.6 ms to close).
// - An I/O request ends with exactly one CQE, cancelled or not: REMOVE and
//   kevent_close wait for it (drain_cancelled) before the caller's buffer
//   is the caller's again.
// - Closing the ring ends every request still armed, in a kernel worker
//   (io_ring_exit_work): kevent_close leaves polls, deadlines and the
//   fixed-file table to it (retire_all), as nothing of theirs points into
//   the caller's memory.
// - A poll names its file by number only when it is issued, and a level
//   watch or an ended multishot poll is armed again later, at a wait: by
//   then the program may have closed the number, or another file may hold
//   it (found by the differential fuzzer: the old file's hang-up was lost,
//   the new file's events reached the old kevent). So a watched file is
//   installed in the ring's fixed-file table (IORING_OP_FILES_UPDATE, queued
//   with the first poll and issued before it, in order and inline), at the
//   slot of its number, and every poll uses IOSQE_FIXED_FILE: the table
//   holds the file as long as it is watched, as the promise "a pending poll
//   keeps the file open" needs between two polls too. The table is a
//   sparse one (5.19) registered at the first watch, sized to the
//   descriptor limit then (at most fixed_max); without it (an older kernel,
//   or a number past its size) a poll names the number as before.
// - EPOLLEXCLUSIVE is not used: an exclusive io_uring poll always consumes
//   the wake-up, so the first queue to watch a file would take every event,
//   waiting or not (epoll passes it on to a file with a waiter). Every queue
//   watching a file is woken (KEVENT_REQ_WAKEUP_ALL in effect; semantics.md).
// - A pending poll holds a reference to the *file*: closing the number does
//   not end it, and the file stays open until the watch is removed
//   (docs/semantics.md). What a number names is checked through a private
//   epoll set that mirrors the watches with empty interest (epoll_probe); its
//   EPOLL_CTL_ADD also gives a new watch epoll's errors (EPERM for a regular
//   file, EBADF, ENOSPC ...), so both backends refuse the same ADDs.
// - A watched file that is itself an epoll file (another queue's descriptor,
//   or any epoll set) is also added to front_ with empty interest, so the
//   kernel's graph of nested epoll files holds the same edge as on the epoll
//   backend: a queue watching itself gets EINVAL, a loop ELOOP, and the same
//   depth limit applies (issue 14 item 10). An epoll file never reports
//   ERR/HUP, so the item never makes front_ readable. It is told apart for
//   free: the mirror's ADD asks for EPOLLEXCLUSIVE, which epoll refuses with
//   EINVAL for an epoll file only. (An exclusive item that nobody waits on
//   never consumes an exclusive wake-up: ep_poll_callback returns 0 for it.)
// - IORING_OP_TIMEOUT with IORING_TIMEOUT_ABS and a clock flag (5.15): the
//   core's deadlines, one per clock, moved by TIMEOUT_REMOVE + TIMEOUT in the
//   next submission — never a syscall of their own.
// - IORING_ENTER_EXT_ARG (5.11): one io_uring_enter submits what is queued and
//   waits with a timeout.
// - The ring fd is pollable (POLLIN while CQEs wait). The queue's descriptor
//   is an epoll file holding it, the ready eventfd (level) and the wake
//   eventfd (edge; also what owns() probes for).
// - wake() writes an eventfd with a multishot poll on it: every write is a
//   CQE. It is never read.
//
// LOCKING: mu_ guards the SQ, the CQ and the tables; never held across a
// blocking io_uring_enter. The queue lock is held around every call but
// wait(), so a poller may sit in io_uring_enter while another thread queues
// SQEs: that thread then submits them itself (poller_blocked_).
#include "backend/backend.hpp"
#include "backend/epoll_probe.hpp"
#include "backend/eventfd_flag.hpp"
#include "sys/unique_fd.hpp"

#include <kevent/kevent.h>

#include <liburing.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <unordered_set>
#include <vector>

// Newer than liburing 2.3's headers on some systems; the values are ABI.
#ifndef IORING_SETUP_SUBMIT_ALL
#define IORING_SETUP_SUBMIT_ALL (1U << 7)
#endif
#ifndef IORING_FEAT_CQE_SKIP
#define IORING_FEAT_CQE_SKIP (1U << 11)
#endif

namespace kevent::detail {
namespace {

// user_data: fd polls are seq << 32 | fd (bits 62 and 63 clear); I/O requests
// are the core's tokens (io_token_bit); the backend's own carry bit 63.
constexpr uint64_t own_bit = 1ull << 63;
enum own_kind : uint64_t { own_ignore = 0, own_wake = 1, own_timeout = 2 /* + clock */ };
constexpr uint64_t own(uint64_t kind, uint64_t seq = 0) { return own_bit | seq << 8 | kind; }

// 512: an ADD batch of 256 new watches (a poll each, and the fixed-file
// update they share) fits, submitted by the batch's one look.
constexpr unsigned sq_entries = 512;
// The largest fixed-file table a queue registers (8 bytes a slot in the
// kernel): numbers past it are polled by number.
constexpr unsigned fixed_max = 1u << 16;
// How many empty slots one FILES_UPDATE may cover to join two watches.
constexpr unsigned max_update_gap = 8;
constexpr unsigned cq_entries = 4096;

constexpr unsigned clock_flags[clock_count] = {0, IORING_TIMEOUT_REALTIME, IORING_TIMEOUT_BOOTTIME};

constexpr uint8_t needed_ops[] = {
	IORING_OP_POLL_ADD,     IORING_OP_POLL_REMOVE, IORING_OP_TIMEOUT, IORING_OP_TIMEOUT_REMOVE,
	IORING_OP_ASYNC_CANCEL, IORING_OP_READ,        IORING_OP_WRITE,   IORING_OP_FSYNC,
	IORING_OP_RECV,         IORING_OP_SEND,        IORING_OP_ACCEPT,  IORING_OP_CONNECT,
	IORING_OP_FILES_UPDATE,
};
constexpr unsigned needed_features = IORING_FEAT_NODROP | IORING_FEAT_EXT_ARG |
				     IORING_FEAT_FAST_POLL | IORING_FEAT_RW_CUR_POS |
				     IORING_FEAT_CQE_SKIP;

// One watched fd number.
struct fd_slot {
	uint64_t token = 0;
	uint32_t seq = 0; // changes with every arm: older CQEs are stale
	watch_mode mode;
	bool active = false;
	bool parked = false;    // no poll in the kernel: waits in a backlog to be armed
	bool in_front = false;  // an epoll file, mirrored in front_ too (loop checks)
	bool fixed = false;     // its file is in the fixed-file table, slot = the number
	uint64_t parked_in = 0; // the wait (waits_) that parked it
};

class uring_backend final : public backend {
public:
	~uring_backend() override {
		if (!ring_ok_)
			return;
		// A fork child shares the ring with its parent: the requests are
		// the parent's, and so are the buffers.
		if (getpid() == pid_)
			retire_all();
		// The teardown (a kernel worker) then sends task work with a
		// signal notification to each thread that submitted here: its
		// next blocking call may end with EINTR once, which the queue's
		// wait loop takes in its stride (docs/semantics.md).
		io_uring_queue_exit(&ring_);
	}

	int init() {
		if (const char *e = std::getenv("KEVENT_URING_DISABLE"); e && *e && *e != '0')
			return -ENOSYS;
		io_uring_params p{};
		p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP | IORING_SETUP_SUBMIT_ALL;
		p.cq_entries = cq_entries;
		int r = io_uring_queue_init_params(sq_entries, &ring_, &p);
		if (r == -EINVAL) { // before 5.18: no SUBMIT_ALL
			p = io_uring_params{};
			p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
			p.cq_entries = cq_entries;
			r = io_uring_queue_init_params(sq_entries, &ring_, &p);
		}
		if (r < 0)
			return r == -EPERM || r == -EINVAL ? -ENOSYS : r; // disabled, or too old
		ring_ok_ = true;
		pid_ = getpid();
		if ((p.features & needed_features) != needed_features)
			return -ENOSYS;
		io_uring_probe *probe = io_uring_get_probe_ring(&ring_);
		if (!probe)
			return -ENOSYS;
		bool all = true;
		for (uint8_t op : needed_ops)
			all &= io_uring_opcode_supported(probe, op) != 0;
		io_uring_free_probe(probe);
		if (!all)
			return -ENOSYS;

		front_.reset(epoll_create1(EPOLL_CLOEXEC));
		shadow_.reset(epoll_create1(EPOLL_CLOEXEC));
		wakefd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
		readyfd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
		if (!front_ || !shadow_ || !wakefd_ || !readyfd_)
			return -errno;
		struct {
			int fd;
			uint32_t events;
		} members[] = {{ring_.ring_fd, EPOLLIN},
			       {readyfd_.get(), EPOLLIN},
			       {wakefd_.get(), EPOLLIN | EPOLLET}};
		for (auto &m : members) {
			epoll_event ev{};
			ev.events = m.events;
			if (epoll_ctl(front_.get(), EPOLL_CTL_ADD, m.fd, &ev) < 0)
				return -errno;
		}
		std::lock_guard lk(mu_);
		arm_wake();
		return 0;
	}

	unsigned kind() const override { return KEVENT_BACKEND_URING; }
	int descriptor() const override { return front_.get(); }

	int watch(int fd, const watch_mode &want, const watch_mode *was, uint64_t token) override {
		{
			// First what may throw: nothing is to undo then.
			std::lock_guard lk(mu_);
			if (static_cast<size_t>(fd) >= slots_.size())
				slots_.resize(static_cast<size_t>(fd) + 1 + slots_.size() / 2);
			if (!was)
				prepare_fixed();
		}
		bool nested = false;
		if (!was) {
			if (int r = mirror(fd, nested); r < 0)
				return r;
		} else {
			// Re-arming a number that was closed (or names another
			// file now) fails, as EPOLL_CTL_MOD does.
			count();
			if (epoll_probe(shadow_.get(), fd) != descriptor_match::same)
				return -EBADF;
		}
		std::lock_guard lk(mu_);
		fd_slot &s = slots_[fd];
		if (s.active && !s.parked)
			remove_poll(fd, s);
		s.token = token;
		s.mode = want;
		s.active = true;
		s.parked = false; // a stale backlog entry is skipped
		if (!was) {
			s.in_front = nested;
			install_fixed(fd);
		}
		arm_poll(fd, s);
		submit_if_blocked();
		return 0;
	}

	// Add a new watch's file to the mirror: identity for watching(), and
	// epoll's verdict on whether this file can be watched at all. An epoll
	// file (EPOLLEXCLUSIVE refused: the ledger at the top) goes into front_
	// too, where the kernel checks it for loops and depth as the epoll
	// backend's own set would. 0 or -errno, nothing added.
	int mirror(int fd, bool &nested) {
		epoll_event ev{};
		ev.events = EPOLLEXCLUSIVE;
		count();
		if (epoll_ctl(shadow_.get(), EPOLL_CTL_ADD, fd, &ev) == 0) {
			nested = false;
			return 0;
		}
		if (errno != EINVAL)
			return -errno;
		ev.events = 0;
		count();
		if (epoll_ctl(shadow_.get(), EPOLL_CTL_ADD, fd, &ev) < 0)
			return -errno; // EINVAL: our own mirror's number
		count();
		if (epoll_ctl(front_.get(), EPOLL_CTL_ADD, fd, &ev) < 0) {
			int err = errno; // EINVAL: ourselves; ELOOP: a loop or too deep
			count();
			epoll_ctl(shadow_.get(), EPOLL_CTL_DEL, fd, nullptr);
			return -err;
		}
		nested = true;
		return 0;
	}

	int unwatch(int fd) override {
		bool nested;
		{
			std::lock_guard lk(mu_);
			if (static_cast<size_t>(fd) >= slots_.size() || !slots_[fd].active)
				return -ENOENT;
			fd_slot &s = slots_[fd];
			if (!s.parked)
				remove_poll(fd, s);
			removed_ = true; // settle() submits it (and the table's release)
			s.active = s.parked = false;
			release_fixed(fd);
			nested = s.in_front;
			s.in_front = false;
			submit_if_blocked();
		}
		if (nested) {
			count();
			epoll_ctl(front_.get(), EPOLL_CTL_DEL, fd, nullptr);
		}
		count();
		return epoll_ctl(shadow_.get(), EPOLL_CTL_DEL, fd, nullptr) < 0 ? -errno : 0;
	}

	// A poll request holds its file: the cancel of an unwatch cannot
	// wait for the next wait (lazy submission), or REMOVE then close(2)
	// would leave the socket open — its peer sees no EOF — until the queue
	// next waits (tests/core/reregister_test). One io_uring_enter per call
	// that removed watches, however many.
	void settle() override {
		std::lock_guard lk(mu_);
		if (!removed_)
			return;
		removed_ = false;
		if (unsigned n = flush_sq())
			enter(n, 0, 0, false);
	}

	int wait(backend_event *out, int max, int64_t timeout_ns, bool &woken) override {
		std::unique_lock lk(mu_);
		int k = take_pending(out, max);
		// Completions are often in the CQ ring before we ask: a poll's
		// wake-up runs as task work when this thread returns from its own
		// send(2), so a ping-pong with nothing to submit reaps them with no
		// system call at all (as raw io_uring loops that peek first do).
		// Reaping first also frees the room the re-arms below may use.
		// Any CQE (a wake-up, a deadline: reported as none) ends the wait.
		bool posted = io_uring_cq_ready(&ring_) > 0 || cq_overflowed();
		// LEVEL watches look again once their reports were handed over:
		// those that reported before this wait, not one reaped just now
		// (epoll re-reports a level item at each epoll_wait, not twice in
		// one: the reference model's rule too); polls the kernel ended
		// are armed again now.
		waits_++;
		k += reap(out + k, max - k, woken);
		if (pending_.empty())
			arm_parked(relook_, true);
		arm_parked(ended_);
		// Something to report already, or polls still to arm (more than
		// the CQ had room for): do not block.
		if (posted || k > 0 || !ended_.empty() || !relook_.empty())
			timeout_ns = 0;
		unsigned to_submit = flush_sq();
		int r = 0;
		if (timeout_ns != 0 || to_submit > 0) {
			bool blocks = timeout_ns != 0;
			// Cancellation unwinds from enter(): the flag must not
			// outlive the wait.
			struct unblock {
				uring_backend &b;
				bool on;
				~unblock() {
					if (on) {
						std::lock_guard g(b.mu_);
						b.poller_blocked_ = false;
					}
				}
			} guard{*this, false};
			if (blocks)
				poller_blocked_ = guard.on = true;
			lk.unlock();
			r = enter(to_submit, blocks ? 1 : 0, timeout_ns, blocks);
			lk.lock();
			poller_blocked_ = guard.on = false;
		}
		k += reap(out + k, max - k, woken);
		// Polls that ended here for want of CQ room report once armed
		// again: in rounds the CQ can hold, each reaped before the next,
		// so that they are reported by this call (an ADD's one look sees
		// every new watch that is ready, however many).
		for (int round = 0; round < 64 && !ended_.empty(); round++) {
			if (arm_parked(ended_) == 0)
				break;
			enter(flush_sq(), 0, 0, false, true);
			k += reap(out + k, max - k, woken);
		}
		// A look from kevent_ctl while the poller is blocked: what the
		// reaps queued (the wake-up poll armed again) goes in now.
		submit_if_blocked();
		if (r == -EINTR)
			return k > 0 ? k : -EINTR;
		return k;
	}

	void wake() noexcept override {
		count();
		eventfd_kick(wakefd_.get());
	}

	void set_ready(bool on) override {
		count();
		eventfd_level(readyfd_.get(), on);
	}

	int arm_deadline(clock_kind clock, int64_t abs_ns) override {
		int c = static_cast<int>(clock);
		std::lock_guard lk(mu_);
		if (abs_ns <= 0)
			abs_ns = 1;
		if (timeout_seq_[c]) {
			io_uring_sqe *sqe = get_sqe();
			io_uring_prep_timeout_remove(sqe, own(own_timeout + c, timeout_seq_[c]), 0);
			sqe->user_data = own(own_ignore);
		}
		timeout_seq_[c] = next_seq(timeout_seq_[c]);
		deadline_[c].tv_sec = abs_ns / 1000000000;
		deadline_[c].tv_nsec = abs_ns % 1000000000;
		io_uring_sqe *sqe = get_sqe();
		io_uring_prep_timeout(sqe, &deadline_[c], 0, IORING_TIMEOUT_ABS | clock_flags[c]);
		sqe->user_data = own(own_timeout + c, timeout_seq_[c]);
		submit_if_blocked();
		return 0;
	}

	descriptor_match owns(int fd) const override { return epoll_probe(fd, wakefd_.get()); }

	// Everything here was opened at kevent_init. The rings' mappings go
	// too: each holds the ring's file, which would keep the parent's
	// requests alive after the parent closed its queue.
	void close_inherited() noexcept override {
		if (ring_ok_) {
			io_uring_queue_exit(&ring_); // unmaps and closes; no request
			ring_ok_ = false;
		}
		for (sys::unique_fd *f : {&readyfd_, &wakefd_, &shadow_, &front_})
			if (*f)
				::close(f->release());
	}

	descriptor_match watching(int fd) const override {
		count();
		return epoll_probe(shadow_.get(), fd);
	}

	int start_io(const io_request &rq, uint64_t token) override {
		if (rq.op == io_op::sendfile)
			return -EOPNOTSUPP; // no such opcode: the core's pool runs it
		std::lock_guard lk(mu_);
		inflight_.insert(token); // may throw: before the kernel has it
		io_uring_sqe *sqe = get_sqe();
		unsigned len = static_cast<unsigned>(rq.len);
		uint64_t off = static_cast<uint64_t>(rq.off); // -1: the file position
		switch (rq.op) {
		case io_op::read:
			io_uring_prep_read(sqe, rq.fd, rq.buf, len, off);
			break;
		case io_op::write:
			io_uring_prep_write(sqe, rq.fd, rq.buf, len, off);
			break;
		case io_op::fsync:
			io_uring_prep_fsync(sqe, rq.fd, rq.flags ? IORING_FSYNC_DATASYNC : 0);
			break;
		case io_op::recv:
			io_uring_prep_recv(sqe, rq.fd, rq.buf, len, rq.flags);
			break;
		case io_op::send:
			io_uring_prep_send(sqe, rq.fd, rq.buf, len, rq.flags);
			break;
		case io_op::accept:
			io_uring_prep_accept(sqe, rq.fd, nullptr, nullptr, rq.flags);
			break;
		case io_op::connect:
			io_uring_prep_connect(sqe, rq.fd,
					      reinterpret_cast<const sockaddr *>(&rq.addr),
					      rq.addrlen);
			break;
		case io_op::sendfile: // refused above; the splice pair it would
			break;        // take needs a pipe per operation
		}
		sqe->user_data = token;
		submit_if_blocked();
		return 0;
	}

	// REMOVE of a request. io_uring's ASYNC_CANCEL cannot undo a request
	// that has run: the target's own CQE says which it was (-ECANCELED or
	// -EINTR: stopped before it took or gave anything; anything else: its
	// result, which the caller hands over instead of a cancellation).
	io_cancel cancel_io(uint64_t token, int32_t &result) override {
		std::unique_lock lk(mu_);
		if (!inflight_.count(token)) {
			// Reaped already: waiting in pending_, or in the hands of
			// a poller that dispatches it once it has the queue lock.
			for (auto it = pending_.begin(); it != pending_.end(); ++it)
				if (it->token == token) {
					result = it->result;
					pending_.erase(it);
					return io_cancel::completed;
				}
			return io_cancel::reported;
		}
		if (withdraw_unsubmitted(token)) {
			inflight_.erase(token);
			return io_cancel::cancelled;
		}
		cancelling_.insert(token);
		removing_ = token;
		io_uring_sqe *sqe = get_sqe();
		io_uring_prep_cancel64(sqe, token, 0);
		sqe->user_data = own(own_ignore);
		drain_cancelled(lk);
		removing_ = 0;
		result = removed_res_;
		return result == -ECANCELED || result == -EINTR ? io_cancel::cancelled
								: io_cancel::completed;
	}

private:
	static uint32_t next_seq(uint32_t s) {
		return (s + 1) & 0x3fffffffu ? (s + 1) & 0x3fffffffu : 1;
	}

	// ---- SQ (mu_ held) --------------------------------------------------

	io_uring_sqe *get_sqe() {
		io_uring_sqe *sqe = io_uring_get_sqe(&ring_);
		while (!sqe) { // full: hand what is queued to the kernel
			open_update_ = nullptr;
			count();
			io_uring_submit(&ring_);
			sqe = io_uring_get_sqe(&ring_);
		}
		return sqe;
	}

	// Publish the queued SQEs to the kernel (no syscall); how many it has
	// not consumed yet.
	unsigned flush_sq() {
		io_uring_sq &sq = ring_.sq;
		open_update_ = nullptr; // the kernel may read it from now on
		if (sq.sqe_head != sq.sqe_tail) {
			sq.sqe_head = sq.sqe_tail;
			io_uring_smp_store_release(sq.ktail, sq.sqe_tail);
		}
		return sq.sqe_tail - io_uring_smp_load_acquire(sq.khead);
	}

	// A poller is blocked in io_uring_enter and will not submit before it
	// wakes: whoever queued SQEs submits them.
	void submit_if_blocked() {
		if (!poller_blocked_)
			return;
		unsigned n = flush_sq();
		if (n)
			enter(n, 0, 0, false);
	}

	static uint64_t poll_data(int fd, const fd_slot &s) {
		return uint64_t(s.seq) << 32 | uint32_t(fd);
	}

	void arm_poll(int fd, fd_slot &s) {
		io_uring_sqe *sqe = get_sqe();
		s.seq = next_seq(s.seq);
		unsigned events = s.mode.events;
		if (s.mode.level || s.mode.oneshot)
			io_uring_prep_poll_add(sqe, fd, events);
		else
			io_uring_prep_poll_multishot(sqe, fd, events);
		if (s.fixed)
			sqe->flags |= IOSQE_FIXED_FILE; // the table's slot `fd`: the file itself
		sqe->user_data = poll_data(fd, s);
	}

	// ---- the fixed-file table (mu_ held; the ledger at the top) ----------

	// A new watch of fd: put its file in the table, in the submission that
	// carries its first poll (issued before it). The number names the
	// right file now: the mirror's EPOLL_CTL_ADD has just checked it, and
	// the call that watches submits before it returns.
	void install_fixed(int fd) {
		fd_slot &s = slots_[fd];
		s.fixed = false;
		if (static_cast<unsigned>(fd) >= fixed_size_)
			return; // polled by number (the ledger)
		update_fixed(fd, fd);
		s.fixed = true;
	}

	// At the first watch, with what may throw (before anything is to undo):
	// the table and its values (-1: empty), then its registration — one
	// io_uring_register in the queue's life. Failing (before 5.19), numbers.
	void prepare_fixed() {
		if (fixed_tried_)
			return;
		rlimit rl{};
		unsigned n = fixed_max;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < n)
			n = static_cast<unsigned>(rl.rlim_cur);
		// Mapped, not from the heap: like malloc's own large blocks, but
		// past the sanitizers' allocator, whose size-class locks a fork
		// child could inherit held (GCC 12's ASan: fork_under_load_test's
		// children, each watching from a new queue, hung in operator new
		// while parent threads made queues). Without it, numbers.
		fixed_tried_ = true;
		void *mem = mmap(nullptr, size_t(n) * sizeof(int), PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (mem == MAP_FAILED)
			return;
		// Not filled with -1: a slot's value is written before any
		// update reads it (update_fixed), so only the pages of numbers
		// in use are ever touched, and unmapping the rest at close costs
		// nothing (filled, 20,000 slots cost 50 us of kevent_close).
		fixed_fds_.reset(static_cast<int *>(mem), size_t(n) * sizeof(int));
		count();
		if (io_uring_register_files_sparse(&ring_, n) == 0)
			fixed_size_ = n;
		else
			fixed_fds_.reset();
	}

	// The watch is gone: the table lets its file go (submitted by settle()
	// with the poll's cancel, before the call returns: REMOVE then close(2)
	// must close the file).
	void release_fixed(int fd) {
		fd_slot &s = slots_[fd];
		if (!s.fixed)
			return;
		s.fixed = false;
		update_fixed(fd, -1);
	}

	// The kernel reads the value when it issues the SQE: it lives in
	// fixed_fds_ (stable, one per slot), and a later update of the same
	// slot queued before then reads the same, final, value.
	// Consecutive slots share one SQE (an ADD batch of sockets opened in a
	// row): an update not handed to the kernel yet grows to cover `slot`
	// when the slots between are empty (-1 for -1 changes nothing), so a
	// batch costs about one SQE more, not twice as many.
	void update_fixed(int slot, int value) {
		fixed_fds_[slot] = value;
		if (open_update_) {
			unsigned end = open_update_->off + open_update_->len;
			unsigned u = static_cast<unsigned>(slot);
			if (u >= open_update_->off && u < end)
				return; // covered: the kernel reads the value it has now
			bool gap_empty = u >= end && u - end <= max_update_gap;
			for (unsigned i = end; gap_empty && i < u; i++)
				gap_empty = !slots_[i].fixed;
			if (gap_empty) {
				for (unsigned i = end; i < u; i++)
					fixed_fds_[i] = -1; // empty, as it reads
				open_update_->len =
					u + 1 - static_cast<unsigned>(open_update_->off);
				return;
			}
		}
		io_uring_sqe *sqe = get_sqe();
		io_uring_prep_files_update(sqe, &fixed_fds_[slot], 1, slot);
		sqe->user_data = own(own_ignore);
		open_update_ = sqe;
	}

	// ASYNC_CANCEL rather than POLL_REMOVE: see the ledger at the top.
	void remove_poll(int fd, const fd_slot &s) {
		io_uring_sqe *sqe = get_sqe();
		io_uring_prep_cancel64(sqe, poll_data(fd, s), 0);
		sqe->user_data = own(own_ignore);
	}

	// The backlog of polls to arm again (mu_ held). How many CQEs the ring
	// can take now beside what it holds and what the queued SQEs may post,
	// keeping an eighth for the wake poll, deadlines and I/O; none while
	// the overflow list is not empty (a new poll could not post at all).
	size_t cq_room() const {
		if (cq_overflowed())
			return 0;
		unsigned entries = *ring_.cq.kring_entries;
		unsigned used = io_uring_cq_ready(&ring_) +
				(ring_.sq.sqe_tail - io_uring_smp_load_acquire(ring_.sq.khead));
		unsigned keep = entries / 8;
		return used + keep < entries ? entries - used - keep : 0;
	}

	bool cq_overflowed() const {
		return IO_URING_READ_ONCE(*ring_.sq.kflags) & IORING_SQ_CQ_OVERFLOW;
	}

	void park(int fd, fd_slot &s, std::deque<int> &backlog) {
		s.parked = true;
		s.parked_in = waits_;
		backlog.push_back(fd);
	}

	// Arm parked polls of `backlog`, oldest first, as many as the CQ has
	// room for (each may post one CQE at once); with `not_this_wait`, not
	// those parked by the running wait (a stale entry of the same number
	// does not count for it). How many were armed.
	size_t arm_parked(std::deque<int> &backlog, bool not_this_wait = false) {
		size_t room = backlog.empty() ? 0 : cq_room(), armed = 0;
		for (size_t left = backlog.size(); armed < room && left > 0; left--) {
			int fd = backlog.front();
			backlog.pop_front();
			fd_slot &s = slots_[fd];
			if (!s.active || !s.parked)
				continue; // removed or armed anew since
			if (not_this_wait && s.parked_in == waits_) {
				backlog.push_back(fd); // reported in this wait: the next
				continue;
			}
			s.parked = false;
			arm_poll(fd, s);
			armed++;
		}
		return armed;
	}

	void arm_wake() {
		io_uring_sqe *sqe = get_sqe();
		io_uring_prep_poll_multishot(sqe, wakefd_.get(), POLLIN);
		sqe->user_data = own(own_wake);
	}

	// Submission is lazy: a request still between the published tail and
	// ours has not been seen by the kernel. It becomes a NOP (its CQE is
	// ignored), so a REMOVE right after the call cancels it for certain.
	bool withdraw_unsubmitted(uint64_t token) {
		io_uring_sq &sq = ring_.sq;
		for (unsigned i = sq.sqe_head; i != sq.sqe_tail; i++) {
			io_uring_sqe *sqe = &sq.sqes[i & *sq.kring_mask];
			if (sqe->user_data == token) {
				io_uring_prep_nop(sqe);
				sqe->user_data = own(own_ignore);
				return true;
			}
		}
		return false;
	}

	// ---- io_uring_enter ---------------------------------------------------

	// Submit `to_submit` and wait for `min_complete` CQEs or the timeout.
	// A blocking wait is a cancellation point (SPEC §6), as epoll_pwait2 is
	// in the epoll backend: liburing's own calls are not, so this is the raw
	// syscall with asynchronous cancellation around it only — no lock is
	// held and no userspace state changes there.
	// `getevents` without a wait: run this thread's task work (a new poll's
	// first CQE) and move the overflow list into the CQ.
	int enter(unsigned to_submit, unsigned min_complete, int64_t timeout_ns, bool cancellable,
		  bool getevents = false) {
		__kernel_timespec ts{};
		io_uring_getevents_arg arg{};
		arg.sigmask_sz = _NSIG / 8;
		unsigned flags = IORING_ENTER_EXT_ARG;
		if (min_complete || cancellable || getevents)
			flags |= IORING_ENTER_GETEVENTS;
		if (timeout_ns >= 0) {
			ts.tv_sec = timeout_ns / 1000000000;
			ts.tv_nsec = timeout_ns % 1000000000;
			arg.ts = reinterpret_cast<uint64_t>(&ts);
		}
		count();
		// glibc declares syscall() and pthread_setcanceltype() nothrow
		// (the latter acts on a pending cancellation itself), so the
		// compiler leaves their calls out of the unwind tables, and
		// pthread_cancel's forced unwind would skip every destructor
		// above them (the queue's waiter count, its poller role).
		// Called through volatile pointers of potentially-throwing
		// types, the call sites are recorded (tests/ring: cancelled
		// waiters).
		static long (*volatile raw_syscall)(long, ...) = ::syscall;
		static int (*volatile set_cancel_type)(int, int *) = ::pthread_setcanceltype;
		long r;
		if (cancellable) {
			int old;
			set_cancel_type(PTHREAD_CANCEL_ASYNCHRONOUS, &old);
			r = raw_syscall(__NR_io_uring_enter, ring_.ring_fd, to_submit, min_complete,
					flags, &arg, sizeof arg);
			set_cancel_type(old, nullptr);
		} else {
			r = raw_syscall(__NR_io_uring_enter, ring_.ring_fd, to_submit, min_complete,
					flags, &arg, sizeof arg);
		}
		if (r < 0 && errno == EINTR)
			return -EINTR;
		return 0; // ETIME: the timeout; EBUSY/EAGAIN: CQ overflow, reaped next
	}

	// ---- CQ (mu_ held) ----------------------------------------------------

	void emit(backend_event *out, int max, int &k, const backend_event &e) {
		if (k < max)
			out[k++] = e;
		else
			pending_.push_back(e);
	}

	int take_pending(backend_event *out, int max) {
		int k = 0;
		while (k < max && !pending_.empty()) {
			out[k++] = pending_.front();
			pending_.pop_front();
		}
		return k;
	}

	int reap(backend_event *out, int max, bool &woken) {
		int k = 0;
		for (int round = 0;; round++) {
			unsigned head, seen = 0;
			io_uring_cqe *cqe;
			io_uring_for_each_cqe(&ring_, head, cqe) {
				seen++;
				handle(*cqe, out, max, k, woken);
			}
			io_uring_cq_advance(&ring_, seen);
			// CQEs the full ring sent to the overflow list come out
			// only through io_uring_enter; until they do, every new
			// one queues behind them and no multishot poll can post.
			// (Bounded: a storm of new ones is reaped next call.)
			if (!cq_overflowed() || round == 64)
				break;
			enter(0, 0, 0, false, true);
		}
		return k;
	}

	// Reap into pending_ (a thread that is not the poller).
	bool reap_for_others() {
		bool woken = false;
		size_t before = pending_.size();
		backend_event none;
		reap(&none, 0, woken);
		return woken || pending_.size() != before;
	}

	void handle(const io_uring_cqe &cqe, backend_event *out, int max, int &k, bool &woken) {
		uint64_t ud = cqe.user_data;
		bool more = cqe.flags & IORING_CQE_F_MORE;
		if (ud & own_bit) {
			if ((ud & 0xff) == own_wake) {
				woken = true;
				if (!more && !closing_)
					arm_wake();
			}
			return; // deadlines and our removals only end the wait
		}
		if (ud & io_token_bit) {
			inflight_.erase(ud);
			if (cancelling_.erase(ud)) {
				// REMOVE or close is waiting for this, not the user;
				// REMOVE decides by its result.
				if (ud == removing_)
					removed_res_ = cqe.res;
				return;
			}
			emit(out, max, k, backend_event{ud, 0, cqe.res});
			return;
		}
		int fd = static_cast<int>(static_cast<uint32_t>(ud));
		uint32_t seq = static_cast<uint32_t>(ud >> 32);
		if (static_cast<size_t>(fd) >= slots_.size())
			return;
		fd_slot &s = slots_[fd];
		if (!s.active || s.seq != seq || s.parked)
			return;    // removed or re-armed since
		if (cqe.res < 0) { // the poll could not be armed (EBADF ...)
			emit(out, max, k, backend_event{s.token, POLLERR | POLLNVAL, 0});
			return;
		}
		if (more) {
			emit(out, max, k,
			     backend_event{s.token, static_cast<uint32_t>(cqe.res), 0});
			return;
		}
		if (closing_)
			return;
		if (s.mode.level || s.mode.oneshot) {
			// A single-shot poll's one CQE: the report. Look again at
			// the next wait — unless the queue parked the watch
			// (oneshot): then not until it is watched again.
			emit(out, max, k,
			     backend_event{s.token, static_cast<uint32_t>(cqe.res), 0});
			if (!s.mode.oneshot)
				park(fd, s, relook_);
		} else {
			// The kernel ended a multishot poll (full CQ): its mask may
			// be reported already or no longer true. The poll armed
			// again reports what holds then (the ledger at the top).
			park(fd, s, ended_);
		}
	}

	// Wait until every token in cancelling_ has completed, or `rounds` of
	// at most 1 ms have passed (-1: no bound). The poller may be blocked in
	// io_uring_enter too and reap some of them; what this thread reaps for
	// others waits in pending_ and the poller is woken.
	void drain_cancelled(std::unique_lock<std::mutex> &lk, int rounds = -1) {
		for (; !cancelling_.empty() && rounds != 0; rounds -= rounds > 0) {
			unsigned n = flush_sq();
			lk.unlock();
			enter(n, 1, 1000000, false); // 1 ms: the poller may reap it first
			lk.lock();
			if (reap_for_others())
				wake(); // they were the poller's: let it come for them
		}
	}

	// Closing: I/O in flight must be finished with the caller's buffers
	// before kevent_close returns, so each request is cancelled and its
	// final CQE awaited. Nothing else holds memory of the caller's: the
	// polls, the deadlines, the wake poll and the fixed-file table are
	// ended by the ring's teardown, in a kernel worker, moments after the
	// call returns (docs/semantics.md). Ending and reaping them here cost
	// an io_uring_enter of one cancel per watch (issue 14 item 8). The
	// bound (5,000 rounds of 1 ms) is for I/O the kernel cannot end at
	// once (a read stuck in a device): kevent_close must not hang on it.
	void retire_all() {
		std::unique_lock lk(mu_);
		closing_ = true; // nothing is armed again from here on
		for (uint64_t t : inflight_) {
			cancelling_.insert(t);
			io_uring_sqe *sqe = get_sqe();
			io_uring_prep_cancel64(sqe, t, 0);
			sqe->user_data = own(own_ignore);
		}
		drain_cancelled(lk, 5000);
	}

	io_uring ring_{};
	bool ring_ok_ = false;
	pid_t pid_ = 0;
	// The fixed-file table: registered at the first watch (fixed_tried_),
	// fixed_size_ slots (0: none); fixed_fds_ holds what each slot's last
	// queued update reads.
	uint64_t waits_ = 0; // wait() calls so far: which one parked a poll
	bool fixed_tried_ = false;
	unsigned fixed_size_ = 0;
	// The table's values, mapped (prepare_fixed).
	class mapped_ints {
	public:
		~mapped_ints() { reset(); }
		void reset(int *p = nullptr, size_t bytes = 0) {
			if (p_)
				munmap(p_, bytes_);
			p_ = p;
			bytes_ = bytes;
		}
		int *get() const { return p_; }
		int &operator[](size_t i) const { return p_[i]; }
		explicit operator bool() const { return p_ != nullptr; }

	private:
		int *p_ = nullptr;
		size_t bytes_ = 0;
	} fixed_fds_;
	io_uring_sqe *open_update_ = nullptr; // the last FILES_UPDATE not yet handed over
	sys::unique_fd front_, shadow_, wakefd_, readyfd_;

	std::mutex mu_;
	std::vector<fd_slot> slots_;
	std::deque<backend_event> pending_; // reaped, not yet returned by wait()
	std::deque<int> ended_;             // multishot polls the kernel ended: arm again now
	std::deque<int> relook_;            // LEVEL polls that reported: arm at the next wait
	bool removed_ = false;              // an unwatch queued a POLL_REMOVE: settle() submits it
	std::unordered_set<uint64_t> inflight_, cancelling_;
	uint64_t removing_ = 0;   // the request cancel_io() waits for (one at a time: queue lock)
	int32_t removed_res_ = 0; // ... and its CQE's result
	bool poller_blocked_ = false;
	bool closing_ = false;
	uint32_t timeout_seq_[clock_count] = {};
	__kernel_timespec deadline_[clock_count] = {};
};

} // namespace

std::unique_ptr<backend> make_uring_backend(int &err) {
	auto b = std::make_unique<uring_backend>();
	err = b->init();
	if (err < 0)
		return nullptr;
	return b;
}

} // namespace kevent::detail
