// SPDX-License-Identifier: MIT
// timer_heap: the 4-ary deadline heap (src/core/timer_heap.hpp) against a
// sorted model through inserts, cancels and expiry changes.
#include "core/knode_pool.hpp"
#include "core/timer_heap.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

using kevent::detail::knode;
using kevent::detail::knode_pool;
using kevent::detail::timer_heap;

TEST(TimerHeap, PopsInExpiryOrderThroughCancelsAndUpdates) {
	knode_pool pool;
	timer_heap h;
	std::multimap<int64_t, knode *> model;
	std::vector<knode *> live;
	std::mt19937_64 rng(7);
	auto remove_from_model = [&](knode *n) {
		for (auto it = model.lower_bound(n->tm.expiry); it != model.end(); ++it)
			if (it->second == n) {
				model.erase(it);
				return;
			}
		FAIL() << "node not in the model";
	};
	for (int step = 0; step < 50000; step++) {
		switch (rng() % 4) {
		case 0:
		case 1: {
			knode *n = pool.make();
			n->tm = {};
			n->tm.expiry = int64_t(rng() % 100000);
			h.insert(n);
			model.emplace(n->tm.expiry, n);
			live.push_back(n);
			break;
		}
		case 2:
			if (!live.empty()) { // cancel one at random
				size_t i = rng() % live.size();
				knode *n = live[i];
				h.erase(n);
				EXPECT_EQ(UINT32_MAX, n->tm.heap_pos);
				h.erase(n); // twice: nothing happens
				remove_from_model(n);
				live[i] = live.back();
				live.pop_back();
				pool.release(n);
			}
			break;
		default:
			if (!live.empty()) { // move one (a periodic timer's next period)
				knode *n = live[rng() % live.size()];
				remove_from_model(n);
				n->tm.expiry = int64_t(rng() % 100000);
				h.update(n);
				model.emplace(n->tm.expiry, n);
			}
		}
		ASSERT_EQ(model.size(), h.size());
		if (!model.empty()) {
			ASSERT_EQ(model.begin()->first, h.top_expiry()) << "step " << step;
		}
	}
	int64_t last = INT64_MIN;
	while (!h.empty()) {
		knode *n = h.top();
		ASSERT_EQ(n->tm.expiry, h.top_expiry());
		ASSERT_GE(n->tm.expiry, last);
		last = n->tm.expiry;
		h.erase(n);
		pool.release(n);
	}
}
