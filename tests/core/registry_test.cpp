// SPDX-License-Identifier: MIT
// registry: the open-addressing index of registrations (src/core/registry.hpp)
// against std::unordered_map, through growth, backward-shift deletion,
// wrap-around probe runs and a drain by first() as kevent_close does.
#include "core/knode_pool.hpp"
#include "core/registry.hpp"

#include <gtest/gtest.h>

#include <random>
#include <unordered_map>
#include <vector>

using kevent::detail::in_registry;
using kevent::detail::key_of;
using kevent::detail::knode;
using kevent::detail::knode_pool;
using kevent::detail::registry;

namespace {

struct fixture {
	knode_pool pool;
	registry reg;
	std::unordered_map<uint64_t, knode *> model; // id -> node (one type)

	knode *add(uint64_t id, uint32_t type = KEVENT_TIMER) {
		knode *n = pool.make();
		n->uk.id.raw_u64 = id;
		n->uk.type = type;
		reg.insert(n);
		return n;
	}
};

} // namespace

TEST(Registry, FindsWhatWasInsertedAndNothingElse) {
	fixture f;
	EXPECT_EQ(nullptr, f.reg.find({1, KEVENT_TIMER})) << "empty registry";
	knode *a = f.add(1);
	knode *b = f.add(1, KEVENT_SOCKET); // same id, other type: another key
	EXPECT_EQ(a, f.reg.find({1, KEVENT_TIMER}));
	EXPECT_EQ(b, f.reg.find({1, KEVENT_SOCKET}));
	EXPECT_EQ(nullptr, f.reg.find({2, KEVENT_TIMER}));
	EXPECT_TRUE(a->has(in_registry));
	f.reg.erase(a);
	EXPECT_FALSE(a->has(in_registry));
	EXPECT_EQ(nullptr, f.reg.find({1, KEVENT_TIMER}));
	EXPECT_EQ(b, f.reg.find({1, KEVENT_SOCKET}));
	f.reg.erase(a); // not in it: nothing happens
	EXPECT_EQ(1u, f.reg.size());
}

// Random inserts and erases over a small id space (long probe runs, many
// shifts, wrap-around) checked against the model after every step.
TEST(Registry, MatchesAModelUnderRandomInsertAndErase) {
	fixture f;
	std::mt19937_64 rng(42);
	for (int step = 0; step < 200000; step++) {
		uint64_t id = rng() % 5000;
		auto it = f.model.find(id);
		if (it == f.model.end()) {
			f.model[id] = f.add(id);
		} else if (rng() % 3 != 0) {
			f.reg.erase(it->second);
			f.pool.release(it->second);
			f.model.erase(it);
		}
		uint64_t probe = rng() % 5000;
		auto m = f.model.find(probe);
		ASSERT_EQ(m == f.model.end() ? nullptr : m->second,
			  f.reg.find({probe, KEVENT_TIMER}))
			<< "step " << step << " id " << probe;
		ASSERT_EQ(f.model.size(), f.reg.size());
	}
	for (auto &[id, n] : f.model)
		ASSERT_EQ(n, f.reg.find({id, KEVENT_TIMER})) << id;
}

// kevent_close takes first() and erases it until none is left: every
// registration comes out exactly once.
TEST(Registry, FirstDrainsEveryRegistrationOnce) {
	fixture f;
	for (uint64_t id = 0; id < 100000; id++)
		f.model[id] = f.add(id * 7919);
	std::vector<bool> seen(100000);
	size_t taken = 0;
	while (knode *n = f.reg.first()) {
		uint64_t id = n->uk.id.raw_u64 / 7919;
		ASSERT_FALSE(seen[id]) << "returned twice: " << id;
		seen[id] = true;
		f.reg.erase(n);
		taken++;
	}
	EXPECT_EQ(100000u, taken);
	EXPECT_EQ(0u, f.reg.size());
	for (auto &[id, n] : f.model)
		f.pool.release(n);
}
