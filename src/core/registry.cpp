// SPDX-License-Identifier: MIT
#include "core/registry.hpp"

#include <cstdlib>
#include <new>
#include <sys/mman.h>

namespace kevent::detail {

void registry::erase(knode *n) {
	if (!n->has(in_registry))
		return;
	size_t i = home(hash_of(key_of(n->uk)));
	while (slots_[i].n != n)
		i = (i + 1) & mask_;
	// Backward shift: pull each later member of the probe run into the hole
	// unless its home lies in (hole, its slot], where it would stop being
	// reachable from its home.
	for (size_t j = (i + 1) & mask_; slots_[j].h != 0; j = (j + 1) & mask_) {
		size_t from_home = (j - home(slots_[j].h)) & mask_;
		size_t from_hole = (j - i) & mask_;
		if (from_home >= from_hole) {
			slots_[i] = slots_[j];
			i = j;
		}
	}
	slots_[i] = slot{};
	size_--;
	n->flags &= ~in_registry;
}

knode *registry::first() const {
	if (size_ == 0)
		return nullptr;
	// A backward shift may move a member before the cursor only across the
	// end of the table, so a second pass from 0 finds it.
	for (size_t i = scan_; i < capacity(); i++)
		if (slots_[i].h != 0)
			return slots_[scan_ = i].n;
	for (size_t i = 0; i < scan_; i++)
		if (slots_[i].h != 0)
			return slots_[scan_ = i].n;
	return nullptr;
}

namespace {
constexpr size_t huge_page = size_t(2) << 20;
}

void registry::slots_free::operator()(slot *p) const { std::free(p); }

void registry::grow() {
	size_t cap = capacity() ? capacity() * 2 : 16;
	size_t bytes = cap * sizeof(slot);
	// A table of a million keys is 32 MB probed at random: one cache miss
	// per lookup is the floor, but with 4 KB pages each miss also walked the
	// page table. In 2 MB pages (THP's "madvise" mode, Debian's default)
	// the walk stays in cache.
	bool huge = bytes >= 2 * huge_page;
	void *mem = huge ? std::aligned_alloc(huge_page, bytes) : std::malloc(bytes);
	if (!mem)
		throw std::bad_alloc(); // before anything changes
	if (huge)
		madvise(mem, bytes, MADV_HUGEPAGE); // advice: failure costs only speed
	std::unique_ptr<slot[], slots_free> fresh(new (mem) slot[cap]);
	size_t old_cap = capacity();
	std::unique_ptr<slot[], slots_free> old = std::move(slots_);
	slots_ = std::move(fresh);
	mask_ = cap - 1;
	shift_ = 64 - static_cast<unsigned>(__builtin_ctzll(cap));
	scan_ = 0;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].h != 0)
			place(old[i].h, old[i].n);
}

} // namespace kevent::detail
