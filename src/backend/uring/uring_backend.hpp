// SPDX-License-Identifier: MIT
// io_uring backend — the class its parts share, and what they all rely on.
//
// The parts, one concept each:
//   uring_backend.cpp      set-up, close and a fork child's close
//   uring_ring.cpp         the ring: SQ, io_uring_enter, CQ reaping, wait(),
//                          deadlines
//   uring_watch.cpp        fd watches: polls, their mirror, the re-arm backlog
//   uring_fixed_files.cpp  the fixed-file table that holds a watched file
//   uring_io.cpp           asynchronous I/O requests (start_io, cancel_io)
//
// Kernel behaviours the backend depends on (Linux 5.17+; init() checks the
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
// - Polls armed again (those, and LEVEL watches after each report), and
//   the first poll of a new or changed watch of a program's file, wait in
//   a backlog and are armed only while the CQ has room for the CQE each may
//   post at once, after a reap, with the overflow list empty: re-arms can
//   never overflow the CQ themselves, so every round makes progress. They
//   are armed by a wait (ADD's and MODIFY's look is one), never by the end
//   of a call: a poll looks at its file when it is armed, and one armed
//   then reported what the program consumed before its next wait (the
//   differential fuzzer). A source's poll (watch_mode::at_once) is armed
//   at once: nothing the program reads is behind it.
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
// - The mirror's EPOLL_CTL_ADD and _DEL are SQEs (IORING_OP_EPOLL_CTL, 5.6;
//   without it, epoll_ctl calls), queued before the watch's poll and
//   issued in order with it: an ADD batch of N sockets and its REMOVE
//   batch cost one io_uring_enter each, as raw io_uring's polls do, not N
//   epoll_ctl calls (issue 17). The ADD carries IOSQE_CQE_SKIP_SUCCESS: only
//   a refusal posts a CQE, which the batch's one look reaps (kevent_ctl
//   decides each entry after it): the watch is taken back and reported as
//   {token, POLLERR | POLLNVAL, -errno} (backend.hpp), the errno in
//   kevent_ctl(3)'s words, as a synchronous refusal would give. The kernel
//   copies the epoll_event when it issues the SQE (io_epoll_ctl_prep), so
//   one constant serves every ADD. Until the kernel consumed a watch's ADD,
//   probe_watched() answers `same` for it: the number was checked by the
//   call that queued it, which submits before it returns (the fixed-file
//   update has the same window).
// - A watched file that is itself an epoll file (another queue's descriptor,
//   or any epoll set) is also added to the queue's descriptor (epfd_, an
//   epoll file) with empty interest, so the kernel's graph of nested epoll
//   files holds the same edge as on the epoll backend: a queue watching
//   itself gets EINVAL, a loop ELOOP, and the same depth limit applies
//   (issue 14 item 10). An epoll file never reports ERR/HUP, so the item
//   never makes epfd_ readable. It is told apart for free: the mirror's ADD
//   asks for EPOLLEXCLUSIVE, which epoll refuses with EINVAL for an epoll
//   file only (as an SQE: its refusal's CQE, and the epoll file is then
//   added as before, at the reap — mirror_refused). (An exclusive item that
//   nobody waits on never consumes an exclusive wake-up: ep_poll_callback
//   returns 0 for it.)
// - io_poll_wake() matches a keyed wake-up against a poll's interest
//   without EPOLLPRI (IO_ASYNC_POLL_COMMON), and a completion carries the
//   wake-up's key, not the file's state: a POLLPRI-only poll on a socket
//   never completes, and POLLIN|POLLPRI reports PRI for plain data. A watch
//   that asks POLLPRI polls RDBAND too and takes its priority bits from a
//   poll(2) of the file (recheck_priority).
// - IORING_OP_TIMEOUT with IORING_TIMEOUT_ABS and a clock flag (5.15): the
//   core's deadlines, one per clock, moved by TIMEOUT_REMOVE + TIMEOUT,
//   submitted by the end of the call that moved them (flush_changes): one
//   io_uring_enter per such call, as the epoll backend's timerfd_settime,
//   and none when the call waits anyway. Until the kernel has a deadline,
//   its expiry cannot make the queue's descriptor readable.
// - IORING_ENTER_EXT_ARG (5.11): one io_uring_enter submits what is queued and
//   waits with a timeout.
// - The ring fd is pollable (POLLIN while CQEs wait). The queue's descriptor
//   is an epoll file holding it, the ready eventfd (level) and the wake
//   eventfd (edge; also what probe_queue_descriptor() probes for); all but
//   the ring fd are the base class's (backend.cpp).
// - wake() writes an eventfd with a multishot poll on it: every write is a
//   CQE. It is never read.
//
// LOCKING: mu_ guards the SQ, the CQ and the tables; never held across a
// blocking io_uring_enter. The queue lock is held around every call but
// wait(), so a poller may sit in io_uring_enter while another thread queues
// SQEs: that thread then submits them itself (poller_blocked_).
#pragma once

