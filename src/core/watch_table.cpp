// SPDX-License-Identifier: MIT
// watch_table — see watch_table.hpp. LOCKING: the queue lock, asserted.
#include "core/watch_table.hpp"

#include "origin/origin.hpp"

#include <cerrno>
#include <sys/stat.h>

namespace kevent::detail {

fd_watch *watch_table::revive(fd_watch *w, const ukevent &e) {
	mu_.assert_held();
	int fd = w->fd;
	// Armed for the new kevent alone, as a watch made for it would be:
	// the interest of the kevents removed before must not outlive them
	// (a POLL POLLOUT kevent would be reported at each byte received
	// because a REMOVEd RECV kevent once asked for POLLIN).
	watch_mode want;
	want.events = origin_for(e.type).interest(e);
	want.level = (e.req_flags & KEVENT_REQ_LEVEL) != 0;
	want.exclusive = !(e.req_flags & KEVENT_REQ_WAKEUP_ALL);
	int r = be_.watch(fd, want, &backend::quiet_mode, w->token());
	if (r == 0) {
		w->dormant = false;
		w->fresh = true;
		w->armed = want;
		reused_[fd] = 0;
		return w;
	}
	// ENOENT: the number names another file; EBADF: none. Anything else
	// leaves the item in an unknown state: take it out.
	if (r != -ENOENT && r != -EBADF)
		be_.unwatch(fd);
	reused_[fd] = 1;
	destroy(w);
	return nullptr;
}

void watch_table::release(fd_watch *w) {
	mu_.assert_held();
	w->fresh = false;
	if (!w->head && !w->dormant)
		retire(w);
}

void watch_table::note_kind(knode *n, unsigned mode) {
	mu_.assert_held();
	if (fd_watch *w = n->fdw.watch)
		w->kind = static_cast<uint16_t>(mode & S_IFMT);
}

int watch_table::attach(knode *n, bool &joined) {
	mu_.assert_held();
	fd_watch *w = find(n->fd());
	joined = w && w->in_backend && !w->fresh;
	if (!w)
		w = create(n->fd());
	w->fresh = false;
	link(w, n);
	if (int r = sync(w, false); r < 0) {
		unlink(n);
		sync(w, false); // back to what the others wanted (or gone)
		return r;
	}
	return 0;
}

fd_watch *watch_table::detach(knode *n) {
	mu_.assert_held();
	fd_watch *w = n->fdw.watch;
	if (!w)
		return nullptr; // its ADD failed to attach it
	unlink(n);
	return sync(w, false) < 0 ? w : nullptr;
}

int watch_table::sync(fd_watch *w, bool force) {
	mu_.assert_held();
	watch_mode want, all;
	bool wake_all = false;
	for (knode *n = w->head; n; n = n->fdw.wnext) {
		uint32_t interest = origin_for(n->uk.type).interest(n->uk);
		all.events |= interest;
		wake_all |= n->req(KEVENT_REQ_WAKEUP_ALL);
		// Its report waits already (park), on the ready list or held
		// by KEVENT_REQ_DISABLED until a MODIFY enables it.
		if (w->parked && (n->has(on_ready) || n->has(disabled_ready)))
			continue;
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
		retire(w); // nobody is left on it
		return 0;
	}
	if (backend_closing_)
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
	int r = be_.watch(w->fd, want, w->in_backend ? &w->armed : nullptr, w->token());
	if (r < 0)
		return r;
	w->in_backend = true;
	w->armed = want;
	return 0;
}

void watch_table::retire(fd_watch *w) {
	mu_.assert_held();
	if (w->in_backend && !w->source && !backend_closing_ && !closes_after_remove(w->fd)) {
		int r = be_.quiet(w->fd, w->armed, w->token());
		if (r == 0) {
			w->dormant = true;
			w->parked = false;
			w->armed = backend::quiet_mode;
			return;
		}
		if (r == -ENOENT || r == -EBADF) {
			destroy(w); // the kernel forgot the file already
			return;
		}
	}
	stop(w);
}

void watch_table::stop(fd_watch *w) {
	mu_.assert_held();
	// ENOENT/EBADF is no failure: the kernel forgot the file already. Not
	// while closing: the epoll file goes with the queue (and a fork child
	// would take the fd from its parent).
	if (w->in_backend && !backend_closing_)
		be_.unwatch(w->fd);
	destroy(w);
}

void watch_table::park(fd_watch *w) {
	mu_.assert_held();
	w->parked = true;
	if (sync(w, true) < 0)
		w->parked = false; // the file is gone: the next look finds out
}

void watch_table::unpark(fd_watch *w) {
	mu_.assert_held();
	w->parked = false;
	// LEVEL: the re-armed watch reports the file at once if it is still
	// ready, as a level watch does at each call. A failure means the file
	// went away; REMOVE, or an ADD of its number, reports it.
	sync(w, true);
}

int watch_table::watch_source(fd_source &src, int fd, uint32_t events) {
	watch_mode mode;
	mode.events = events;
	mode.at_once = true;
	return arm_source(src, fd, mode);
}

int watch_table::arm_source(fd_source &src, int fd, const watch_mode &mode) {
	mu_.assert_held();
	fd_watch *w = src.watch;
	if (!w) {
		w = create_hidden(fd);
		w->source = &src;
	}
	int r = be_.watch(fd, mode, w->in_backend ? &w->armed : nullptr, w->token());
	if (r < 0) {
		if (!w->in_backend)
			destroy(w);
		return r;
	}
	w->in_backend = true;
	w->armed = mode;
	src.watch = w;
	return 0;
}

void watch_table::unwatch_source(fd_source &src) {
	mu_.assert_held();
	if (!src.watch)
		return;
	stop(src.watch);
	src.watch = nullptr;
}

// ---- the slots -------------------------------------------------------------

fd_watch *watch_table::create(int fd) {
	if (static_cast<size_t>(fd) >= by_fd_.size()) {
		by_fd_.resize(static_cast<size_t>(fd) + 1 + by_fd_.size() / 2, 0);
		reused_.resize(by_fd_.size(), 0);
	}
	fd_watch *w = create_hidden(fd);
	by_fd_[fd] = w->slot + 1;
	return w;
}

fd_watch *watch_table::create_hidden(int fd) {
	uint32_t slot;
	if (!free_.empty()) {
		slot = free_.back();
		free_.pop_back();
	} else {
		// destroy() must not allocate (it runs while freeing, in
		// destructors too): room in free_ for every slot, made now.
		free_.reserve(slots_.size() + 1);
		slot = static_cast<uint32_t>(slots_.size());
		slots_.push_back(std::make_unique<fd_watch>());
	}
	fd_watch *w = slots_[slot].get();
	// The top two bits are taken: backend-internal and I/O tokens.
	uint32_t gen = (w->gen + 1) & seq_mask;
	*w = fd_watch{};
	w->fd = fd;
	w->slot = slot;
	w->gen = gen ? gen : 1;
	return w;
}

void watch_table::destroy(fd_watch *w) {
	if (w->fd >= 0 && static_cast<size_t>(w->fd) < by_fd_.size() &&
	    by_fd_[w->fd] == w->slot + 1)
		by_fd_[w->fd] = 0;
	w->fd = -1;
	w->head = nullptr;
	free_.push_back(w->slot);
}

void watch_table::link(fd_watch *w, knode *n) {
	n->fdw.watch = w;
	n->fdw.wprev = nullptr;
	n->fdw.wnext = w->head;
	if (w->head)
		w->head->fdw.wprev = n;
	w->head = n;
}

void watch_table::unlink(knode *n) {
	fd_watch *w = n->fdw.watch;
	if (!w)
		return;
	(n->fdw.wprev ? n->fdw.wprev->fdw.wnext : w->head) = n->fdw.wnext;
	if (n->fdw.wnext)
		n->fdw.wnext->fdw.wprev = n->fdw.wprev;
	n->fdw.wnext = n->fdw.wprev = nullptr;
	n->fdw.watch = nullptr;
}

} // namespace kevent::detail
