// SPDX-License-Identifier: MIT
// kevent_ctl: ADD, REMOVE, MODIFY, READY (kevent_ctl(3), docs/semantics.md).
// LOCKING: see queue.hpp; every command runs with mu_ held from start to
// end (asserted), so a batch is atomic to other callers.
#include "core/queue.hpp"

#include <cerrno>
#include <fcntl.h>
#include <new>
#include <vector>

namespace kevent::detail {

namespace {

void fail_entry(ukevent &e, int err) {
	e.ret_flags = KEVENT_RET_BROKEN | KEVENT_RET_DONE;
	e.ret_data[1] = static_cast<uint32_t>(-err);
}

} // namespace

// How far ahead of the entry it handles a batch loads registry slots: with
// a million keys every lookup misses the cache, and a load started 32
// entries early has had the time of 32 entries' work to arrive.
constexpr size_t prefetch_distance = 32;

void queue::prefetch_key(std::span<const ukevent> arg, size_t i) const {
	if (i + prefetch_distance < arg.size())
		reg_.prefetch(key_of(arg[i + prefetch_distance]));
}

int queue::ctl(unsigned cmd, std::span<ukevent> arg) {
	std::lock_guard lk(mu_);
	if (closed())
		return -EBADF;
	timers_.new_batch();
	const uint64_t pushed = ready_.pushes();
	int r;
	switch (cmd) {
	case KEVENT_CTL_ADD:
		r = ctl_add(arg);
		break;
	case KEVENT_CTL_REMOVE:
	case KEVENT_CTL_MODIFY:
		r = ctl_remove_modify(cmd, arg);
		break;
	default:
		r = ctl_ready(arg);
		// READY of kevents that all waited on the ready list already:
		// their takers were told when they were queued.
		flush_and_notify(ready_.pushes() != pushed);
		return r;
	}
	flush_and_notify();
	return r;
}

// Attach one fd kevent to the (possibly new) watch of its fd.
int queue::attach_fd(knode *n) {
	mu_.assert_held();
	bool joined;
	if (int r = watches_.attach(n, joined); r < 0)
		return watch_errno(-r);
	// A kevent joining a watch the kernel has already (a narrower or equal
	// interest re-arms nothing) gets no look from the kernel: ask the fd,
	// or data waiting at ADD would be missed until the next edge
	// (kevent_ctl(3): "ready at the time of ADD";
	// tests/regress/join_watch_ready_test). prepare_add checked that the
	// number still names the watched file.
	if (joined && poll_now(n))
		n->flags |= add_ready;
	return 0;
}

// What ADD and MODIFY both ask of a request: the origin's own checks, known
// request flags, not ET and LEVEL at once. 0 or an errno.
static int validate_request(const origin_ops &o, const ukevent &e) {
	if (int r = o.validate(e))
		return r;
	if ((e.req_flags & ~KEVENT_REQ_MASK) ||
	    ((e.req_flags & KEVENT_REQ_ET) && (e.req_flags & KEVENT_REQ_LEVEL)))
		return EINVAL;
	return 0;
}

// Validate one ADD entry and attach it. 0 and a node (marked `adding`), or
// an errno for the entry.
int queue::prepare_add(ukevent &e, knode *&out) {
	mu_.assert_held();
	if (e.type >= KEVENT_MAX)
		return EINVAL;
	const origin_ops &o = origin_for(e.type);
	if (int r = validate_request(o, e))
		return r;

	// fd origins: if the number is watched already, is it still the same
	// file? A different one means the number was closed and reused: the
	// old kevents are delivered BROKEN and the number is free to register.
	// A dormant watch (its kevents were removed) is re-armed instead, which
	// checks the same (watch_table.hpp).
	unsigned kind = 0;
	if (o.uses_fd) {
		int fd = static_cast<int>(e.id.raw[0]);
		// raw[1] would make a second key for the same fd; POLL allows it
		// as a tag: independent kevents on one fd (kevent_poll(7)).
		if (e.id.raw[1] != 0 && e.type != KEVENT_POLL)
			return EINVAL;
		if (fd < 0)
			return EBADF;
		fd_watch *w = watches_.find(fd), *stale = nullptr;
		if (w && w->dormant) {
			w = watches_.revive(w, e);
		} else if (w && w->in_backend && be_->probe_watched(fd) != descriptor_match::same) {
			stale = w; // broken below, once the request is known good
			w = nullptr;
		}
		// Only an origin with a kind to check asks fstat(2), and only for
		// a file whose kind the watch does not know; for the others
		// epoll_ctl itself says EBADF (or EPERM: not pollable).
		if (o.check_kind) {
			sys::inode_id ino;
			ino.mode = w ? w->kind : 0;
			int r = ino.mode ? 0 : -sys::inode_of(fd, ino);
			if (r == 0)
				r = o.check_kind(fd, ino);
			if (r) {
				if (w)
					watches_.release(w);
				return r;
			}
			kind = ino.mode;
		}
		if (stale)
			break_watch(stale, EBADF);
		// A number that is not open fails before the fd table (4 bytes
		// a number) grows to it: else any int in a request sizes it
		// (tests/regress/huge_fd_add_test).
		if (!w && !o.check_kind && fcntl(fd, F_GETFD) < 0)
			return EBADF;
		if (!w)
			yield_socket_watch(*this, fd);
	}
	if (reg_.find(key_of(e)))
		return EEXIST;

	knode *n = new_node(e);
	n->flags |= adding;
	int err = 0;
	// Out of memory half-way (the fd table, an origin's state, the
	// registry): the node is counted and maybe attached, so it must be
	// freed here, not leaked by the caller's catch (tests/regress/
	// add_oom_leaks_node_test.cpp).
	try {
		if (o.uses_fd) {
			err = attach_fd(n);
			if (!err && kind)
				watches_.note_kind(n, kind);
		} else {
			bool ready_now = false;
			int r = o.attach(*this, *n, e, ready_now);
			if (r < 0)
				err = -r == ENOSPC ? ENOMEM : -r; // the watch of its fd: as above
			else if (ready_now)
				n->flags |= add_ready;
		}
		if (!err)
			reg_.insert(n);
	} catch (const std::bad_alloc &) {
		err = ENOMEM;
	}
	if (err) {
		n->flags &= ~adding;
		free_node(n);
		return err;
	}
	if (e.req_flags & KEVENT_REQ_READY)
		n->flags |= add_ready;
	out = n;
	return 0;
}

int queue::ctl_add(std::span<ukevent> arg) {
	mu_.assert_held();
	// What became of each entry, decided after one look at the backend.
	struct outcome {
		knode *node;
		int err;
	};
	std::vector<outcome> out(arg.size());
	bool need_dispatch = false;
	for (size_t i = 0; i < arg.size(); i++) {
		prefetch_key(arg, i);
		knode *n = nullptr;
		int err;
		try {
			err = prepare_add(arg[i], n);
		} catch (const std::bad_alloc &) {
			err = ENOMEM;
		}
		out[i] = {n, err};
		if (n && (origin_for(n->uk.type).uses_fd || origin_for(n->uk.type).watches_sources))
			need_dispatch = true;
	}
	// One epoll_wait(0) learns which of the new fds are ready (and queues
	// whatever else is ready on the way).
	if (need_dispatch)
		dispatch_pending();

	unsigned k = 0;
	for (size_t i = 0; i < arg.size(); i++) {
		if (out[i].err) {
			ukevent e = arg[i];
			fail_entry(e, out[i].err);
			arg[k++] = e;
			continue;
		}
		knode *n = out[i].node;
		n->flags &= ~adding;
		if (!n->has(add_ready))
			continue; // armed: nothing to copy back
		n->flags &= ~add_ready;
		if (!n->has(broken) && n->req(KEVENT_REQ_DISABLED)) {
			n->flags |= disabled_ready; // registered, delivered once enabled
			continue;
		}
		if (n->has(broken) || !n->req(KEVENT_REQ_ALWAYS_QUEUE)) {
			ukevent e = n->uk;
			e.ret_flags = KEVENT_RET_DONE;
			if (n->has(broken)) {
				e.ret_flags |= KEVENT_RET_BROKEN;
				e.ret_data[1] = static_cast<uint32_t>(-n->broken_errno);
			}
			arg[k++] = e;
			free_node(n);
		} else {
			make_ready(n);
		}
	}
	return static_cast<int>(k);
}

int queue::ctl_remove_modify(unsigned cmd, std::span<ukevent> arg) {
	mu_.assert_held();
	bool need_dispatch = false;
	for (size_t i = 0; i < arg.size(); i++) {
		prefetch_key(arg, i);
		ukevent &e = arg[i];
		knode *n = e.type < KEVENT_MAX ? reg_.find(key_of(e)) : nullptr;
		if (!n) {
			fail_entry(e, ENOENT);
			continue;
		}
		if (cmd == KEVENT_CTL_REMOVE) {
			// The origin may refuse: an I/O operation that has run
			// cannot be undone, and is delivered with its result
			// (kevent_aio_read(3); aio.cpp, withdraw).
			if (auto *f = origin_for(n->uk.type).withdraw) {
				if (int r = f(*this, *n)) {
					fail_entry(e, r);
					continue;
				}
			}
			free_node(n);
			e.ret_flags = KEVENT_RET_DONE;
			e.ret_data[1] = 0; // no error: nothing the caller left there
			continue;
		}
		// MODIFY: the new request must be valid on its own.
		const origin_ops &o = origin_for(n->uk.type);
		if (validate_request(o, e) != 0) {
			fail_entry(e, EINVAL);
			continue;
		}
		if (int r = o.check_modify ? o.check_modify(*n, e) : 0) {
			fail_entry(e, r);
			continue;
		}
		n->uk.event = e.event;
		if (n->req(KEVENT_REQ_LEVEL))
			level_kevents_--;
		if (e.req_flags & KEVENT_REQ_LEVEL)
			level_kevents_++;
		n->uk.req_flags = e.req_flags;
		n->uk.ptr = e.ptr;
		n->uk.ret_flags = 0;
		e.ret_flags = KEVENT_RET_DONE;
		e.ret_data[1] = 0;
		// KEVENT_REQ_DISABLED (kevent_ctl(3)): a disabled kevent leaves
		// the ready list keeping what it collected; enabled, it is queued
		// again if anything was collected.
		if (n->req(KEVENT_REQ_DISABLED) && n->has(on_ready)) {
			ready_.unlink(n);
			st_.ready.set(ready_.size());
			n->flags |= disabled_ready;
		} else if (!n->req(KEVENT_REQ_DISABLED) && n->has(disabled_ready)) {
			n->flags &= ~disabled_ready;
			make_ready(n);
		}
		if (o.uses_fd && !n->has(broken)) {
			// What it has collected answered the old request: the
			// re-arm below looks at the file again and queues it
			// with the bits of the new one that fire now
			// (tests/regress/modify_keeps_stale_bits_test).
			ready_.unlink(n);
			st_.ready.set(ready_.size());
			n->uk.ret_data[0] = 0;
		}
		if (o.modify) {
			if (int r = o.modify(*this, *n); r < 0) {
				fail_entry(e, -r);
				break_node(n, -r);
				continue;
			}
			if (o.watches_sources)
				need_dispatch = true;
		}
		if (o.uses_fd && n->fdw.watch) {
			// Re-arming makes the kernel look at the fd again, also
			// at a level watch parked while this kevent was disabled.
			n->fdw.watch->parked = false;
			if (int r = watches_.rearm(n->fdw.watch); r < 0) {
				// Out of memory re-adding the watch (a change of
				// exclusivity is a DEL and an ADD) is ENOMEM; any
				// other failure means the fd went away.
				int err = r == -ENOMEM || r == -ENOSPC ? ENOMEM : EBADF;
				fail_entry(e, err);
				break_watch(n->fdw.watch, err);
				continue;
			}
			need_dispatch = true;
		}
	}
	if (need_dispatch)
		dispatch_pending();
	return 0;
}

int queue::ctl_ready(std::span<ukevent> arg) {
	mu_.assert_held();
	if (arg.empty()) {
		force_wake();
		return 0;
	}
	int marked = 0;
	unsigned k = 0;
	for (ukevent &e : arg) {
		knode *n = e.type < KEVENT_MAX ? reg_.find(key_of(e)) : nullptr;
		if (!n || origin_for(n->uk.type).is_io) {
			ukevent c = e;
			fail_entry(c, n ? EINVAL : ENOENT); // an operation ends by itself
			arg[k++] = c;
			continue;
		}
		if (auto *f = origin_for(n->uk.type).on_user_ready)
			f(*n, e);
		make_ready(n);
		marked++;
	}
	return marked;
}

} // namespace kevent::detail