#include "backend/backend.hpp"
#include "sys/unique_fd.hpp"

#include <kevent/kevent.h>

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <sys/mman.h>
#include <unistd.h>
#include <unordered_set>
#include <vector>

namespace kevent::detail {

// One watched fd number.
struct fd_slot {
	uint64_t token = 0;
	uint32_t seq = 0; // changes with every arm: older CQEs are stale
	watch_mode mode;
	bool active = false;
	// No poll in the kernel: waits in this backlog to be armed (an entry
	// in another one is stale: skipped).
	const std::deque<int> *in_backlog = nullptr;
	bool in_front = false;      // an epoll file, in epfd_ too (loop checks)
	bool fixed = false;         // its file is in the fixed-file table, slot = the number
	uint64_t backlogged_in = 0; // the wait (waits_) that put it in the backlog
	uint32_t life = 0;          // new watches of this number so far (the mirror's CQE)
	unsigned set_add_at = 0; // SQ position after its mirror ADD (queued while the kernel's head
				 // is before it)
};

// The fixed-file table's values, mapped (prepare_fixed).
class mapped_ints {
public:
	mapped_ints() = default;
	mapped_ints(const mapped_ints &) = delete;
	mapped_ints &operator=(const mapped_ints &) = delete;
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
};

class uring_backend final : public backend {
public:
	uring_backend() : backend(KEVENT_BACKEND_URING) {}
	~uring_backend() override;
	int init();

	// uring_watch.cpp
	int watch(int fd, const watch_mode &want, const watch_mode *was, uint64_t token) override;
	int unwatch(int fd) override;
	void flush_changes() override;
	descriptor_match probe_watched(int fd) override;

	// uring_ring.cpp
	int wait(backend_event *out, int max, int64_t timeout_ns, bool &woken) override;
	int arm_deadline(clock_kind clock, int64_t abs_ns) override;

	// uring_backend.cpp
	void close_inherited() noexcept override;

	// uring_io.cpp
	int start_io(const io_request &rq, uint64_t token) override;
	io_cancel cancel_io(uint64_t token, int32_t &result) override;

private:
	// The next number of a sequence (a poll's, a deadline's): under 2^30
	// (the token layout, backend.hpp), never 0.
	static uint32_t next_seq(uint32_t s) { return (s + 1) & seq_mask ? (s + 1) & seq_mask : 1; }

	// ---- the ring (uring_ring.cpp; mu_ held) ----------------------------
	io_uring_sqe *get_sqe();
	unsigned flush_sq();
	void submit_if_blocked();
	int enter(unsigned to_submit, unsigned min_complete, int64_t timeout_ns, bool cancellable,
		  bool getevents = false);
	// Report e: into out while there is room, else into pending_.
	void emit(backend_event *out, int max, int &k, const backend_event &e) {
		if (k < max)
			out[k++] = e;
		else
			pending_.push_back(e);
	}
	int take_pending(backend_event *out, int max);
	int reap(backend_event *out, int max, bool &woken);
	bool reap_for_others();
	void handle(const io_uring_cqe &cqe, backend_event *out, int max, int &k, bool &woken);
	void handle_poll(const io_uring_cqe &cqe, backend_event *out, int max, int &k);
	static bool is_deadline(uint64_t user_data) {
		uint64_t kind = user_data & 0xff;
		return kind >= own_deadline && kind < own_deadline + clock_count;
	}
	int current_deadline(uint64_t user_data) const;
	bool poll_is_stale(const io_uring_cqe &cqe) const;
	bool reports_nothing(const io_uring_cqe &cqe) const;
	void drop_quiet_cqes();
	uint32_t recheck_priority(int fd, const fd_slot &s, uint32_t mask);
	size_t cq_room() const;
	// The backlogs of polls to arm (unarmed_, relook_).
	void to_backlog(int fd, fd_slot &s, std::deque<int> &backlog) {
		s.in_backlog = &backlog;
		s.backlogged_in = waits_;
		backlog.push_back(fd);
	}
	// Most waits find both empty: no call then.
	size_t arm_backlog(std::deque<int> &backlog, bool not_this_wait = false) {
		return backlog.empty() ? 0 : arm_from_backlog(backlog, not_this_wait);
	}
	size_t arm_from_backlog(std::deque<int> &backlog, bool not_this_wait);
	bool cq_overflowed() const {
		return IO_URING_READ_ONCE(*ring_.sq.kflags) & IORING_SQ_CQ_OVERFLOW;
	}

