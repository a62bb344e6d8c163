// SPDX-License-Identifier: MIT
// coro/socket_slot.hpp — what a kevent::coro::socket (coro/socket.hpp)
// knows about its descriptor: one persistent, edge-reported KEVENT_SOCKET
// kevent (RECV|SEND, ALWAYS_QUEUE, kevent_socket(7)) whose cookie is the slot, and per
// direction whether the socket may be ready and which operation waits.
//
// Readiness is remembered, as Asio's reactor does, so that an operation
// costs only its own system call: a direction is "maybe ready" until a
// call would block (EAGAIN) or moved less than asked (the kernel's buffer
// was emptied, or filled: the next arrival, or room, is a new edge, which
// the kevent reports). An operation on a maybe-ready direction is tried at
// once; on the other it waits for the edge without a system call. A copy
// of an edge that arrives late (after the direction was drained again, or
// after the socket was closed and its number reused) only makes one
// attempt fail with EAGAIN: it is never wrong, only spent.
//
// LOCKING: mu guards everything but the slot's place in the pool; an
// operation's system call runs under it (so an edge cannot fall between a
// call that would block and the wait it starts). Handlers resume
// coroutines only after mu is released.
#pragma once

#include <kevent/coro/io_context.hpp>
#include <kevent/kevent.h>

#include <sys/types.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <mutex>

namespace kevent::coro::detail {

enum socket_dir : unsigned { dir_recv = 0, dir_send = 1 };

// An operation of a socket (coro/socket.hpp) as the slot sees it.
struct socket_wait {
	// The system call, under the slot's lock: bytes moved or -errno.
	int64_t (*attempt)(socket_wait *self) noexcept = nullptr;
	// The call ended (result set, or cancelled): resume the coroutine, on
	// this thread at once (`now`) or posted to a runner. Run without the
	// slot's lock.
	void (*finish)(socket_wait *self, bool now) noexcept = nullptr;
	std::size_t len = 0;
	int64_t result = 0;
	bool cancelled = false;
};

// An operation of a socket on io_uring (coro/socket.hpp: the queue's own
// asynchronous recv and send there), as close() sees it.
struct native_wait {
	void (*cancel)(native_wait *self) noexcept = nullptr;
};

struct socket_slot : op_base {
	std::mutex mu;
	int fd = -1; // -1: free, or its socket closed
	// Bumped when its socket is closed: an operation made before then
	// fails EBADF, even once the slot serves another socket. Atomic only
	// so that making an operation may read it without the lock.
	std::atomic<uint32_t> generation{0};
	int kfd = -1;         // the context's queue
	bool watched = false; // the kevent is registered
	bool maybe_ready[2] = {true, true};
	socket_wait *waiting[2] = {nullptr, nullptr};
	socket_slot *next_free = nullptr; // the pool's list (its own lock)
	// io_uring: no kevent of the slot's own; the operation under way per
	// direction, and the one close() is cancelling (its awaiter waits for
	// that to end before it goes).
	bool native = false;
	native_wait *native_waiting[2] = {nullptr, nullptr};
	native_wait *cancelling[2] = {nullptr, nullptr};

	socket_slot() noexcept { complete = &on_event; }

	// What a finished call says of its direction (under mu).
	void note(socket_dir d, int64_t r, std::size_t len) noexcept {
		if (r == -EAGAIN || (r >= 0 && static_cast<std::size_t>(r) < len))
			maybe_ready[d] = false;
	}

	// Registers the kevent (under mu). 0, or -errno for a descriptor that
	// cannot be watched (EBADF, EINVAL: not a socket). A socket already hung
	// up or in error is copied back BROKEN (kevent_socket(7)) and left
	// unwatched: its calls answer at once.
	int watch() noexcept {
		ukevent uk{};
		uk.type = KEVENT_SOCKET;
		uk.id.raw[0] = static_cast<uint32_t>(fd);
		uk.event = KEVENT_SOCKET_RECV | KEVENT_SOCKET_SEND;
		// Ready at ADD: registered and queued, not copied back and dropped
		// (kevent_ctl(3)); the first edge is then one spent delivery.
		uk.req_flags = KEVENT_REQ_ALWAYS_QUEUE;
		uk.ptr = static_cast<op_base *>(this);
		int n = kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &uk);
		if (n < 0)
			return -errno;
		maybe_ready[dir_recv] = maybe_ready[dir_send] = true;
		if (n == 1 && (uk.ret_flags & KEVENT_RET_BROKEN)) {
			int e = -static_cast<int32_t>(uk.ret_data[1]);
			if (e == EEXIST) { // a late BROKEN copy made us think it gone
				watched = true;
				return 0;
			}
			if (e == EBADF || e == EINVAL || e == ENOMEM || e == ENOSPC ||
			    e == EMFILE || e == ENFILE)
				return -e;
			return 0; // hung up or in error: unwatched
		}
		watched = n == 0; // copied back (not registered): calls just try
		return 0;
	}

