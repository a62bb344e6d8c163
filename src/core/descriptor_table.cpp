// LOCKING: see descriptor_table.hpp. Orderings are seq_cst where a lookup
// (raise active, then load the pointer) races a removal (clear the pointer,
// then read active): at least one of the two sees the other.
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
	while (q->refs_.load(std::memory_order_acquire) > keep)
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

// Registered once, before the first queue exists.
const int fork_hook =
	pthread_atfork(nullptr, nullptr, [] { fork_gen.fetch_add(1, std::memory_order_relaxed); });

int not_a_queue(int kfd) { return fcntl(kfd, F_GETFD) < 0 ? -EBADF : -EINVAL; }

// The queue in s with a reference taken, or null.
queue *acquire(slot *s) {
	s->active.fetch_add(1, std::memory_order_seq_cst);
	queue *q = s->q.load(std::memory_order_seq_cst);
	if (q)
		q->refs_.fetch_add(1, std::memory_order_acq_rel);
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
			if (queue_ref ref(acquire(&base[i])); ref)
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
	if (q->fork_generation() != current_fork_generation()) {
		if (!for_close)
			return -EINVAL; // the parent's queue: see queue.hpp
		q->disown_backend();
	}
	// Trusted (KEVENT_INIT_NO_FD_CHECK), but kevent_close still looks:
	// once, and closing the wrong file would be worse than a syscall.
	descriptor_match m = q->checks_fd() || for_close ? q->owns(kfd) : descriptor_match::same;
	switch (m) {
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
		// is ours now.
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
	drain(s);
	destroy_when_idle(ref.release(), 2, kfd);
	return 0;
}

} // namespace kevent::detail