	// ---- watches (uring_watch.cpp; mu_ held, but by mirror()) ----------
	int mirror(int fd, bool &nested);
	void queue_mirror_add(int fd, fd_slot &s);
	void queue_mirror_del(int fd);
	void mirror_refused(const io_uring_cqe &cqe, backend_event *out, int max, int &k);
	static uint64_t poll_data(int fd, const fd_slot &s) {
		return uint64_t(s.seq) << 32 | uint32_t(fd);
	}
	void arm_poll(int fd, fd_slot &s);
	void remove_poll(int fd, const fd_slot &s);
	void arm_wake();

	// ---- the fixed-file table (uring_fixed_files.cpp; mu_ held) ---------
	void prepare_fixed();
	void install_fixed(int fd);
	void release_fixed(int fd);
	void update_fixed(int slot, int value);

	// ---- I/O requests (uring_io.cpp; mu_ held) --------------------------
	void handle_io(const io_uring_cqe &cqe, backend_event *out, int max, int &k);
	bool withdraw_unsubmitted(uint64_t token);
	void drain_cancelled(std::unique_lock<std::mutex> &lk, int rounds = -1);
	void retire_all();

	// The ring (uring_ring.cpp).
	io_uring ring_{};
	bool ring_ok_ = false;
	pid_t pid_ = 0; // the process that set it up (a fork child shares it)
	std::mutex mu_;
	bool poller_blocked_ = false; // a wait() sits in io_uring_enter
	bool closing_ = false;        // retire_all(): nothing is armed again
	uint64_t waits_ = 0;          // wait() calls so far: which one put a poll in a backlog
	std::deque<backend_event> pending_; // reaped, not yet returned by wait()
	uint32_t timeout_seq_[clock_count] = {};
	// The deadline of the clock is in the kernel, not yet completed: only
	// then does a new one remove it first. The completion of a removal
	// that finds nothing (-ENOENT) would be a CQE, and any CQE makes the
	// queue's descriptor readable with nothing to deliver.
	bool timeout_live_[clock_count] = {};
	__kernel_timespec deadline_[clock_count] = {};

	// Watches (uring_watch.cpp).
	sys::unique_fd shadow_; // the mirror of the watches (watch_set_)
	std::vector<fd_slot> slots_;
	// Polls to arm at the next wait (or look), in order: new and changed
	// watches (not at the end of the call that made them: a poll armed
	// then would report what the program consumes before that wait) and
	// multishot polls the kernel ended.
	std::deque<int> unarmed_;
	std::deque<int> relook_; // LEVEL polls that reported: arm at the next wait
	// What flush_changes() submits was queued: an unwatch's cancel (REMOVE
	// then close(2) must close the file), a deadline or a source's poll
	// (a poller of the queue's descriptor outside the library sees the
	// timer expire or the signal come: kevent_init(3)).
	bool submit_at_end_ = false;
	bool async_mirror_ = false; // IORING_OP_EPOLL_CTL: the mirror's changes are SQEs

	// The fixed-file table (uring_fixed_files.cpp): registered at the
	// first watch (fixed_tried_), fixed_size_ slots (0: none); fixed_fds_
	// holds what each slot's last queued update reads.
	bool fixed_tried_ = false;
	unsigned fixed_size_ = 0;
	mapped_ints fixed_fds_;
	io_uring_sqe *open_update_ = nullptr; // the last FILES_UPDATE not yet handed over

	// I/O requests (uring_io.cpp).
	std::unordered_set<uint64_t> inflight_, cancelling_;
	uint64_t removing_ = 0;   // the request cancel_io() waits for (one at a time: queue lock)
	int32_t removed_res_ = 0; // ... and its CQE's result
};

} // namespace kevent::detail
