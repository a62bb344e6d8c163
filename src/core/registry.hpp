// registry — the queue's index of registrations, keyed by (id, type): one
// queue holds at most one kevent per key (take30; the cookie is not part of
// the key). Expected O(1) find/insert/erase.
#pragma once

#include "core/knode.hpp"

#include <cstdint>
#include <unordered_map>

namespace kevent::detail {

struct kevent_key {
	uint64_t id;
	uint32_t type;
	bool operator==(const kevent_key &) const = default;
};

inline kevent_key key_of(const ukevent &uk) { return {uk.id.raw_u64, uk.type}; }

struct kevent_key_hash {
	size_t operator()(const kevent_key &k) const {
		// splitmix64 finaliser: fd numbers and intervals are small and
		// clustered; the mix spreads them over the buckets.
		uint64_t x = k.id ^ (uint64_t(k.type) << 56) ^
			     (uint64_t(k.type) * 0x9e3779b97f4a7c15ull);
		x ^= x >> 30;
		x *= 0xbf58476d1ce4e5b9ull;
		x ^= x >> 27;
		x *= 0x94d049bb133111ebull;
		x ^= x >> 31;
		return static_cast<size_t>(x);
	}
};

class registry {
public:
	knode *find(const kevent_key &k) const {
		auto it = map_.find(k);
		return it == map_.end() ? nullptr : it->second;
	}
	void insert(knode *n) {
		map_.emplace(key_of(n->uk), n);
		n->state |= in_registry;
	}
	void erase(knode *n) {
		if (!n->has(in_registry))
			return;
		map_.erase(key_of(n->uk));
		n->state &= ~in_registry;
	}
	size_t size() const { return map_.size(); }
	// Some registration, or null when there is none.
	knode *first() const { return map_.empty() ? nullptr : map_.begin()->second; }
	template <class F> void for_each(F &&f) const {
		for (auto &[k, n] : map_)
			f(n);
	}

private:
	std::unordered_map<kevent_key, knode *, kevent_key_hash> map_;
};

} // namespace kevent::detail
