// SPDX-License-Identifier: MIT
// kqueue(), kqueue1(): a kqueue is a libkevent queue, and its number is the
// queue's descriptor (pollable; nestable in another kqueue, epoll or poll).
// The table maps numbers to kqueues; a number whose libkevent queue is gone
// (close(kq), then the number reused) is retired at its next use.
//
// Fork: BSD does not inherit a kqueue. The child's copy of every kqueue is
// closed by a pthread_atfork handler (the parent's are untouched), so the
// child's kevent() on the old number fails with EBADF, as on FreeBSD.
//
// LOCKING: table_mu guards the table; it is taken before a kq's mu and never
// under it.
#include "kqueue/table.hpp"

#include <cerrno>
#include <fcntl.h>
#include <new>
#include <pthread.h>
#include <unistd.h>

namespace kqlayer {
namespace {

std::mutex *table_mu = new std::mutex; // reset in a fork child (no destructor at exit)
auto *table = new std::unordered_map<int, std::shared_ptr<kq>>;

void child_after_fork() {
	// The only thread of the child: the parent's threads may have held the
	// locks, so they are made anew, and the kqueues are forgotten (their
	// memory is the parent's state; it leaks once per fork).
	table_mu = new std::mutex;
	for (auto &e : *table)
		kevent_close(e.first);
	table = new std::unordered_map<int, std::shared_ptr<kq>>;
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
	int kfd = kevent_init(nullptr, 0, KEVENT_INIT_AUTO);
	if (kfd < 0)
		return -1;
	// libkevent's descriptor is close-on-exec; kqueue() is not (BSD).
	if (!(flags & O_CLOEXEC))
		fcntl(kfd, F_SETFD, 0);
	q->kfd = kfd;
	std::lock_guard g(*table_mu);
	(*table)[kfd] = std::move(q); // a stale entry of a closed kqueue goes
	return kfd;
}

} // namespace

std::shared_ptr<kq> find_kq(int fd) {
	std::lock_guard g(*table_mu);
	auto it = table->find(fd);
	return it == table->end() ? nullptr : it->second;
}

void retire_kq(int fd, const kq *q) {
	std::lock_guard g(*table_mu);
	auto it = table->find(fd);
	if (it != table->end() && it->second.get() == q)
		table->erase(it);
}

} // namespace kqlayer

extern "C" {
__attribute__((visibility("default"))) int kqueue(void) { return kqlayer::create(0); }
__attribute__((visibility("default"))) int kqueue1(int flags) { return kqlayer::create(flags); }
}
