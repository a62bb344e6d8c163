// SPDX-License-Identifier: MIT
// ring — the kevent_wait/kevent_commit ring (kevent_wait(3), docs/semantics.md
// "The ring"): a ring of ukevents
// in the caller's memory (or in a sealed memfd that other processes may map
// read-only), filled by the library and released by kevent_commit.
//
// The library owns the producer index kidx, the consumer index uidx, a full
// flag (so all `size` slots are usable) and the wrap count `over`, which only
// a commit that wraps increments. It publishes kidx in ring_kidx and the wrap
// count in ring_over with release stores, after the slots they cover are
// written; readers load them with acquire.
//
// Used under the queue lock only.
#pragma once

#include "sys/unique_fd.hpp"

#include <kevent/kevent.h>

#include <cstddef>
#include <memory>

namespace kevent::detail {

class ring {
public:
	// A ring in the caller's memory.
	ring(kevent_ring *mem, unsigned size);
	// A ring in a new sealed memfd. 0 or -errno.
	static int create_shared(unsigned size, std::unique_ptr<ring> &out);
	~ring();
	ring(const ring &) = delete;
	ring &operator=(const ring &) = delete;

	unsigned size() const { return size_; }
	unsigned uidx() const { return uidx_; }
	// Free slots.
	unsigned room() const;
	// Copy one event in; false when the ring is full.
	bool push(const ukevent &e);
	// The free slots that follow kidx without wrapping; then produced(n)
	// publishes the first n of them.
	ukevent *free_span(unsigned &n);
	void produced(unsigned n);
	// kevent_commit: slots released, or -errno.
	int commit(unsigned new_uidx, unsigned over);
	// The memfd of a shared ring (-1 otherwise).
	int shared_fd() const { return memfd_.get(); }

	// Bytes a ring of `size` entries takes (header + entries).
	static size_t bytes(unsigned size) {
		return offsetof(kevent_ring, event) + size_t(size) * sizeof(ukevent);
	}

private:
	void publish();

	kevent_ring *mem_;
	unsigned size_;
	unsigned kidx_ = 0, uidx_ = 0, over_ = 0;
	bool full_ = false;
	sys::unique_fd memfd_;
	size_t mapped_ = 0; // bytes mmap()ed for a shared ring
};

} // namespace kevent::detail
