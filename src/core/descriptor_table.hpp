// SPDX-License-Identifier: MIT
// descriptor_table — from a kevent descriptor number to its queue.
//
// LOCKING: lock-free, so that KEVENT_CTL_READY with num == 0 works from a
// signal handler. Slots live in chunks that are never freed (type-stable);
// each slot has a count of lookups in progress. A lookup raises that count,
// loads the queue pointer, takes a reference, and lowers the count; removal
// clears the pointer and then waits for the count to drain, after which no
// new reference can appear. The remover then waits for the references of
// calls in progress to go, and deletes the queue. fork(2): see
// descriptor_table.cpp; a child never waits for a thread that did not come
// along.
#pragma once

#include "core/queue.hpp"

namespace kevent::detail {

// A counted reference to a queue; empty when the lookup failed.
class queue_ref {
public:
	queue_ref() = default;
	explicit queue_ref(queue *q) : q_(q) {}
	queue_ref(queue_ref &&o) noexcept : q_(std::exchange(o.q_, nullptr)) {}
	queue_ref &operator=(queue_ref &&) = delete;
	~queue_ref() {
		if (q_)
			q_->drop_ref();
	}
	// Keep the reference counted but forget it (the closer's own).
	queue *release() { return std::exchange(q_, nullptr); }
	queue *operator->() const { return q_; }
	queue *get() const { return q_; }
	explicit operator bool() const { return q_ != nullptr; }

private:
	queue *q_ = nullptr;
};

// The queue behind kfd. -errno: EBADF (no queue has the number and it is
// not open), EINVAL (no queue has it, but it is open). No system call on
// success: a number closed with close(2) behind the library's back still
// finds its queue. Only `for_close` (kevent_close) checks that the number
// still names the queue's file: EBADF (not open) or EINVAL (another file
// has it), and the stale queue is then freed. A queue inherited through
// fork(2) gives EINVAL (EBADF if the number is not open) to every call but
// kevent_close, for which it is returned unchecked: close_queue deals
// with it.
int lookup_queue(int kfd, queue_ref &out, bool for_close = false);

// Bumped in the child of every fork(2): a queue made before is inherited.
uint32_t current_fork_generation();

// Install a new queue under its descriptor; a stale queue that still held
// the number is freed. 0 or -ENOMEM.
int install_queue(std::unique_ptr<queue> q);

// kevent_close: remove, wake, wait, free; closes kfd. 0 or -errno. In a fork
// child, an inherited queue is removed and its descriptors closed, but it is
// not waited for or freed (descriptor_table.cpp).
int close_queue(int kfd);

// Call f(queue&) for every queue in the table, each held by a reference
// for the duration of its call (kevent_get_stats(-1, ...)).
void for_each_queue(void (*f)(const queue &, void *), void *arg);

} // namespace kevent::detail
