// SPDX-License-Identifier: MIT
// io_uring backend: the ring — queuing SQEs and handing them to the kernel,
// io_uring_enter, reaping the CQ (and its overflow list) with what each CQE
// means (a poll's report here too: the event path stays in one file), the
// room left in the CQ and the re-arm backlogs that wait for it, wait(), and
// the deadlines (the ledger: uring_backend.hpp).
//
// LOCKING: wait() and arm_deadline() take mu_ (uring_backend.hpp), the
// others run under it; wait() lets it go around its io_uring_enter.
#include "backend/epoll_probe.hpp"
#include "backend/uring/uring_backend.hpp"

#include <cerrno>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace kevent::detail {
namespace {

constexpr unsigned clock_flags[clock_count] = {0, IORING_TIMEOUT_REALTIME, IORING_TIMEOUT_BOOTTIME};

} // namespace

int uring_backend::wait(backend_event *out, int max, int64_t timeout_ns, bool &woken) {
	std::unique_lock lk(mu_);
	int k = take_pending(out, max);
	// Completions are often in the CQ ring before we ask: a poll's
	// wake-up runs as task work when this thread returns from its own
	// send(2), so a ping-pong with nothing to submit reaps them with no
	// system call at all (as raw io_uring loops that peek first do).
	// Reaping first also frees the room the re-arms below may use.
	// Any CQE (a wake-up, a deadline: reported as none) ends the wait:
	// one this reap consumed too, though the CQ looked empty a moment
	// before (a wake-up's CQE is posted by task work on another thread,
	// at any time). Blocking after reaping it slept through the wake-up
	// (role blocked_woken in waiters.hpp: no second one comes).
	const unsigned head_before = *ring_.cq.khead;
	bool overflowed = cq_overflowed();
	// LEVEL watches look again once their reports were handed over:
	// those that reported before this wait, not one reaped just now
	// (epoll re-reports a level item at each epoll_wait, not twice in
	// one: the reference model's rule too); new watches and polls the
	// kernel ended are armed now.
	waits_++;
	k += reap(out + k, max - k, woken);
	bool posted = overflowed || *ring_.cq.khead != head_before;
	if (pending_.empty())
		arm_backlog(relook_, true);
	arm_backlog(unarmed_);
	// Something to report already, or polls still to arm (more than
	// the CQ had room for): do not block.
	if (posted || k > 0 || !unarmed_.empty() || !relook_.empty())
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
		// A wait that also submitted returns the count submitted, not
		// EINTR, when a signal handler cut it short: ended with no
		// completion at all (nor one another thread reaped for us), it
		// was a signal — or the timeout, which the caller tells apart
		// by its clock (KEVENT_FLAGS_EINTR, kevent_get_events(3)).
		if (blocks && r == 0 && io_uring_cq_ready(&ring_) == 0 && !cq_overflowed() &&
		    pending_.empty())
			r = -EINTR;
	}
	k += reap(out + k, max - k, woken);
	// New watches beyond the CQ's room, and polls that ended here for
	// want of it, report once armed: in rounds the CQ can hold, each
	// reaped before the next, so that they are reported by this call (an
	// ADD's one look sees every new watch that is ready, however many).
	for (int round = 0; round < 64 && !unarmed_.empty(); round++) {
		if (arm_backlog(unarmed_) == 0)
			break;
		enter(flush_sq(), 0, 0, false, true);
		k += reap(out + k, max - k, woken);
	}
	// A look from kevent_ctl while the poller is blocked: what the
	// reaps queued (the wake-up poll armed again) goes in now.
	submit_if_blocked();
	if (r == -EINTR && k > 0) {
		// Reported with the EINTR: by the next wait, which does not
		// block while they wait (KEVENT_FLAGS_EINTR must see the EINTR).
		pending_.insert(pending_.begin(), out, out + k);
		return -EINTR;
	}
	return r == -EINTR ? -EINTR : k;
}

int uring_backend::arm_deadline(clock_kind clock, int64_t abs_ns) {
	int c = static_cast<int>(clock);
	std::lock_guard lk(mu_);
	if (abs_ns <= 0)
		abs_ns = 1;
	if (timeout_live_[c]) {
		// Its success posts nothing: a CQE would make the descriptor
		// readable with nothing to deliver (the removed deadline's own
		// -ECANCELED still does, until the next harvest).
		io_uring_sqe *sqe = get_sqe();
		io_uring_prep_timeout_remove(sqe, own_token(own_deadline + c, timeout_seq_[c]), 0);
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
		sqe->user_data = own_token(own_ignore);
	}
	timeout_seq_[c] = next_seq(timeout_seq_[c]);
	deadline_[c].tv_sec = abs_ns / 1000000000;
	deadline_[c].tv_nsec = abs_ns % 1000000000;
	io_uring_sqe *sqe = get_sqe();
	io_uring_prep_timeout(sqe, &deadline_[c], 0, IORING_TIMEOUT_ABS | clock_flags[c]);
	sqe->user_data = own_token(own_deadline + c, timeout_seq_[c]);
	timeout_live_[c] = true;
	submit_at_end_ = true;
	submit_if_blocked();
	return 0;
}

