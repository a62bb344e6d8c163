// SPDX-License-Identifier: MIT
// eventfd_flag — the two eventfd idioms both backends use for their own
// signalling: a wake-up that is never read (each write is a new edge for an
// edge-triggered epoll item or a multishot poll), and a level flag that is
// readable while set.
#pragma once

#include <cstdint>
#include <sys/syscall.h>
#include <unistd.h>

namespace kevent::detail {

// Raw syscalls, not glibc's read/write: those are cancellation points, and a
// cancellation acting inside these noexcept helpers would end the process
// (they also run in signal handlers, outside the library's no_cancel).
inline void eventfd_rw(int fd, bool write_it) noexcept {
	uint64_t v = 1;
	long r = ::syscall(write_it ? SYS_write : SYS_read, fd, &v, sizeof v);
	(void)r;
}

// Async-signal-safe. EAGAIN only at a count of 2^64-2: readable anyway.
inline void eventfd_kick(int fd) noexcept { eventfd_rw(fd, true); }

// Set (readable) or clear. EAGAIN: already in that state.
inline void eventfd_level(int fd, bool on) noexcept { eventfd_rw(fd, on); }

} // namespace kevent::detail