	// Stops watching (under mu): the kevent is removed by its key.
	void unwatch() noexcept {
		if (!watched)
			return;
		ukevent uk{};
		uk.type = KEVENT_SOCKET;
		uk.id.raw[0] = static_cast<uint32_t>(fd);
		(void)kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &uk);
		watched = false;
	}

	// w's call on direction d (under mu): true when it is done (w->result
	// set), false when it waits for the kevent's next edge. An unwatched
	// socket (hung up at its last ADD) is watched again before a wait, and
	// a call that would block on one that cannot be watched fails EAGAIN.
	bool run(socket_dir d, socket_wait *w) noexcept {
		for (int round = 0; round < 2; round++) {
			if (maybe_ready[d] || !watched) {
				int64_t r = w->attempt(w);
				note(d, r, w->len);
				if (r != -EAGAIN) {
					w->result = r;
					return true;
				}
			}
			if (watched)
				return false;
			if (int e = watch(); e < 0) {
				w->result = e;
				return true;
			}
		}
		w->result = -EAGAIN;
		return true;
	}

	// An edge (or the kevent's BROKEN end): the waiting operations try
	// again; one that would still block goes on waiting.
	static void on_event(op_base *base, const ukevent &ev) noexcept {
		auto *s = static_cast<socket_slot *>(base);
		socket_wait *done[2] = {nullptr, nullptr};
		{
			std::lock_guard lk(s->mu);
			if (s->fd < 0 || ev.id.raw[0] != static_cast<uint32_t>(s->fd))
				return; // the event of a socket closed since
			bool broken = (ev.ret_flags & KEVENT_RET_BROKEN) != 0;
			if (broken)
				s->watched = false; // the kevent is gone (kevent_socket(7))
			const uint32_t bit[2] = {KEVENT_SOCKET_RECV, KEVENT_SOCKET_SEND};
			for (socket_dir d : {dir_recv, dir_send}) {
				if (!broken && !(ev.ret_data[0] & bit[d]))
					continue;
				s->maybe_ready[d] = true;
				socket_wait *w = s->waiting[d];
				if (!w || !s->run(d, w))
					continue; // nobody waits, or a spent copy
				s->waiting[d] = nullptr;
				done[d] = w;
			}
		}
		// One resumes here; the other, if both finished, is posted first:
		// the coroutine resumed here may destroy the other's task, whose
		// awaiter must then find its resumption posted (and withdraw it),
		// not wait for a finisher that is this very thread.
		socket_wait *first = done[0] ? done[0] : done[1];
		if (done[0] && done[1])
			done[1]->finish(done[1], false);
		if (first)
			first->finish(first, true);
	}
};

// A slot from ctx's pool (allocates only when the pool is empty; throws
// std::bad_alloc).
inline socket_slot *acquire_slot(io_context &ctx) {
	slot_pool &p = ctx.socket_slots();
	std::lock_guard lk(p.mu);
	if (p.free) {
		auto *s = static_cast<socket_slot *>(p.free);
		p.free = s->next_free;
		s->next_free = nullptr;
		return s;
	}
	p.all.reserve(p.all.size() + 1);
	auto *s = new socket_slot;
	p.all.push_back(s);
	p.destroy = [](op_base *b) noexcept { delete static_cast<socket_slot *>(b); };
	return s;
}

// Back to the pool; its fd is -1 already, so a late event is dropped.
inline void release_slot(io_context &ctx, socket_slot *s) noexcept {
	slot_pool &p = ctx.socket_slots();
	std::lock_guard lk(p.mu);
	s->next_free = static_cast<socket_slot *>(p.free);
	p.free = s;
}

} // namespace kevent::coro::detail
