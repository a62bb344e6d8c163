// SPDX-License-Identifier: MIT
// kqueue(), kqueue1(): a kqueue is a libkevent queue, and its number is the
// queue's descriptor (pollable; nestable in another kqueue, epoll or poll).
// The table maps numbers to kqueues.
//
// close(kq) frees the kqueue, as on BSD: the layer defines close(2) (below)
// and, for a number that is a kqueue, ends its libkevent queue with
// kevent_close — which closes the number and the queue's own descriptors,
// and wakes its waiters with EBADF. libkevent's own calls keep a closed
// number's queue until the number is named again (kevent_init(3)); a kqueue
// program cannot be asked to call kevent_close. The dynamic linker binds a
// program's close to this one only when libkevent-kqueue comes before the C
// library in its search order (a program linked with -lkevent-kqueue, or
// statically); a kqueue closed by the C library's close — or by dup2(2)
// onto it, close_range(2) — is freed by the next kqueue() (sweep_closed) or
// the next kevent() that names it (kevent.cpp checks its number).
//
// Fork: BSD does not inherit a kqueue. The child's copy of every kqueue is
// closed by a pthread_atfork handler (the parent's are untouched), so the
// child's kevent() on the old number fails with EBADF, as on FreeBSD.
//
// LOCKING: table_mu guards the table; it is taken before a kq's mu and never
// under it.
#include "kqueue/table.hpp"

#include <atomic>
#include <cerrno>
#include <fcntl.h>
#include <new>
#include <pthread.h>
#include <unistd.h>

#include <vector>

// glibc's own name for its close(2): the cancellation point, without
// going through the definition below again.
extern "C" int __close(int fd);

namespace kqlayer {
namespace {

std::mutex *table_mu = new std::mutex; // reset in a fork child (no destructor at exit)
auto *table = new std::unordered_map<int, std::shared_ptr<kq>>;

// Which numbers are kqueues, readable without a lock: every close(2) of the
// process asks, and close is async-signal-safe, so the common answer ("not
// a kqueue") takes one atomic load. A bit is set under table_mu while the
// number is in the table (and may stay set after: the table decides);
// numbers past the bitmap are counted, and then every close past it looks
// in the table.
constexpr int marked_limit = 1 << 16;
std::atomic<uint64_t> marks[marked_limit / 64];
std::atomic<unsigned> marked_high{0};

void mark(int fd) {
	if (fd < marked_limit)
		marks[fd / 64].fetch_or(uint64_t(1) << (fd % 64), std::memory_order_relaxed);
	else
		marked_high.fetch_add(1, std::memory_order_relaxed);
}

void unmark(int fd) {
	if (fd < marked_limit)
		marks[fd / 64].fetch_and(~(uint64_t(1) << (fd % 64)), std::memory_order_relaxed);
	else
		marked_high.fetch_sub(1, std::memory_order_relaxed);
}

bool maybe_kqueue(int fd) {
	if (fd < 0)
		return false;
	if (fd < marked_limit)
		return marks[fd / 64].load(std::memory_order_relaxed) >> (fd % 64) & 1;
	return marked_high.load(std::memory_order_relaxed) != 0;
}

void child_after_fork() {
	// The only thread of the child: the parent's threads may have held the
	// locks, so they are made anew, and the kqueues are forgotten (their
	// memory is the parent's state; it leaks once per fork). The marks go
	// first: kevent_close closes the number through close() below.
	table_mu = new std::mutex;
	for (auto &e : *table)
		unmark(e.first);
	for (auto &e : *table)
		kevent_close(e.first);
	table = new std::unordered_map<int, std::shared_ptr<kq>>;
}

// A kqueue whose number is no longer open — closed by a close(2) that was
// not this library's (a program that reaches libkevent-kqueue through
// another library binds to the C library's close first), or by dup2 or
// close_range — leaves the table, and libkevent, told by kevent_close that
// the number is not open, frees its queue (EBADF). Numbers reused since
// are not found here: they are retired at their next use.
void sweep_closed() {
	std::vector<int> closed;
	{
		std::lock_guard g(*table_mu);
		for (auto it = table->begin(); it != table->end();) {
			if (fcntl(it->first, F_GETFD) < 0 && errno == EBADF) {
				closed.push_back(it->first);
				unmark(it->first);
				it = table->erase(it);
			} else {
				++it;
			}
		}
	}
	// Outside the lock: freeing a queue closes its descriptors through
	// close() below, which may take it.
	for (int fd : closed)
		kevent_close(fd);
}

int create(int flags) {
	static const int registered = pthread_atfork(nullptr, nullptr, child_after_fork);
	(void)registered;
	if (flags & ~O_CLOEXEC) {
		errno = EINVAL;
		return -1;
	}
	std::shared_ptr<kq> q;
	try {
		q = std::make_shared<kq>();
	} catch (const std::bad_alloc &) {
		errno = ENOMEM;
		return -1;
	}
	sweep_closed();
	int kfd = kevent_init(nullptr, 0, KEVENT_INIT_AUTO);
	if (kfd < 0)
		return -1;
	// libkevent's descriptor is close-on-exec; kqueue() is not (BSD).
	if (!(flags & O_CLOEXEC))
		fcntl(kfd, F_SETFD, 0);
	q->kfd = kfd;
	std::lock_guard g(*table_mu);
	auto [it, fresh] = table->insert_or_assign(kfd, std::move(q)); // a stale entry goes
	(void)it;
	if (fresh)
		mark(kfd);
	return kfd;
}

// close(fd) of a kqueue: true, and close's result in `result`; false when
// fd is no kqueue (any more), for the C library's close.
bool close_kqueue(int fd, int &result) {
	std::shared_ptr<kq> q;
	{
		std::lock_guard g(*table_mu);
		auto it = table->find(fd);
		if (it == table->end())
			return false;
		q = std::move(it->second);
		table->erase(it);
		unmark(fd);
	}
	// The number still names the queue: closed with it. Else it was
	// closed behind the layer's back (and maybe reused): the queue is
	// only forgotten, and the caller's close is for whatever it names.
	if (kevent_close(fd) < 0)
		return false;
	result = 0;
	return true;
}

} // namespace

std::shared_ptr<kq> find_kq(int fd) {
	std::lock_guard g(*table_mu);
	auto it = table->find(fd);
	return it == table->end() ? nullptr : it->second;
}

void retire_kq(int fd, const kq *q, bool number_closed) {
	{
		std::lock_guard g(*table_mu);
		auto it = table->find(fd);
		if (it == table->end() || it->second.get() != q)
			return;
		table->erase(it);
		unmark(fd);
	}
	// Not open any more: libkevent frees the queue (as in sweep_closed).
	if (number_closed)
		kevent_close(fd);
}

} // namespace kqlayer

extern "C" {
__attribute__((visibility("default"))) int kqueue(void) { return kqlayer::create(0); }
__attribute__((visibility("default"))) int kqueue1(int flags) { return kqlayer::create(flags); }

// Exported in the C library's version node (src/kqueue/CMakeLists.txt), so
// that every close(2) of the process comes here, also from libraries (libevent
// closes its kqueue in event_base_free).
__attribute__((visibility("default"))) int close(int fd) {
	int r;
	if (kqlayer::maybe_kqueue(fd) && kqlayer::close_kqueue(fd, r))
		return r;
	return __close(fd);
}
}
