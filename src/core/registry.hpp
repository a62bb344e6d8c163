// SPDX-License-Identifier: MIT
// registry — the queue's index of registrations, keyed by (id, type): one
// queue holds at most one kevent per key (take30; the cookie is not part of
// the key). Expected O(1) find/insert/erase.
//
// Open addressing with linear probing over {hash, knode*} slots, deleted by
// backward shift (no tombstones). std::unordered_map cost a node allocation
// per registration and three dependent cache misses per lookup (bucket,
// predecessor, node); with a million timers its find, erase and rehash took
// half of million_timers' time (docs/benchmarks.md). Here a lookup reads one
// slot line and touches the knode only when the full 64-bit hash matches,
// and growing moves slots without reading a knode.
#pragma once

#include "core/knode.hpp"

#include <cstdint>
#include <memory>

namespace kevent::detail {

struct kevent_key {
	uint64_t id;
	uint32_t type;
	bool operator==(const kevent_key &) const = default;
};

inline kevent_key key_of(const ukevent &uk) { return {uk.id.raw_u64, uk.type}; }

// splitmix64 finaliser: fd numbers and intervals are small and clustered;
// the mix spreads them over the whole word (the table indexes by its top
// bits). Never 0: 0 marks an empty slot.
inline uint64_t hash_of(const kevent_key &k) {
	uint64_t x = k.id ^ (uint64_t(k.type) << 56) ^ (uint64_t(k.type) * 0x9e3779b97f4a7c15ull);
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x | 1;
}

class registry {
public:
	knode *find(const kevent_key &k) const {
		if (size_ == 0)
			return nullptr;
		uint64_t h = hash_of(k);
		for (size_t i = home(h);; i = (i + 1) & mask_) {
			const slot &s = slots_[i];
			if (s.h == 0)
				return nullptr;
			if (s.h == h && key_of(s.n->uk) == k)
				return s.n;
		}
	}
	// Start loading the slot a later find/insert/erase of k will read: a
	// batch of keys then waits for memory in parallel, not one at a time.
	void prefetch(const kevent_key &k) const {
		if (!slots_)
			return;
		const slot *p = &slots_[home(hash_of(k))];
		__builtin_prefetch(p);
		// GCC 12 deletes the prefetch above as dead when its address
		// comes from hash_of() (seen in the object code: the function was
		// a bare ret); an empty asm that uses the address keeps it.
		asm volatile("" : : "r"(p));
	}
	// n's key is not in the registry. May throw std::bad_alloc (growing),
	// and then changes nothing.
	void insert(knode *n) {
		if ((size_ + 1) * 4 > capacity() * 3)
			grow();
		place(hash_of(key_of(n->uk)), n);
		size_++;
		n->flags |= in_registry;
	}
	void erase(knode *n);
	size_t size() const { return size_; }
	// Some registration, or null when there is none. Amortised O(1) while
	// the caller erases what it gets (closing a queue).
	knode *first() const;

private:
	struct slot {
		uint64_t h = 0; // hash_of(key); 0: empty
		knode *n = nullptr;
	};
	size_t capacity() const { return slots_ ? mask_ + 1 : 0; }
	size_t home(uint64_t h) const { return static_cast<size_t>(h >> shift_); }
	void place(uint64_t h, knode *n) {
		size_t i = home(h);
		while (slots_[i].h != 0)
			i = (i + 1) & mask_;
		slots_[i] = {h, n};
	}
	void grow();
	struct slots_free {
		void operator()(slot *p) const;
	};

	std::unique_ptr<slot[], slots_free> slots_;
	size_t mask_ = 0;
	unsigned shift_ = 64;
	size_t size_ = 0;
	mutable size_t scan_ = 0; // first(): where the last one was found
};

} // namespace kevent::detail
