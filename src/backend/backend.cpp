// SPDX-License-Identifier: MIT
// backend — the part both backends share: the queue's descriptor, an epoll
// file holding two eventfds of the backend's own, and the probes of what a
// number names (epoll_probe.hpp).
//
// The two eventfd idioms: the wake-up is never read (each write is a new
// edge for an edge-triggered epoll item or an io_uring multishot poll, so a
// wake-up can never be cleared away by someone else), and the ready flag is
// readable while set (a level-triggered item keeps the epoll file readable:
// "ready list not empty" for a program polling the queue's descriptor).
#include "backend/backend.hpp"
#include "backend/epoll_probe.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace kevent::detail {
namespace {

// Raw syscalls, not glibc's read/write: those are cancellation points, and a
// cancellation acting inside these noexcept helpers would end the process
// (they also run in signal handlers, outside the library's no_cancel).
void eventfd_rw(int fd, bool write_it) noexcept {
	uint64_t v = 1;
	long r = ::syscall(write_it ? SYS_write : SYS_read, fd, &v, sizeof v);
	(void)r;
}

} // namespace

int backend::open_descriptor(bool wake_reported) {
	epfd_.reset(epoll_create1(EPOLL_CLOEXEC));
	if (!epfd_)
		return -errno;
	wakefd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	readyfd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	if (!wakefd_ || !readyfd_)
		return -errno;
	epoll_event ev{};
	ev.events = wake_reported ? EPOLLIN | EPOLLET : 0;
	ev.data.u64 = own_token(own_wake);
	if (epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, wakefd_.get(), &ev) < 0)
		return -errno;
	ev.events = EPOLLIN; // level: readable until set_ready(false)
	ev.data.u64 = own_token(own_ready);
	if (epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, readyfd_.get(), &ev) < 0)
		return -errno;
	return 0;
}

void backend::close_inherited_descriptor() noexcept {
	for (sys::unique_fd *f : {&readyfd_, &wakefd_, &epfd_})
		if (*f)
			::close(f->release());
}

// Async-signal-safe. EAGAIN only at a count of 2^64-2: readable anyway.
void backend::wake() noexcept {
	count();
	eventfd_rw(wakefd_.get(), true);
}

// Set (readable) or clear. EAGAIN: already in that state.
void backend::set_ready(bool on) {
	count();
	eventfd_rw(readyfd_.get(), on);
}

// Our wake eventfd is in our epoll file and in no other: adding it to `fd`
// fails with EEXIST exactly when `fd` is still our descriptor (the ledger
// of epoll_backend.cpp). Not in calls(), as it never was.
descriptor_match backend::probe_queue_descriptor(int fd) const {
	return epoll_probe(fd, wakefd_.get());
}

descriptor_match backend::probe_watched(int fd) {
	count();
	return epoll_probe(watch_set_, fd);
}

} // namespace kevent::detail
