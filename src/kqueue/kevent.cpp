// SPDX-License-Identifier: MIT
// kevent(): FreeBSD's kern_kevent over a libkevent queue (kevent(3)).
//
// Changes are applied in order before any event is read. A change that
// fails, or any change with EV_RECEIPT, is written to the event list as
// EV_ERROR with data = the errno (0 for a receipt) while there is room, and
// the call then returns that count without waiting; with no room a failed
// change ends the call with -1 and errno, and the changes after it are not
// applied. nevents == 0 applies the changes and returns 0. Each change is
// copied before its result is written, so one array may be both lists.
//
// LOCKING: kq::mu around one call's change list and around turning libkevent's reports
// into events; never across the wait (kevent_get_events), so other threads
// change and wait meanwhile.
#include "kqueue/kq.hpp"
#include "kqueue/table.hpp"

#include <cerrno>
#include <ctime>
#include <fcntl.h>
#include <sys/stat.h>

namespace kqlayer {

kq::~kq() {
	for (auto &e : notes) {
		const filter_ops *f = filter_for(e.second->filter);
		// The libkevent queue may be gone already (close(kq)); the
		// filters' own resources are released.
		e.second->registered = false;
		f->detach(*this, *e.second);
	}
}

void kq::enqueue(knote &k) {
	if (!k.queued) {
		k.queued = true;
		pending.push_back(&k);
	}
}

void kq::dequeue(knote &k) {
	if (!k.queued)
		return;
	k.queued = false;
	for (auto it = pending.begin(); it != pending.end(); ++it)
		if (*it == &k) {
			pending.erase(it);
			break;
		}
}

void kq::drop(knote &k) {
	filter_for(k.filter)->detach(*this, k);
	dequeue(k);
	by_serial.erase(k.serial);
	notes.erase({k.ident, k.filter});
}

void kq::ring_bell() {
	if (pending.empty() || bell_rung)
		return;
	ukevent uk{};
	uk.type = KEVENT_UNOTIFY;
	uk.id.raw_u64 = 0; // user_filter's kevents are named by serials, from 1
	set_cookie(uk, 0);
	if (!bell_added) {
		if (ctl(KEVENT_CTL_ADD, uk) != 0)
			return; // no memory: the knotes are still reported by kevent()
		bell_added = true;
	}
	bell_rung = ctl(KEVENT_CTL_READY, uk) == 0;
}

int kq::ctl(unsigned cmd, ukevent &uk) {
	int r = kevent_ctl(kfd, cmd, 1, &uk);
	if (r < 0)
		return errno;
	if ((uk.ret_flags & KEVENT_RET_BROKEN) && (cmd != KEVENT_CTL_ADD || r == 1))
		return -static_cast<int32_t>(uk.ret_data[1]);
	return 0;
}

int kq::apply(struct kevent &kev) {
	const filter_ops *f = filter_for(kev.filter);
	if (!f)
		return EINVAL;
	if (kev.flags & EV_FORCEONESHOT)
		return EINVAL;
	auto key = std::make_pair(kev.ident, kev.filter);
	auto it = notes.find(key);
	knote *k = it == notes.end() ? nullptr : it->second.get();
	struct stat fstat_of_new {}; // a new READ/WRITE knote's file, for attach
	if (f == &fd_filter || f == &vnode_filter) {
		// A descriptor closed under its knotes drops them (BSD); a number
		// reused since names another file, not this knote.
		struct stat st;
		if (kev.ident > INT32_MAX || fstat(static_cast<int>(kev.ident), &st) < 0) {
			if (k)
				drop(*k);
			return EBADF;
		}
		if (k && (k->dev != st.st_dev || k->ino != st.st_ino)) {
			drop(*k);
			k = nullptr;
		}
		if (!k)
			fstat_of_new = st;
	}
	if (!k) {
		if (!(kev.flags & EV_ADD))
			return ENOENT;
		auto n = std::make_unique<knote>();
		n->serial = next_serial++;
		n->ident = kev.ident;
		n->filter = kev.filter;
		n->flags = kev.flags & (EV_ONESHOT | EV_CLEAR | EV_DISPATCH);
		n->udata = kev.udata;
		n->disabled = (kev.flags & EV_DISABLE) != 0;
		n->dev = fstat_of_new.st_dev;
		n->ino = fstat_of_new.st_ino;
		n->mode = fstat_of_new.st_mode;
		if (int r = f->attach(*this, *n, kev))
			return r;
		by_serial[n->serial] = n.get();
		notes[key] = std::move(n);
		return 0;
	}
	if (kev.flags & EV_DELETE) {
		drop(*k);
		return 0;
	}
	// A refused change changes nothing: the udata too goes back.
	auto old_udata = k->udata;
	if (!(kev.flags & EV_KEEPUDATA))
		k->udata = kev.udata;
	// FreeBSD's f_touch(EVENT_REGISTER) sees every change but a delete
	// (a USER trigger has no EV_ADD); the timer restarts on EV_ADD only.
	if (int r = f->touch(*this, *k, kev)) {
		k->udata = old_udata;
		return r;
	}
	if ((kev.flags & EV_ENABLE) && k->disabled) {
		k->disabled = false;
		f->set_enabled(*this, *k, true);
	} else if ((kev.flags & EV_DISABLE) && !k->disabled) {
		k->disabled = true;
		dequeue(*k);
		f->set_enabled(*this, *k, false);
	}
	return 0;
}

namespace {

timespec now_mono() {
	timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t;
}

bool before(const timespec &a, const timespec &b) {
	return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

// Copy out what the pending knotes have, each at most once per call.
int emit_pending(kq &q, struct kevent *out, int n) {
	int got = 0;
	look_again(q);
	size_t todo = q.pending.size();
	while (todo-- > 0 && got < n && !q.pending.empty()) {
		knote *k = q.pending.front();
		q.pending.pop_front();
		k->queued = false;
		if (k->disabled)
			continue;
		const filter_ops *f = filter_for(k->filter);
		struct kevent ev {};
		ev.ident = k->ident;
		ev.filter = k->filter;
		ev.udata = k->udata;
		ev.flags = k->flags;
		if (!f->emit(q, *k, ev))
			continue;
		out[got++] = ev;
		if (ev.flags & EV_ONESHOT) {
			q.drop(*k);
		} else if (k->flags & EV_DISPATCH) {
			k->disabled = true;
			f->set_enabled(q, *k, false);
		} else if (k->active) {
			q.enqueue(*k); // still has something (a level file): next call
		}
	}
	return got;
}

} // namespace

int kq::scan(struct kevent *out, int n, const struct timespec *timeout) {
	timespec deadline{};
	if (timeout) {
		timespec now = now_mono();
		deadline.tv_sec = now.tv_sec + timeout->tv_sec;
		deadline.tv_nsec = now.tv_nsec + timeout->tv_nsec;
		if (deadline.tv_nsec >= 1000000000) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000;
		}
	}
	const bool zero_timeout = timeout && timeout->tv_sec == 0 && timeout->tv_nsec == 0;
	constexpr int batch = 64;
	ukevent buf[batch];
	const timespec zero{0, 0};
	for (;;) {
		bool has_pending;
		{
			std::lock_guard g(mu);
			has_pending = !pending.empty();
		}
		// Reports become pending knotes; then up to n are copied out. A
		// full batch is followed by another look (not waiting), so every
		// ready knote can be reported when n is large (libevent's
		// many_events), up to n reports in all: a level kevent may come
		// back in the next look, and the looking must end. Every look asks
		// the kernel (KEVENT_FLAGS_ALL_READY): FreeBSD reports every active
		// knote that fits, and libkevent's fairness shortcut would leave a
		// descriptor behind a doorbell or a user event for up to 16 calls.
		int reports = 0, r, want;
		bool block = !has_pending && !zero_timeout;
		do {
			want = n - reports < batch ? n - reports : batch;
			r = kevent_get_events(
				kfd, block ? 1 : 0, static_cast<unsigned>(want),
				block ? (timeout ? &deadline : nullptr) : &zero, buf,
				KEVENT_FLAGS_ALL_READY |
					(block ? KEVENT_FLAGS_EINTR |
							 (timeout ? KEVENT_FLAGS_ABSTIME : 0)
					       : 0));
			block = false;
			if (r < 0) {
				if (errno == EINVAL || errno == EBADF) {
					// libkevent has let the queue go already
					retire_kq(kfd, this, false);
					errno = EBADF;
				}
				return -1;
			}
			reports += r;
			std::lock_guard g(mu);
			take_reports(buf, r);
		} while (r == want && reports < n);
		int got;
		{
			std::lock_guard g(mu);
			got = emit_pending(*this, out, n);
			ring_bell(); // level knotes looked at again next time
		}
		if (got > 0 || zero_timeout)
			return got;
		if (timeout && !before(now_mono(), deadline))
			return 0;
	}
}

void kq::take_reports(const ukevent *buf, int r) {
	for (int i = 0; i < r; i++) {
		uint64_t c = cookie_of(buf[i]);
		if (c == 0) {
			bell_rung = false; // the doorbell (ring_bell)
			continue;
		}
		auto it = by_serial.find(c);
		if (it == by_serial.end())
			continue; // deleted since
		knote &k = *it->second;
		if (buf[i].ret_flags & KEVENT_RET_BROKEN) {
			// The file under it is gone (closed, number reused).
			k.registered = false;
			if (k.filter == EVFILT_READ || k.filter == EVFILT_WRITE) {
				drop(k);
				continue;
			}
		}
		filter_for(k.filter)->report(*this, k, buf[i]);
	}
}

} // namespace kqlayer

