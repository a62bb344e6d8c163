// SPDX-License-Identifier: MIT
#include "ring/ring.hpp"

#include <atomic>
#include <cerrno>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

namespace kevent::detail {

ring::ring(kevent_ring *mem, unsigned size) : mem_(mem), size_(size) { publish(); }

int ring::create_shared(unsigned size, std::unique_ptr<ring> &out) {
	sys::unique_fd fd(memfd_create("kevent-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING));
	if (!fd)
		return -errno;
	size_t len = bytes(size);
	// ftruncate reserves no memory: pages come into being when the
	// library first writes to them (take8's "a page only when needed").
	if (ftruncate(fd.get(), static_cast<off_t>(len)) < 0)
		return errno == ENOSPC || errno == EFBIG ? -ENOMEM : -errno; // as documented
	void *p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
	if (p == MAP_FAILED)
		return -errno;
	// From here on nobody can map it writable, write(2) to it, or resize
	// it: consumers in other processes see it read-only. Our own mapping
	// made before the seal stays writable.
	if (fcntl(fd.get(), F_ADD_SEALS,
		  F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) < 0) {
		int e = errno;
		munmap(p, len);
		return -e;
	}
	out.reset(new ring(static_cast<kevent_ring *>(p), size));
	out->memfd_ = std::move(fd);
	out->mapped_ = len;
	return 0;
}

ring::~ring() {
	if (mapped_)
		munmap(mem_, mapped_);
}

unsigned ring::room() const {
	if (full_)
		return 0;
	return kidx_ >= uidx_ ? size_ - (kidx_ - uidx_) : uidx_ - kidx_;
}

bool ring::push(const ukevent &e) {
	unsigned n;
	ukevent *slot = free_span(n);
	if (!n)
		return false;
	*slot = e;
	produced(1);
	return true;
}

ukevent *ring::free_span(unsigned &n) {
	if (full_) {
		n = 0;
		return nullptr;
	}
	n = kidx_ >= uidx_ ? size_ - kidx_ : uidx_ - kidx_;
	return &mem_->event[kidx_];
}

void ring::produced(unsigned n) {
	if (!n)
		return;
	kidx_ = (kidx_ + n) % size_;
	full_ = kidx_ == uidx_;
	publish();
}

int ring::commit(unsigned new_uidx, unsigned over) {
	if (new_uidx >= size_)
		return -EINVAL;
	if (over != over_ && over + 1 != over_)
		return -EOVERFLOW; // a view older than the last wrap but one
	if (new_uidx == uidx_)
		return 0;
	unsigned used = full_ ? size_ : (kidx_ + size_ - uidx_) % size_;
	bool wraps = new_uidx < uidx_;
	unsigned release = wraps ? size_ - (uidx_ - new_uidx) : new_uidx - uidx_;
	if (release > used)
		return -EINVAL; // would release slots the library has not filled
	uidx_ = new_uidx;
	full_ = false;
	if (wraps)
		over_++;
	publish();
	return static_cast<int>(release);
}

void ring::publish() {
	std::atomic_ref<uint32_t>(mem_->ring_over).store(over_, std::memory_order_release);
	std::atomic_ref<uint32_t>(mem_->ring_kidx).store(kidx_, std::memory_order_release);
}

} // namespace kevent::detail
