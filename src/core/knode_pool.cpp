// SPDX-License-Identifier: MIT
#include "core/knode_pool.hpp"

#include <new>

#if defined(__has_feature)
#if __has_feature(address_sanitizer) && !defined(__SANITIZE_ADDRESS__)
#define __SANITIZE_ADDRESS__ 1
#endif
#endif

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define KNODE_POISON(p) ASAN_POISON_MEMORY_REGION((p), sizeof(cell))
#define KNODE_UNPOISON(p) ASAN_UNPOISON_MEMORY_REGION((p), sizeof(cell))
#else
#define KNODE_POISON(p) ((void)(p))
#define KNODE_UNPOISON(p) ((void)(p))
#endif

namespace kevent::detail {

namespace {
constexpr size_t largest_slab = 1024;
}

knode_pool::~knode_pool() {
#if defined(__SANITIZE_ADDRESS__)
	// Slabs go back to the allocator whole and unpoisoned.
	for (auto &s : slabs_)
		ASAN_UNPOISON_MEMORY_REGION(s.cells.get(), s.count * sizeof(cell));
#endif
}

void knode_pool::add_slab() {
	size_t count = next_slab_;
	slabs_.reserve(slabs_.size() + 1); // throws before the slab exists
	auto cells = std::make_unique<cell[]>(count);
	for (size_t i = count; i-- > 0;) {
		cells[i].next = free_;
		free_ = &cells[i];
		KNODE_POISON(&cells[i]);
	}
	slabs_.push_back({std::move(cells), count});
	if (next_slab_ < largest_slab)
		next_slab_ *= 2;
}

knode *knode_pool::make() {
	if (!free_)
		add_slab();
	cell *c = free_;
	KNODE_UNPOISON(c);
	free_ = c->next;
	live_++;
	return new (c->bytes) knode;
}

void knode_pool::release(knode *n) {
	n->~knode();
	cell *c = reinterpret_cast<cell *>(n);
	c->next = free_;
	free_ = c;
	KNODE_POISON(c);
	live_--;
}

} // namespace kevent::detail
