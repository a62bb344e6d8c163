// SPDX-License-Identifier: MIT
// knode_pool: the queue's slab of knodes (src/core/knode_pool.hpp).
#include "core/knode_pool.hpp"

#include <gtest/gtest.h>

#include <vector>

using kevent::detail::knode;
using kevent::detail::knode_pool;

TEST(KnodePool, ReusesReleasedNodesAndCountsLive) {
	knode_pool pool;
	std::vector<knode *> v;
	for (int i = 0; i < 1000; i++)
		v.push_back(pool.make());
	EXPECT_EQ(1000u, pool.live());
	knode *last = v.back();
	last->flags = 0xff;
	pool.release(last);
	v.pop_back();
	knode *again = pool.make();
	EXPECT_EQ(last, again) << "the most recently released knode comes back first";
	EXPECT_EQ(0u, again->flags) << "and default-constructed";
	v.push_back(again);
	for (knode *n : v)
		pool.release(n);
	EXPECT_EQ(0u, pool.live());
}
