// eventfd_flag — the two eventfd idioms both backends use for their own
// signalling: a wake-up that is never read (each write is a new edge for an
// edge-triggered epoll item or a multishot poll), and a level flag that is
// readable while set.
#pragma once

#include <cstdint>
#include <unistd.h>

namespace kevent::detail {

// Async-signal-safe. EAGAIN only at a count of 2^64-2: readable anyway.
inline void eventfd_kick(int fd) noexcept {
	uint64_t one = 1;
	ssize_t r = ::write(fd, &one, sizeof one);
	(void)r;
}

// Set (readable) or clear. EAGAIN: already in that state.
inline void eventfd_level(int fd, bool on) noexcept {
	uint64_t v = 1;
	ssize_t r = on ? ::write(fd, &v, sizeof v) : ::read(fd, &v, sizeof v);
	(void)r;
}

} // namespace kevent::detail
