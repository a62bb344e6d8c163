// SPDX-License-Identifier: MIT
// queue — lifecycle, readiness, delivery and waiting. LOCKING: see queue.hpp.
#include "core/queue.hpp"

#include "core/descriptor_table.hpp"

#include "sys/cancel.hpp"
#include "sys/clock.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>

namespace kevent::detail {

global_stats &process_stats() {
	static global_stats g;
	return g;
}

int queue::create(unsigned flags, std::unique_ptr<ring> rg, std::unique_ptr<queue> &out) {
	std::unique_ptr<backend> be;
	int r = make_backend(flags, be);
	if (r < 0)
		return r == -ENOSPC ? -ENOMEM : r; // epoll's watch limit, as documented
	// The queue first: the dup below must have an owner the moment it
	// exists (tests/regress/init_oom_leaks_fd_test.cpp).
	out.reset(new queue(std::move(be)));
	int ufd = fcntl(out->be_->descriptor(), F_DUPFD_CLOEXEC, 0);
	if (ufd < 0) {
		int err = errno;
		out.reset();
		return -err;
	}
	out->user_fd_ = ufd;
	out->fork_gen_ = current_fork_generation();
	out->ring_ = std::move(rg);
	return 0;
}

queue::queue(std::unique_ptr<backend> be)
    : be_(std::move(be)), timers_(*be_), home_(std::make_shared<io_home>()) {
	home_->q = this;
	process_stats().queues.fetch_add(1, std::memory_order_relaxed);
}

queue::~queue() {
	shutdown();
	process_stats().queues.fetch_sub(1, std::memory_order_relaxed);
}

void queue::shutdown() {
	{
		// Before mu_: a pool job reports holding home_->mu, then mu_.
		std::lock_guard h(home_->mu);
		home_->q = nullptr;
	}
	std::lock_guard lk(mu_);
	if (!closed_) {
		closed_ = true;
		if (!backend_off_)
			be_->wake();
		cv_.notify_all();
	}
	backend_off_ = true;
	// Free every registration, including BROKEN ones that left the
	// registry and wait on the ready list only.
	while (!ready_.empty())
		free_node(ready_.front());
	// One at a time, no list of them: closing must not need memory
	// (tests/regress/close_oom_leaks_queue_test.cpp).
	while (knode *n = reg_.first())
		free_node(n);
	for (auto &s : states_)
		s.reset(); // after their kevents: they may share the origin's fds
}

void queue::close_inherited() noexcept {
	be_->close_inherited();
	// The shared ring's memfd was made at kevent_init too. Closed by
	// number: this queue is never destroyed in this process.
	if (ring_ && ring_->shared_fd() >= 0)
		::close(ring_->shared_fd());
}

int queue::watch_source(fd_source &src, int fd, uint32_t events) {
	fd_watch *w = fds_.create_hidden(fd);
	w->source = &src;
	watch_mode mode;
	mode.events = events;
	int r = be_->watch(fd, mode, nullptr, w->token());
	if (r < 0) {
		fds_.destroy(w);
		return r;
	}
	w->in_backend = true;
	w->armed = mode;
	src.watch = w;
	return 0;
}

void queue::unwatch_source(fd_source &src) {
	if (!src.watch)
		return;
	drop_watch(src.watch->fd);
	fds_.destroy(src.watch);
	src.watch = nullptr;
}

// ---- registrations -------------------------------------------------------

knode *queue::new_node(const ukevent &uk) {
	knode *n = pool_.make();
	n->uk = uk;
	n->uk.ret_flags = 0;
	n->uk.ret_data[0] = n->uk.ret_data[1] = 0;
	st_.registered.add();
	st_.by_type[uk.type].add();
	st_.added.add();
	process_stats().registered.fetch_add(1, std::memory_order_relaxed);
	return n;
}

knode *queue::add_node(const ukevent &uk) {
	knode *n = new_node(uk);
	reg_.insert(n);
	return n;
}

void queue::complete_pooled(io_job &job) {
	std::lock_guard lk(mu_);
	// Taken: a REMOVE waited for this job and handed its result over
	// itself, or cancelled the operation.
	if (closed_ || job.taken)
		return;
	job.taken = true;
	complete_operation(*this, job.token, job.result);
	publish();
}

void queue::free_node(knode *n) {
	if (n->has(on_ready)) {
		ready_.unlink(n);
		st_.ready.set(ready_.size());
	}
	reg_.erase(n);
	const origin_ops &o = origin_for(n->uk.type);
	if (o.uses_fd) {
		fd_watch *w = n->fdw.watch;
		fd_table::detach(n);
		if (w && sync_watch(w, false) < 0)
			break_watch(w, EBADF); // the others on this fd lost their file too
	} else {
		o.detach(*this, *n); // every row that is not uses_fd has one
	}
	delete n->ext;
	st_.registered.add(-1);
	st_.by_type[n->uk.type].add(-1);
	st_.removed.add();
	process_stats().registered.fetch_sub(1, std::memory_order_relaxed);
	pool_.release(n);
}

// Tell the backend what the kevents on w want now. `force` re-arms even if
// nothing changed, which makes epoll re-check readiness (MODIFY).
int queue::sync_watch(fd_watch *w, bool force) {
	watch_mode want, all;
	bool wake_all = false;
	for (knode *n = w->head; n; n = n->fdw.wnext) {
		uint32_t interest = origin_for(n->uk.type).interest(n->uk);
		all.events |= interest;
		wake_all |= n->req(KEVENT_REQ_WAKEUP_ALL);
		if (w->parked && n->has(on_ready))
			continue; // its report waits already (park_watch)
		want.events |= interest;
		want.level |= n->req(KEVENT_REQ_LEVEL);
	}
	if (w->parked && !want.events) {
		// Every kevent here waits on the ready list: one last report at
		// most, then nothing until a delivery unparks the watch.
		want.events = all.events;
		want.oneshot = true;
	}
	want.exclusive = !wake_all;
	if (!w->head) {
		if (w->in_backend)
			drop_watch(w->fd); // ENOENT/EBADF: the kernel forgot it already
		fds_.destroy(w);
		return 0;
	}
	if (backend_off_)
		return 0;
	// A narrower interest keeps the wider watch: re-arming would make the
	// kernel re-check the file and report the remaining kevents again
	// (and cost a syscall); translate() filters what nobody asked for.
	// Level-triggering and exclusivity must follow exactly.
	if (!force && w->in_backend && (want.events & ~w->armed.events) == 0 &&
	    want.level == w->armed.level && want.exclusive == w->armed.exclusive &&
	    want.oneshot == w->armed.oneshot)
		return 0;
	if (w->in_backend && !force)
		want.events |= w->armed.events;
	int r = be_->watch(w->fd, want, w->in_backend ? &w->armed : nullptr, w->token());
	if (r < 0)
		return r;
	w->in_backend = true;
	w->armed = want;
	return 0;
}

void queue::break_node(knode *n, int err) {
	n->state |= broken;
	n->broken_errno = err;
	make_ready(n);
}

// The file behind w is gone (closed, or its number reused): every kevent on
// it is delivered once as BROKEN. They leave the registry now, so that the
// number can be registered again at once.
void queue::break_watch(fd_watch *w, int err) {
	while (knode *n = w->head) {
		fd_table::detach(n);
		reg_.erase(n);
		if (n->has(adding)) {
			n->state |= broken | add_ready;
			n->broken_errno = err;
		} else {
			break_node(n, err);
		}
	}
	if (w->in_backend)
		drop_watch(w->fd);
	fds_.destroy(w);
}

// A level watch that the poller found reporting only kevents that wait on
// the ready list already (the caller asked for more than are ready, or a
// full ring has no room): epoll reports a level item at every epoll_wait and
// io_uring re-arms a level poll after each report, so the blocking wait would
// return at once, again and again, at 100% CPU until its timeout
// (tests/regress/wait_busy_spins_test). Take those kevents' interest
// out of the watch until one of them is delivered (take()). A kevent that is
// not queued keeps its interest.
void queue::park_watch(fd_watch *w) {
	w->parked = true;
	if (sync_watch(w, true) < 0)
		w->parked = false; // the file is gone: the next look finds out
}

void queue::unpark_watch(fd_watch *w) {
	w->parked = false;
	// LEVEL: the re-armed watch reports the file at once if it is still
	// ready, as a level watch does at each call. A failure means the file
	// went away; REMOVE, or an ADD of its number, reports it.
	sync_watch(w, true);
}

void queue::drop_watch(int fd) {
	if (!backend_off_)
		be_->unwatch(fd); // a fork child would take it from its parent
}

// ---- readiness -------------------------------------------------------------

bool queue::make_ready(knode *n) {
	if (n->has(adding)) {
		n->state |= add_ready; // the ADD that is running decides
		return true;
	}
	if (!ready_.push(n))
		return false; // coalesced: it waits already
	st_.ready.set(ready_.size());
	return true;
}

// `blocked`: the poller's wait was meant to block; a level watch that
// reports nothing new is parked.
void queue::dispatch(const backend_event *ev, int count, bool blocked) {
	for (int i = 0; i < count; i++) {
		if (ev[i].token & io_token_bit) {
			complete_operation(*this, ev[i].token, ev[i].result);
			continue;
		}
		fd_watch *w = fds_.from_token(ev[i].token);
		if (!w)
			continue; // a watch destroyed since the kernel queued this
		if (w->source) {
			w->source->on_ready(ev[i].events);
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
				n->state |= broken;
				n->broken_errno = rep.err;
				news = true;
			}
			news |= make_ready(n);
		}
		if (blocked && !news && w->armed.level && !w->parked && w->head)
			park_watch(w);
	}
}