extern "C" __attribute__((visibility("default"))) int
kevent(int kqfd, const struct kevent *changelist, int nchanges, struct kevent *eventlist,
       int nevents, const struct timespec *timeout) {
	using namespace kqlayer;
	if (nchanges < 0 || nevents < 0 || (nchanges > 0 && !changelist) ||
	    (nevents > 0 && !eventlist)) {
		errno = EINVAL;
		return -1;
	}
	std::shared_ptr<kq> q = find_kq(kqfd);
	if (!q) {
		errno = EBADF;
		return -1;
	}
	// BSD: kevent() on a closed kqueue fails with EBADF. close(kq) took it
	// out of the table already (kqueue.cpp); a number closed otherwise
	// (dup2 onto it, close_range) is noticed here, as libkevent's calls no
	// longer check their number (kevent_init(3), "The descriptor number"):
	// one fcntl(2) per kevent() call. A number reused by another file that
	// way still reaches the old queue until a new kqueue() takes it, as
	// libkevent documents for its own calls.
	if (fcntl(kqfd, F_GETFD) < 0) {
		retire_kq(kqfd, q.get(), true);
		errno = EBADF;
		return -1;
	}
	if (timeout &&
	    (timeout->tv_sec < 0 || timeout->tv_nsec < 0 || timeout->tv_nsec >= 1000000000)) {
		errno = EINVAL;
		return -1;
	}
	int nerrors = 0;
	// One lock for the whole change list, not one per change: libevent
	// hands over every re-added knote in one call (bench pipes: 10,000).
	// No change waits, so other threads wait at most one list's length.
	std::unique_lock g(q->mu, std::defer_lock);
	if (nchanges > 0) {
		g.lock();
		q->batching = true;
	}
	// A change's result: false when the call ends here (-1 or 0 returned
	// through `ret`).
	int ret = 0;
	auto result = [&](struct kevent kev, int err) {
		if (!err && !(kev.flags & EV_RECEIPT))
			return true;
		if (nevents == 0) {
			ret = err ? -1 : 0;
			errno = err ? err : errno;
			return false;
		}
		kev.flags = EV_ERROR;
		kev.data = err;
		eventlist[nerrors++] = kev;
		nevents--;
		return true;
	};
	// The held-back ADDs (add_batch.cpp), their errors in change order. A
	// failure with no room ends the call: the knotes added after it (held
	// back too) are dropped, as if not applied.
	auto flush = [&]() {
		std::vector<add_result> done = flush_adds(*q);
		for (size_t j = 0; j < done.size(); j++) {
			if (result(done[j].change, done[j].err))
				continue;
			for (size_t later = j + 1; later < done.size(); later++)
				if (auto it = q->by_serial.find(done[later].serial);
				    it != q->by_serial.end())
					q->drop(*it->second);
			return false;
		}
		return true;
	};
	bool ended = false;
	for (int i = 0; i < nchanges && !ended; i++) {
		struct kevent kev = changelist[i]; // before eventlist[nerrors] is written
		if (kev.filter == 0)
			continue;
		kev.flags &= ~EV_SYSFLAGS;
		if (!q->held.empty() && (q->held.size() >= 4096 || !may_defer(*q, kev)) &&
		    !flush()) {
			ended = true;
			break;
		}
		q->change_index = i;
		int err = q->apply(kev);
		if (err || (kev.flags & EV_RECEIPT))
			ended = !flush() || !result(kev, err);
	}
	if (!ended)
		ended = !flush();
	q->batching = false;
	if (g.owns_lock())
		q->ring_bell(); // a knote an ADD made pending (an always-ready file)
	if (g.owns_lock())
		g.unlock();
	if (ended)
		return ret;
	if (nerrors > 0)
		return nerrors;
	if (nevents == 0)
		return 0;
	return q->scan(eventlist, nevents, timeout);
}