// ---- SQ -------------------------------------------------------------------

io_uring_sqe *uring_backend::get_sqe() {
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
unsigned uring_backend::flush_sq() {
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
void uring_backend::submit_if_blocked() {
	if (!poller_blocked_)
		return;
	unsigned n = flush_sq();
	if (n)
		enter(n, 0, 0, false);
}

// ---- io_uring_enter -------------------------------------------------------

// Submit `to_submit` and wait for `min_complete` CQEs or the timeout.
// A blocking wait is a cancellation point (docs/semantics.md, "Threads"),
// as epoll_pwait2 is in the epoll backend: liburing's own calls are not, so this is the raw
// syscall with asynchronous cancellation around it only — no lock is
// held and no userspace state changes there.
// `getevents` without a wait: run this thread's task work (a new poll's
// first CQE) and move the overflow list into the CQ.
int uring_backend::enter(unsigned to_submit, unsigned min_complete, int64_t timeout_ns,
			 bool cancellable, bool getevents) {
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
		r = raw_syscall(__NR_io_uring_enter, ring_.ring_fd, to_submit, min_complete, flags,
				&arg, sizeof arg);
		set_cancel_type(old, nullptr);
	} else {
		r = raw_syscall(__NR_io_uring_enter, ring_.ring_fd, to_submit, min_complete, flags,
				&arg, sizeof arg);
	}
	if (r < 0 && errno == EINTR)
		return -EINTR;
	return 0; // ETIME: the timeout; EBUSY/EAGAIN: CQ overflow, reaped next
}

// ---- CQ -------------------------------------------------------------------

int uring_backend::take_pending(backend_event *out, int max) {
	int k = 0;
	while (k < max && !pending_.empty()) {
		out[k++] = pending_.front();
		pending_.pop_front();
	}
	return k;
}

int uring_backend::reap(backend_event *out, int max, bool &woken) {
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
bool uring_backend::reap_for_others() {
	bool woken = false;
	size_t before = pending_.size();
	backend_event none;
	reap(&none, 0, woken);
	return woken || pending_.size() != before;
}

// The clock whose current deadline this own token names, or -1 (another
// kind, or a deadline replaced since).
int uring_backend::current_deadline(uint64_t ud) const {
	if (!is_deadline(ud))
		return -1;
	int c = static_cast<int>((ud & 0xff) - own_deadline);
	return static_cast<uint32_t>((ud & ~backend_own_bit) >> 8) == timeout_seq_[c] ? c : -1;
}

// A poll's CQE from before its watch was removed or armed anew.
bool uring_backend::poll_is_stale(const io_uring_cqe &cqe) const {
	int fd = static_cast<int>(static_cast<uint32_t>(cqe.user_data));
	uint32_t seq = static_cast<uint32_t>(cqe.user_data >> 32);
	if (static_cast<size_t>(fd) >= slots_.size())
		return true;
	const fd_slot &s = slots_[fd];
	return !s.active || s.seq != seq || s.in_backlog;
}

// A CQE that handle() would take without a report or a change of state:
// a removal's, a replaced deadline's, a removed or replaced poll's.
bool uring_backend::reports_nothing(const io_uring_cqe &cqe) const {
	uint64_t ud = cqe.user_data;
	if (ud & backend_own_bit) {
		if ((ud & 0xff) == own_ignore)
			return true;
		return is_deadline(ud) && current_deadline(ud) < 0; // a replaced one's
	}
	return !(ud & io_token_bit) && poll_is_stale(cqe);
}

// The CQEs at the head of the CQ that report nothing (reports_nothing), as
// the end of a call leaves them (flush_changes: a REMOVE's cancel, a
// refused watch's poll, a moved deadline): taken, or they would keep the
// queue's descriptor readable with nothing to deliver until the next
// harvest (an outside test written from kevent_init(3)). Not while a
// poller sits in the ring: it wakes for them, and finding the CQ empty it
// would take the wake-up for a signal's.
void uring_backend::drop_quiet_cqes() {
	if (poller_blocked_ || cq_overflowed())
		return;
	unsigned head, taken = 0;
	io_uring_cqe *cqe;
	io_uring_for_each_cqe(&ring_, head, cqe) {
		if (!reports_nothing(*cqe))
			break;
		taken++;
	}
	io_uring_cq_advance(&ring_, taken);
}

// A CQE by its user_data (the token layout, backend.hpp).
void uring_backend::handle(const io_uring_cqe &cqe, backend_event *out, int max, int &k,
			   bool &woken) {
	uint64_t ud = cqe.user_data;
	if (ud & backend_own_bit) {
		if ((ud & 0xff) == own_watch_set) {
			mirror_refused(cqe, out, max, k);
			return;
		}
		if ((ud & 0xff) == own_wake) {
			woken = true;
			if (!(cqe.flags & IORING_CQE_F_MORE) && !closing_)
				arm_wake();
		}
		if (int c = current_deadline(ud); c >= 0)
			timeout_live_[c] = false; // fired, or removed
		// Deadlines and our removals only end the wait.
		return;
	}
	if (ud & io_token_bit)
		handle_io(cqe, out, max, k);
	else
		handle_poll(cqe, out, max, k);
}

// A poll's CQE (user_data: poll_data). Here, beside reap(), not with the
// watches: every reported event passes through it.
void uring_backend::handle_poll(const io_uring_cqe &cqe, backend_event *out, int max, int &k) {
	if (poll_is_stale(cqe))
		return; // removed or re-armed since
	uint64_t ud = cqe.user_data;
	bool more = cqe.flags & IORING_CQE_F_MORE;
	int fd = static_cast<int>(static_cast<uint32_t>(ud));
	fd_slot &s = slots_[fd];
	if (cqe.res < 0) { // the poll could not be armed (EBADF ...)
		emit(out, max, k, backend_event{s.token, POLLERR | POLLNVAL, 0});
		return;
	}
	uint32_t mask = static_cast<uint32_t>(cqe.res);
	if (s.mode.events & POLLPRI)
		mask = recheck_priority(fd, s, mask);
	if (more) {
		if (mask)
			emit(out, max, k, backend_event{s.token, mask, 0});
		return;
	}
	if (closing_)
		return;
	if (s.mode.level || s.mode.oneshot) {
		// A single-shot poll's one CQE: the report. Look again at
		// the next wait — unless the queue parked the watch
		// (oneshot): then not until it is watched again.
		// A report the file did not confirm (recheck_priority) is
		// none: a oneshot watch then looks again too.
		if (mask)
			emit(out, max, k, backend_event{s.token, mask, 0});
		if (!s.mode.oneshot || !mask)
			to_backlog(fd, s, relook_);
	} else {
		// The kernel ended a multishot poll (full CQ): its mask may
		// be reported already or no longer true. The poll armed
		// again reports what holds then (the ledger).
		to_backlog(fd, s, unarmed_);
	}
}

// A poll's CQE carries the key of the wake-up that completed it, not what
// the file says (io_poll_wake() stashes it for the task work, which then
// skips vfs_poll): a socket's data wakes with IN|PRI|RDNORM|RDBAND, so a
// watch of POLLIN|POLLPRI would report POLLPRI for plain data. For a watch
// that asks POLLPRI the priority bits come from the file itself (one
// poll(2), its number checked first: such watches are rare); the RDBAND
// that arm_poll() added is dropped unless asked.
uint32_t uring_backend::recheck_priority(int fd, const fd_slot &s, uint32_t mask) {
	constexpr uint32_t priority = POLLPRI | POLLRDBAND;
	if (!(mask & priority))
		return mask;
	mask &= ~priority;
	count();
	if (epoll_probe(shadow_.get(), fd) != descriptor_match::same)
		return mask; // another file under the number: nothing to ask
	pollfd p{fd, static_cast<short>(s.mode.events & priority), 0};
	count();
	if (::poll(&p, 1, 0) > 0)
		mask |= static_cast<uint32_t>(p.revents) & s.mode.events & priority;
	return mask;
}

// How many CQEs the ring can take now beside what it holds and what the queued SQEs may post,
// keeping an eighth for the wake poll, deadlines and I/O; none while
// the overflow list is not empty (a new poll could not post at all).
size_t uring_backend::cq_room() const {
	if (cq_overflowed())
		return 0;
	unsigned entries = *ring_.cq.kring_entries;
	unsigned used = io_uring_cq_ready(&ring_) +
			(ring_.sq.sqe_tail - io_uring_smp_load_acquire(ring_.sq.khead));
	unsigned keep = entries / 8;
	return used + keep < entries ? entries - used - keep : 0;
}

// ---- the re-arm backlogs (the ledger: polls armed again wait in one) -------

// Arm the polls waiting in `backlog`, oldest first, as many as the CQ has
// room for (each may post one CQE at once); with `not_this_wait`, not
// those the running wait put there (a stale entry of the same number
// does not count for it). How many were armed.
size_t uring_backend::arm_from_backlog(std::deque<int> &backlog, bool not_this_wait) {
	size_t room = cq_room(), armed = 0;
	for (size_t left = backlog.size(); armed < room && left > 0; left--) {
		int fd = backlog.front();
		backlog.pop_front();
		fd_slot &s = slots_[fd];
		if (!s.active || s.in_backlog != &backlog)
			continue; // removed or armed anew since
		if (not_this_wait && s.backlogged_in == waits_) {
			backlog.push_back(fd); // reported in this wait: the next
			continue;
		}
		s.in_backlog = nullptr;
		arm_poll(fd, s);
		armed++;
	}
	return armed;
}

} // namespace kevent::detail