void queue::expire_timers() {
	timers_.expire([this](knode *n) { make_ready(n); });
}

// One non-blocking look at the backend (ADD and MODIFY batches). Called with
// mu_ held; a poller may be waiting in the backend at the same time.
int queue::harvest_now() {
	backend_event ev[256];
	int total = 0;
	// Level-triggered items go back on epoll's ready list when reported:
	// with 256 of them ready every look returns 256, and "until a short
	// look" never ended (a hang under mu_). One pass over every watch is
	// enough to see the new ones; their order in the list is the kernel's.
	size_t passes = fds_.live() / 256 + 2;
	while (passes-- > 0) {
		bool woken = false;
		int r = be_->wait(ev, 256, 0, woken);
		if (woken && polling_)
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

// LAST_CHECK: is n still ready just before delivery? For fd origins one
// poll(2) gives the current bits.
bool queue::recheck(knode *n) {
	const origin_ops &o = origin_for(n->uk.type);
	if (!o.uses_fd)
		return true; // timers and user events stay ready until delivered
	// poll(2) looks at whatever the number names now: first make sure it
	// is still the file we watch.
	if (be_->probe_watched(n->fd()) != descriptor_match::same) {
		n->state |= broken;
		n->broken_errno = EBADF;
		return true;
	}
	return poll_now(n);
}

// What the fd of n says now (one poll(2)), in n's terms: ret_data[0] = the
// bits that fire; BROKEN noted. True if it fires or is broken. The caller
// knows the number still names the watched file.
bool queue::poll_now(knode *n) {
	const origin_ops &o = origin_for(n->uk.type);
	pollfd p{n->fd(), static_cast<short>(o.interest(n->uk)), 0};
	if (::poll(&p, 1, 0) < 0)
		return true;
	fd_report rep = o.translate(n->uk, static_cast<uint32_t>(p.revents), n->fd());
	n->uk.ret_data[0] = rep.fired;
	if (rep.broken) {
		n->state |= broken;
		n->broken_errno = rep.err;
		return true;
	}
	return rep.fired != 0;
}

unsigned queue::take(ukevent *buf, unsigned max) {
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
			unpark_watch(n->fdw.watch);
		if (!n->has(broken) && n->req(KEVENT_REQ_LAST_CHECK) && !recheck(n)) {
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

// After every call: mirror "ready list not empty" into the backend (so that
// a poller of the descriptor sees POLLIN), and make sure events left on the
// list have a thread to take them.
void queue::publish() {
	if (!backend_off_)
		be_->flush_changes();
	if (ready_.empty()) {
		if (signalled_) {
			be_->set_ready(false);
			signalled_ = false;
		}
		return;
	}
	// Events are waiting. Wake one taker — the poller if one is blocked in
	// the backend, else one thread sleeping on cv_ (no syscall), never
	// both, never all. Only when nobody is in the queue to take them does
	// the descriptor need to say so, for a poller of it outside (nesting).
	if (waiters_ > 0) {
		if (!polling_)
			cv_.notify_one();
		else if (poller_blocks_ && !poller_woken_) {
			be_->wake();
			poller_woken_ = true;
		}
	} else if (!signalled_) {
		be_->set_ready(true);
		signalled_ = true;
	}
}

void queue::force_wake() noexcept {
	wake_gen_.fetch_add(1, std::memory_order_acq_rel);
	be_->wake();
}

// ---- waiting ---------------------------------------------------------------

// The longest cv wait at a time (a wait with a longer timeout goes round the
// loop again): wait_for adds its timeout to steady_clock::now(), which a
// saturated timeout (292 years) would overflow.
constexpr int64_t max_cv_wait_ns = int64_t(3600) * 1000000000;

// The waiting loop shared by kevent_get_events and kevent_wait. `want()`
// says whether the caller can take events now (go), must wait (wait), or
// must return 0 at once (done); `room()` how many it could take; `take()`
// takes them. LOCKING: called with lk held; the poller drops it around the
// backend wait only. Cancellation: the C entry point disabled it
// (sys/cancel.hpp); only the blocking backend wait and the cv wait open a
// window, so pthread_cancel unwinds from there alone, and `leave` restores
// the poller role and the waiter count.
template <class Want, class Room, class Take>
int queue::wait_loop(std::unique_lock<sys::adaptive_mutex> &lk, int64_t deadline_ns, Want want,
		     Room room, Take take) {
	const uint64_t gen = wake_gen_.load(std::memory_order_acquire);
	waiters_++;
	bool i_poll = false;
	struct leave {
		queue &q;
		std::unique_lock<sys::adaptive_mutex> &lk;
		bool &i_poll;
		~leave() {
			if (!lk.owns_lock())
				lk.lock(); // cancelled in the backend wait, unlocked
			if (i_poll)
				q.polling_ = q.poller_blocks_ = false;
			q.waiters_--;
			q.publish();
			if (q.waiters_ > 0 && !q.polling_)
				q.cv_.notify_one(); // hand the poller role on
		}
	} guard{*this, lk, i_poll};
	bool just_polled = false;
	for (;;) {
		if (closed_)
			return -EBADF;
		int64_t remain = -1;
		if (deadline_ns >= 0) {
			remain = deadline_ns - sys::now_ns(CLOCK_MONOTONIC);
			if (remain < 0)
				remain = 0;
		}
		bool woken = wake_gen_.load(std::memory_order_acquire) != gen;
		wanted w = want();
		if (w == wanted::done)
			return 0;
		bool may_block = w == wanted::wait && !woken && remain != 0;

		// Look at the backend: to block, or without blocking when there
		// is room for more than the ready list holds (LEVEL kevents come
		// back this way at every call).
		if (!polling_ && !just_polled && (may_block || ready_.size() < room())) {
			polling_ = i_poll = true;
			poller_blocks_ = may_block;
			poller_woken_ = false;
			if (may_block && signalled_) {
				be_->set_ready(false); // else the wait returns at once
				signalled_ = false;
			}
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
			polling_ = i_poll = poller_blocks_ = false;
			if (may_block)
				st_.wakeups.add();
			if (r > 0)
				dispatch(ev, r, may_block);
			expire_timers();
			// EINTR: a signal handler ran — or only the kernel's task
			// work did (io_uring sends it with a signal notification:
			// the teardown of a ring this thread used, say). Neither
			// ends the wait (SPEC §5: never EINTR): look again. A
			// handler that wants the wait to end calls
			// kevent_ctl(kfd, KEVENT_CTL_READY, 0, NULL); our SIGNAL
			// origin's handler makes its kevent ready.
			just_polled = r != -EINTR;
			if (wake_gen_.load(std::memory_order_acquire) != gen || closed_)
				cv_.notify_all(); // forced wake-up: everyone returns
			else if (!ready_.empty() && waiters_ > 1 && want() == wanted::wait)
				cv_.notify_one(); // we cannot take them: one other may
			continue;
		}
		just_polled = false;

		if (woken)
			return 0; // SPEC §4: a forced wake-up returns 0 events
		if (!may_block) {
			int got = static_cast<int>(take());
			// LAST_CHECK may have skipped everything: keep waiting.
			if (got == 0 && want() == wanted::wait && remain != 0)
				continue;
			return got;
		}
		if (!polling_)
			continue; // nobody polls: become the poller
		// Someone else polls for us: wait for their news.
		{
			sys::cancel_window cw;
			if (remain < 0)
				cv_.wait(lk);
			else // at most an hour at a time: steady_clock::now() + a
			     // saturated timeout (292 years) would overflow
				cv_.wait_for(lk, std::chrono::nanoseconds(std::min<int64_t>(
							 remain, max_cv_wait_ns)));
		}
		st_.wakeups.add();
	}
}

int queue::get_events(unsigned min_nr, unsigned max_nr, int64_t deadline_ns, ukevent *buf) {
	std::unique_lock lk(mu_);
	if (closed_)
		return -EBADF;
	return wait_loop(
		lk, deadline_ns,
		[&] { return ready_.size() >= min_nr ? wanted::go : wanted::wait; },
		[&] { return size_t(max_nr); },
		[&] {
			unsigned n = take(buf, max_nr);
			if (ring_)
				for (unsigned i = 0; i < n; i++)
					if (!ring_->push(buf[i]))
						buf[i].ret_flags |= KEVENT_RET_COPY_FAILED;
			return n;
		});
}

int queue::wait_ring(unsigned num, unsigned old_uidx, int64_t deadline_ns) {
	std::unique_lock lk(mu_);
	if (closed_)
		return -EBADF;
	if (!ring_ || num > ring_->size())
		return -EINVAL;
	return wait_loop(
		lk, deadline_ns,
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
				unsigned got = take(slots, span);
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
	if (closed_)
		return -EBADF;
	if (!ring_)
		return -EINVAL;
	int r = ring_->commit(new_uidx, over);
	if (r > 0 && waiters_ > 0) {
		// Room again: a kevent_wait may be waiting for it.
		cv_.notify_all();
		if (polling_)
			be_->wake();
	}
	return r;
}

int queue::ring_fd() {
	std::lock_guard lk(mu_);
	if (closed_)
		return -EBADF;
	if (!ring_ || ring_->shared_fd() < 0)
		return -EINVAL;
	int fd = fcntl(ring_->shared_fd(), F_DUPFD_CLOEXEC, 0);
	return fd < 0 ? -errno : fd;
}

void queue::fill_stats(kevent_stats &st) const {
	st.backend = be_->kind();
	st.queues = 1;
	st.registered = st_.registered.get();
	for (int t = 0; t < KEVENT_MAX; t++)
		st.registered_by_type[t] = st_.by_type[t].get();
	st.ready = st_.ready.get();
	st.inflight_io = st_.inflight_io.get();
	st.added = st_.added.get();
	st.removed = st_.removed.get();
	st.delivered = st_.delivered.get();
	st.broken = st_.broken.get();
	st.wakeups = st_.wakeups.get();
	st.backend_calls = be_->calls();
}

void queue::add_stats(kevent_stats &sum) const {
	kevent_stats st{};
	fill_stats(st);
	for (int t = 0; t < KEVENT_MAX; t++)
		sum.registered_by_type[t] += st.registered_by_type[t];
	sum.ready += st.ready;
	sum.added += st.added;
	sum.removed += st.removed;
	sum.delivered += st.delivered;
	sum.broken += st.broken;
	sum.wakeups += st.wakeups;
	sum.backend_calls += st.backend_calls;
}

} // namespace kevent::detail
