// SPDX-License-Identifier: MIT
// LOCKING: see descriptor_table.hpp. Orderings are seq_cst where a lookup
// (raise active, then load the pointer) races a removal (clear the pointer,
// then read active): at least one of the two sees the other.
//
// fork(2): in the child only the forking thread exists, but the table still
// counts what the others were doing — lookups in progress, references taken
// — and a queue's mutex may be held by one of them. So the child never
// waits for, shuts down or frees a queue it inherited (the fork generation
// tells them apart): kevent_close closes the child's copies of its
// descriptors and forgets it, and a new queue installed over its slot just
// takes the slot. The fork child handler clears the lookup counts, which
// only vanished threads can hold, so that the child's own queues in those
// slots can be closed.
#include "core/descriptor_table.hpp"

#include <cerrno>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

namespace kevent::detail {
namespace {

struct slot {
	std::atomic<queue *> q{nullptr};
	std::atomic<uint32_t> active{0};
};

constexpr size_t chunk_slots = 1024;
constexpr size_t chunk_count = 4096; // descriptors up to 4M

std::atomic<slot *> chunks[chunk_count];

slot *find_slot(int fd, bool create) {
	if (fd < 0 || static_cast<size_t>(fd) >= chunk_slots * chunk_count)
		return nullptr;
	std::atomic<slot *> &c = chunks[static_cast<size_t>(fd) / chunk_slots];
	slot *base = c.load(std::memory_order_acquire);
	if (!base && create) {
		// Never freed: lookups may read a slot at any time.
		auto *fresh = new slot[chunk_slots];
		if (c.compare_exchange_strong(base, fresh, std::memory_order_acq_rel))
			base = fresh;
		else
			delete[] fresh;
	}
	return base ? &base[static_cast<size_t>(fd) % chunk_slots] : nullptr;
}

void drain(slot *s) {
	while (s->active.load(std::memory_order_seq_cst) != 0)
		sched_yield();
}

// q has left its slot; make blocked callers return, wait for the calls in
// progress (`keep` references are the caller's own), close the caller's
// descriptor if asked (only now: a call in progress may still be checking
// that number), delete it.
void destroy_when_idle(queue *q, uint32_t keep, int close_fd = -1) {
	q->shutdown();
	while (q->refs() > keep)
		sched_yield();
	if (close_fd >= 0)
		::close(close_fd);
	delete q;
}

// The number no longer names our file: free the stale queue (if nobody beat
// us to it).
void retire_stale(slot *s, queue_ref &ref) {
	queue *q = ref.get();
	if (!s->q.compare_exchange_strong(q, nullptr, std::memory_order_seq_cst))
		return; // someone else retires it; ref is dropped by its destructor
	drain(s);
	destroy_when_idle(ref.release(), 2); // the table's reference and ours
}

std::atomic<uint32_t> fork_gen{0};

bool inherited(const queue *q) { return q->fork_generation() != current_fork_generation(); }

// The child of fork(2), before fork returns there. Nobody else runs, and
// this thread is not in a lookup (it is in fork(), which a signal handler
// interrupting a lookup may not call: POSIX allows no atfork handlers
// there). The process-wide totals start again at zero: the inherited queues
// and their registrations are the parent's, and never freed here.
void child_after_fork() {
	fork_gen.fetch_add(1, std::memory_order_relaxed);
	for (auto &c : chunks)
		if (slot *base = c.load(std::memory_order_relaxed))
			for (size_t i = 0; i < chunk_slots; i++)
				base[i].active.store(0, std::memory_order_relaxed);
	global_stats &g = process_stats();
	g.queues.store(0, std::memory_order_relaxed);
	g.registered.store(0, std::memory_order_relaxed);
	g.inflight_io.store(0, std::memory_order_relaxed);
}

// Registered once, before the first queue exists.
const int fork_hook = pthread_atfork(nullptr, nullptr, child_after_fork);

// kevent_close, in a fork child, of a queue it inherited and has taken out
// of its slot. The number is closed only if it still names the queue's file
// (then so do the descriptors made before it: backend::close_inherited);
// otherwise the queue is just forgotten.
int close_inherited(queue *q, int kfd) {
	switch (q->probe_queue_descriptor(kfd)) {
	case descriptor_match::same:
		q->close_inherited();
		::close(kfd);
		return 0;
	case descriptor_match::not_open:
		return -EBADF;
	case descriptor_match::different:
		break;
	}
	return -EINVAL;
}

int not_a_queue(int kfd) { return fcntl(kfd, F_GETFD) < 0 ? -EBADF : -EINVAL; }

// The queue in s with a reference taken, or null.
queue *acquire(slot *s) {
	s->active.fetch_add(1, std::memory_order_seq_cst);
	queue *q = s->q.load(std::memory_order_seq_cst);
	if (q)
		q->add_ref();
	s->active.fetch_sub(1, std::memory_order_release);
	return q;
}

} // namespace

void for_each_queue(void (*f)(const queue &, void *), void *arg) {
	for (auto &c : chunks) {
		slot *base = c.load(std::memory_order_acquire);
		if (!base)
			continue;
		for (size_t i = 0; i < chunk_slots; i++) {
			if (!base[i].q.load(std::memory_order_relaxed))
				continue;
			// An inherited queue's statistics are the parent's, and
			// reading them would take a lock a vanished thread may hold.
			if (queue_ref ref(acquire(&base[i])); ref && !inherited(ref.get()))
				f(*ref.get(), arg);
		}
	}
}

uint32_t current_fork_generation() {
	(void)fork_hook;
	return fork_gen.load(std::memory_order_relaxed);
}

int lookup_queue(int kfd, queue_ref &out, bool for_close) {
	slot *s = find_slot(kfd, false);
	queue *q = s ? acquire(s) : nullptr;
	if (!q)
		return not_a_queue(kfd);
	queue_ref ref(q);
	if (inherited(q)) {
		if (!for_close)
			return not_a_queue(kfd); // the parent's queue: see queue.hpp
		out.~queue_ref();
		new (&out) queue_ref(std::move(ref));
		return 0; // close_queue looks at the number itself
	}
	// Only kevent_close looks whether the number still names the queue's
	// file: closing the wrong file would be worse than a syscall. Every
	// other call trusts the table (docs/semantics.md "Descriptors": a
	// number closed with close(2) keeps naming its queue until kevent_init
	// returns it again or kevent_close is called with it). Checking on
	// every call cost one epoll_ctl(2) each — most of a user event's price.
	if (!for_close) {
		out.~queue_ref();
		new (&out) queue_ref(std::move(ref));
		return 0;
	}
	switch (q->probe_queue_descriptor(kfd)) {
	case descriptor_match::same:
		out.~queue_ref();
		new (&out) queue_ref(std::move(ref));
		return 0;
	case descriptor_match::not_open:
		retire_stale(s, ref);
		return -EBADF;
	case descriptor_match::different:
		break;
	}
	retire_stale(s, ref);
	return -EINVAL;
}

int install_queue(std::unique_ptr<queue> q) {
	slot *s = find_slot(q->user_fd(), true);
	if (!s)
		return -EMFILE;
	queue *old = s->q.exchange(q.release(), std::memory_order_seq_cst);
	if (old) {
		// A queue whose descriptor was closed with close(2): its number
		// is ours now. An inherited one is only forgotten: even its other
		// numbers may be free, or ours, in this child.
		if (inherited(old))
			return 0;
		drain(s);
		destroy_when_idle(old, 1);
	}
	return 0;
}

int close_queue(int kfd) {
	queue_ref ref;
	if (int r = lookup_queue(kfd, ref, true); r < 0)
		return r;
	slot *s = find_slot(kfd, false);
	queue *q = ref.get();
	if (!s->q.compare_exchange_strong(q, nullptr, std::memory_order_seq_cst))
		return -EBADF; // closed by another thread meanwhile
	if (inherited(q))
		return close_inherited(q, kfd); // never waited for, never freed
	drain(s);
	destroy_when_idle(ref.release(), 2, kfd);
	return 0;
}

} // namespace kevent::detail
