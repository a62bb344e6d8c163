// SPDX-License-Identifier: MIT
// queue — the event path: what the backend reports goes to the ready list
// (dispatch), callers wait for it (wait_loop, through the states of
// waiters.hpp) and it is delivered to them (deliver_to). One file, so that
// the compiler sees the whole path. LOCKING: see queue.hpp; every function
// here runs under mu_ (asserted), but the poller drops it around its
// backend wait.
#include "core/queue.hpp"

#include "origin/aio.hpp"

#include "sys/clock.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <poll.h>

namespace kevent::detail {

// ---- readiness -------------------------------------------------------------

bool queue::make_ready(knode *n) {
	mu_.assert_held();
	if (n->has(adding)) {
		n->flags |= add_ready; // the ADD that is running decides
		return true;
	}
	if (n->req(KEVENT_REQ_DISABLED) && !n->has(broken)) {
		// Not delivered while disabled; what it collected stays in
		// ret_data (origins add to it) until a MODIFY enables it. A
		// BROKEN one has left the registry, where no MODIFY finds it:
		// it is delivered anyway.
		n->flags |= disabled_ready;
		return false;
	}
	if (!ready_.push(n))
		return false; // coalesced: it waits already
	st_.ready.set(ready_.size());
	return true;
}

// `blocked`: the poller's wait was meant to block; a level watch that
// reports nothing new is parked.
void queue::dispatch(const backend_event *ev, int count, bool blocked) {
	mu_.assert_held();
	for (int i = 0; i < count; i++) {
		if (ev[i].token & io_token_bit) {
			complete_operation(*this, ev[i].token, ev[i].result);
			continue; // or cancelled since
		}
		fd_watch *w = watches_.from_token(ev[i].token);
		if (!w)
			continue; // a watch destroyed since the kernel queued this
		if (w->source) {
			w->source->on_ready(ev[i].events);
			continue;
		}
		if (ev[i].result < 0) {
			// The kernel refused the watch once it saw it (backend.hpp,
			// watch()): the ADD that made it reports this errno.
			for (knode *n = w->head; n; n = n->fdw.wnext) {
				if (!n->has(broken)) {
					n->flags |= broken;
					n->broken_errno = -ev[i].result;
				}
				make_ready(n);
			}
			continue;
		}
		bool news = false;
		for (knode *n = w->head; n; n = n->fdw.wnext) {
			fd_report rep =
				origin_for(n->uk.type).translate(n->uk, ev[i].events, w->fd);
			if (!rep.fired && !rep.broken)
				continue;
			news |= (rep.fired & ~n->uk.ret_data[0]) != 0;
			n->uk.ret_data[0] |= rep.fired;
			if (rep.broken && !n->has(broken)) {
				n->flags |= broken;
				n->broken_errno = rep.err;
				news = true;
			}
			news |= make_ready(n);
		}
		if (blocked && !news && w->armed.level && !w->parked && w->head)
			watches_.park(w);
	}
}

void queue::expire_timers() {
	mu_.assert_held();
	timers_.expire([this](knode *n) { make_ready(n); });
}

// Dispatch what the backend has now, without blocking (ADD and MODIFY
// batches). A poller may be waiting in the backend at the same time.
int queue::dispatch_pending() {
	mu_.assert_held();
	backend_event ev[256];
	int total = 0;
	// Level-triggered items go back on epoll's ready list when reported:
	// with 256 of them ready every look returns 256, and "until a short
	// look" never ended (a hang under mu_). One pass over every watch is
	// enough to see the new ones; their order in the list is the kernel's.
	size_t passes = watches_.live() / 256 + 2;
	while (passes-- > 0) {
		bool woken = false;
		int r = be_->wait(ev, 256, 0, woken);
		if (woken && waiters_.someone_polls())
			be_->wake(); // that wake-up was for the poller: pass it on
		// A deadline reported here is not reported to the poller again.
		expire_timers();
		if (r <= 0)
			return r < 0 ? r : total;
		dispatch(ev, r);
		total += r;
		if (r < 256)
			return total;
	}
	return total;
}

// Is n looked at again just before delivery? LAST_CHECK asks for it; ET
// needs it where a report is a wake-up, not the file's state (kevent(7):
// ET comes back "only if the origin says it is ready at that moment").
bool queue::checks_at_delivery(const knode *n) const {
	return n->req(KEVENT_REQ_LAST_CHECK) || (n->req(KEVENT_REQ_ET) && be_->reports_wakeups());
}

// LAST_CHECK: is n still ready just before delivery? For fd origins one
// poll(2) gives the current bits.
bool queue::still_ready(knode *n) {
	mu_.assert_held();
	const origin_ops &o = origin_for(n->uk.type);
	if (!o.uses_fd)
		return true; // timers and user events stay ready until delivered
	// poll(2) looks at whatever the number names now: first make sure it
	// is still the file we watch.
	if (be_->probe_watched(n->fd()) != descriptor_match::same) {
		n->flags |= broken;
		n->broken_errno = EBADF;
		return true;
	}
	return poll_now(n);
}

// What the fd of n says now (one poll(2)), in n's terms: ret_data[0] = the
// bits that fire; BROKEN noted. True if it fires or is broken. The caller
// knows the number still names the watched file.
bool queue::poll_now(knode *n) {
	mu_.assert_held();
	const origin_ops &o = origin_for(n->uk.type);
	pollfd p{n->fd(), static_cast<short>(o.interest(n->uk)), 0};
	if (::poll(&p, 1, 0) < 0)
		return true;
	fd_report rep = o.translate(n->uk, static_cast<uint32_t>(p.revents), n->fd());
	n->uk.ret_data[0] = rep.fired;
	if (rep.broken) {
		n->flags |= broken;
		n->broken_errno = rep.err;
		return true;
	}
	return rep.fired != 0;
}

// Move up to max kevents from the ready list into buf. The count.
unsigned queue::deliver_to(ukevent *buf, unsigned max) {
	mu_.assert_held();
	unsigned k = 0;
	while (k < max && !ready_.empty()) {
		knode *n = ready_.front();
		// A ONESHOT kevent delivered here is erased from the registry: start
		// loading the slot of one a few places down the list (its knode is
		// warm: it was just made ready).
		knode *ahead = n;
		for (int i = 0; i < 4 && ahead; i++)
			ahead = ahead->rnext;
		if (ahead && ahead->req(KEVENT_REQ_ONESHOT))
			reg_.prefetch(key_of(ahead->uk)); // a persistent one stays put
		ready_.unlink(n);
		if (origin_for(n->uk.type).uses_fd && n->fdw.watch && n->fdw.watch->parked &&
		    !n->has(broken))
			watches_.unpark(n->fdw.watch);
		if (!n->has(broken) && checks_at_delivery(n) && !still_ready(n)) {
			n->uk.ret_data[0] = n->uk.ret_data[1] = 0;
			continue; // no longer ready: skipped, stays registered
		}
		ukevent &out = buf[k++];
		out = n->uk;
		st_.delivered.add();
		if (auto *f = origin_for(n->uk.type).on_deliver)
			f(*this, *n, out);
		if (n->has(broken)) {
			out.ret_flags = KEVENT_RET_BROKEN | KEVENT_RET_DONE;
			out.ret_data[1] = static_cast<uint32_t>(-n->broken_errno);
			st_.broken.add();
			free_node(n);
		} else if (n->req(KEVENT_REQ_ONESHOT)) {
			out.ret_flags = KEVENT_RET_DONE;
			free_node(n);
		} else {
			out.ret_flags = 0;
			n->uk.ret_data[0] = n->uk.ret_data[1] = 0;
		}
	}
	st_.ready.set(ready_.size());
	return k;
}

// After every call: do now what the backend deferred to its next wait,
// and tell the waiters (or a poller of the descriptor outside) whether
// events wait.
void queue::flush_and_notify(bool news) {
	mu_.assert_held();
	if (!backend_closing_)
		be_->flush_changes();
	waiters_.notify_readiness(!ready_.empty(), news);
}

// A caller that could take more than the ready list holds looks at the
// kernel without blocking — unless the list has events and the look can
// wait (the fairness rule of kevent_get_events(3)): a user event made
// ready and harvested by one thread then costs no system call. LEVEL
// kevents are re-reported by every look, so while any is registered every
// harvest looks; otherwise every (max_list_only_harvests + 1)th does, so
// descriptors' events join the list behind at most that many harvests.
bool queue::must_look() const {
	return ready_.empty() || level_kevents_ > 0 ||
	       list_only_harvests_ >= max_list_only_harvests;
}

// ---- waiting --------------------------------------------------------------

// The waiting loop shared by kevent_get_events and kevent_wait. `want()`
// says whether the caller can take events now (go), must wait (wait), or
// must return 0 at once (done); `room()` how many it could take;
// `deliver()` delivers them. The loop moves the caller through the states
// of waiters.hpp: it polls the backend when nobody does, else sleeps until
// the poller's news. LOCKING: called with lk held; the poller drops it
// around the backend wait only. Cancellation: the C entry point disabled it
// (sys/cancel.hpp); only the blocking backend wait and the sleep open a
// window, so pthread_cancel unwinds from there alone, and `leave` gives
// the poller role back and the thread leaves the waiters.
// KEVENT_FLAGS_EINTR: a backend wait that a signal interrupted ends the
// call like a timeout — what is ready is delivered, and with nothing ready
// it returns -EINTR. KEVENT_FLAGS_ALL_READY: the call looks at the kernel
// once whatever the ready list holds, so the list-only shortcut of the
// fairness rule (must_look) never hides a ready descriptor from it
// (kevent_get_events(3)).
template <class Want, class Room, class Deliver>
int queue::wait_loop(std::unique_lock<sys::adaptive_mutex> &lk, int64_t deadline_ns, unsigned flags,
		     Want want, Room room, Deliver deliver) {
	mu_.assert_held();
	const bool eintr = (flags & KEVENT_FLAGS_EINTR) != 0;
	const bool all_ready = (flags & KEVENT_FLAGS_ALL_READY) != 0;
	const uint64_t gen = waiters_.enter();
	bool i_poll = false;
	struct leave {
		queue &q;
		std::unique_lock<sys::adaptive_mutex> &lk;
		bool &i_poll;
		~leave() {
			if (!lk.owns_lock())
				lk.lock(); // cancelled in the backend wait, unlocked
			q.waiters_.leave(i_poll);
			q.flush_and_notify();
			q.waiters_.hand_on();
		}
	} guard{*this, lk, i_poll};
	bool just_polled = false;
	bool looked = false;      // this call looked at the kernel (must_look)
	bool relooked = false;    // ... once more, its list all stale (below)
	bool interrupted = false; // eintr, and a signal ended a backend wait
	for (;;) {
		if (closed())
			return -EBADF;
		int64_t remain = -1;
		if (deadline_ns >= 0) {
			remain = deadline_ns - sys::now_ns(CLOCK_MONOTONIC);
			if (remain < 0)
				remain = 0;
		}
		bool woken = waiters_.forced_since(gen);
		wanted w = want();
		if (w == wanted::done)
			return 0;
		bool may_block = w == wanted::wait && !woken && remain != 0 && !interrupted;

		// Look at the backend: to block, or without blocking when there
		// is room for more than the ready list holds (LEVEL kevents come
		// back this way at every call).
		if (!waiters_.someone_polls() && !just_polled &&
		    (may_block ||
		     (ready_.size() < room() && (all_ready ? !looked : must_look())))) {
			list_only_harvests_ = 0;
			looked = true;
			waiters_.start_polling(may_block);
			i_poll = true;
			backend_event ev[256];
			bool bw = false;
			lk.unlock();
			int r;
			if (may_block) {
				sys::cancel_window cw;
				r = be_->wait(ev, 256, remain, bw);
			} else {
				r = be_->wait(ev, 256, 0, bw);
			}
			lk.lock();
			waiters_.stop_polling();
			i_poll = false;
			if (may_block)
				st_.wakeups.add();
			if (r > 0)
				dispatch(ev, r, may_block);
			expire_timers();
			// EINTR: a signal handler ran — or only the kernel's task
			// work did (io_uring sends it with a signal notification:
			// the teardown of a ring this thread used, say). Without
			// KEVENT_FLAGS_EINTR neither ends the wait
			// (docs/semantics.md, kevent_get_events): look again. A
			// handler that wants the wait to end calls
			// kevent_ctl(kfd, KEVENT_CTL_READY, 0, NULL); our SIGNAL
			// origin's handler makes its kevent ready. With the flag
			// the call ends as at a timeout, after one more look that
			// does not block.
			just_polled = r != -EINTR;
			// (A wait that ended at its deadline is a timeout: 0.)
			if (r == -EINTR && eintr && may_block &&
			    (deadline_ns < 0 || sys::now_ns(CLOCK_MONOTONIC) < deadline_ns))
				interrupted = true;
			if (waiters_.forced_since(gen) || closed())
				waiters_.wake_all_sleepers(); // everyone returns
			else if (!ready_.empty() && waiters_.others_waiting() &&
				 want() == wanted::wait)
				waiters_.wake_one_sleeper(); // we cannot take them: one other may
			continue;
		}
		just_polled = false;

		if (woken)
			return 0; // a forced wake-up returns 0 events (docs/semantics.md)
		if (!may_block) {
			if (!looked)
				list_only_harvests_++;
			int got = static_cast<int>(deliver());
			if (got == 0 && interrupted)
				return -EINTR; // nothing delivered: the signal ends it
			// LAST_CHECK may have skipped everything: keep waiting.
			if (got == 0 && want() == wanted::wait && remain != 0)
				continue;
			// ... or, in a call that took the list alone, it emptied
			// the list without a delivery: that call now found the
			// list empty, so it asks the kernel once before it returns
			// 0 (kevent_get_events(3), "Fairness").
			if (got == 0 && !looked && !relooked && ready_.empty()) {
				relooked = true;
				continue;
			}
			return got;
		}
		if (!waiters_.someone_polls())
			continue; // nobody polls: become the poller
		// Someone else polls for us: wait for their news.
		waiters_.sleep(lk, remain);
		st_.wakeups.add();
	}
}

int queue::get_events(unsigned min_nr, unsigned max_nr, int64_t deadline_ns, ukevent *buf,
		      unsigned flags) {
	std::unique_lock lk(mu_);
	if (closed())
		return -EBADF;
	return wait_loop(
		lk, deadline_ns, flags,
		[&] { return ready_.size() >= min_nr ? wanted::go : wanted::wait; },
		[&] { return size_t(max_nr); },
		[&] {
			unsigned n = deliver_to(buf, max_nr);
			if (ring_)
				for (unsigned i = 0; i < n; i++)
					if (!ring_->push(buf[i]))
						buf[i].ret_flags |= KEVENT_RET_COPY_FAILED;
			return n;
		});
}

int queue::wait_ring(unsigned num, unsigned old_uidx, int64_t deadline_ns, unsigned flags) {
	std::unique_lock lk(mu_);
	if (closed())
		return -EBADF;
	if (!ring_ || num > ring_->size())
		return -EINVAL;
	return wait_loop(
		lk, deadline_ns, flags,
		[&] {
			if (old_uidx != ring_->uidx())
				return wanted::done; // the caller's view is stale
			return !ready_.empty() && ring_->room() > 0 ? wanted::go : wanted::wait;
		},
		[&] { return size_t(std::min(num, ring_->room())); },
		[&] {
			// Straight into the ring's slots: at most two runs (wrap).
			unsigned total = 0;
			while (total < num) {
				unsigned span;
				ukevent *slots = ring_->free_span(span);
				span = std::min(span, num - total);
				if (!span)
					break;
				unsigned got = deliver_to(slots, span);
				ring_->produced(got);
				total += got;
				if (got < span)
					break;
			}
			return total;
		});
}

int queue::commit_ring(unsigned new_uidx, unsigned over) {
	std::lock_guard lk(mu_);
	if (closed())
		return -EBADF;
	if (!ring_)
		return -EINVAL;
	int r = ring_->commit(new_uidx, over);
	if (r > 0)
		waiters_.wake_all(); // room again: a kevent_wait may wait for it
	return r;
}

int queue::ring_fd() {
	std::lock_guard lk(mu_);
	if (closed())
		return -EBADF;
	if (!ring_ || ring_->shared_fd() < 0)
		return -EINVAL;
	int fd = fcntl(ring_->shared_fd(), F_DUPFD_CLOEXEC, 0);
	return fd < 0 ? -errno : fd;
}

} // namespace kevent::detail
