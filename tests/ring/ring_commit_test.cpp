// SPDX-License-Identifier: MIT
// ring_commit_test.cpp — kevent_commit(3): argument checks and the wrap
// count (EOVERFLOW), commits across kidx, 10,000 laps of a small ring with
// random wait and commit sizes; and kevent_get_events(3) on a queue with a
// ring, which copies into it and flags COPY_FAILED when it is full.
#include "ring_fixture.hpp"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <deque>
#include <random>

namespace {

using namespace kevent_ring_test;

// ---- kevent_commit ----------------------------------------------------------

TEST_P(RingTest, CommitArgumentRules) {
	EXPECT_ERRNO(EINVAL, kevent_commit(kfd, 0, 0)); // no ring
	EXPECT_ERRNO(EBADF, kevent_commit(-1, 0, 0));
	use_ring(4);
	EXPECT_ERRNO(EINVAL, kevent_commit(kfd, 4, 0)); // new_uidx >= size
	EXPECT_ERRNO(EINVAL, kevent_commit(kfd, UINT_MAX, 0));
	EXPECT_ERRNO(EOVERFLOW, kevent_commit(kfd, 0, 1)); // not over, not over - 1
	EXPECT_ERRNO(EOVERFLOW, kevent_commit(kfd, 0, 2));
	EXPECT_EQ(0, kevent_commit(kfd, 0, 0));         // equal -> 0
	EXPECT_ERRNO(EINVAL, kevent_commit(kfd, 1, 0)); // across kidx (empty ring)
	EXPECT_ERRNO(EINVAL, kevent_commit(kfd, 3, 0));

	add_users(4);
	ready(1, 0);
	ready(2, 1);
	ASSERT_EQ(2, rwait(4, 0, 0));                   // kidx 2
	EXPECT_ERRNO(EINVAL, kevent_commit(kfd, 3, 0)); // across kidx
	EXPECT_EQ(1, kevent_commit(kfd, 1, 0));
	EXPECT_EQ(0, kevent_commit(kfd, 1, 0));
	EXPECT_EQ(1, kevent_commit(kfd, 2, 0));         // empty again, uidx 2
	EXPECT_ERRNO(EINVAL, kevent_commit(kfd, 1, 0)); // a wrap across kidx
	EXPECT_ERRNO(EINVAL, kevent_commit(kfd, 0, 0));
	EXPECT_EQ(0u, over());

	// uidx 2: fill the ring (slots 2,3,0,1), then release 1 (uidx 3).
	for (unsigned i = 0; i < 4; i++)
		ready(i + 1, 2 + i);
	ASSERT_EQ(4, rwait(4, 2, 0));
	EXPECT_EQ(2u, kidx());
	EXPECT_EQ(1, kevent_commit(kfd, 3, 0));
	// uidx 3, kidx 2: slots 3, 0, 1 used.
	EXPECT_EQ(2, kevent_commit(kfd, 1, 0)); // wraps: slots 3, 0
	EXPECT_EQ(1u, over());
	// After one wrap: over 1 (current) and 0 (one less) are accepted, 2 is not.
	EXPECT_ERRNO(EOVERFLOW, kevent_commit(kfd, 1, 2));
	EXPECT_ERRNO(EOVERFLOW, kevent_commit(kfd, 2, 3)); // EOVERFLOW before the range check
	EXPECT_EQ(0, kevent_commit(kfd, 1, 0));
	EXPECT_EQ(0, kevent_commit(kfd, 1, 1));
	EXPECT_EQ(1, kevent_commit(kfd, 2, 0));         // over - 1: accepted
	EXPECT_ERRNO(EINVAL, kevent_commit(kfd, 3, 1)); // across kidx

	// Two wraps later, 0 is too old.
	for (unsigned lap = 0; lap < 2; lap++) {
		for (unsigned i = 0; i < 4; i++)
			ready(i + 1, 10 + i);
		ASSERT_EQ(4, rwait(4, 2, 0));
		ASSERT_EQ(3, kevent_commit(kfd, 1, 1 + lap)); // wraps
		ASSERT_EQ(1, kevent_commit(kfd, 2, 2 + lap));
	}
	EXPECT_EQ(3u, over());
	EXPECT_ERRNO(EOVERFLOW, kevent_commit(kfd, 2, 0));
	EXPECT_ERRNO(EOVERFLOW, kevent_commit(kfd, 2, 1));
	EXPECT_EQ(0, kevent_commit(kfd, 2, 2));
	EXPECT_EQ(0, kevent_commit(kfd, 2, 3));
}

TEST_P(RingTest, CommitAcrossKidxInAWrappedRing) {
	use_ring(4);
	add_users(4);
	for (unsigned i = 0; i < 4; i++)
		ready(i + 1, i);
	ASSERT_EQ(4, rwait(4, 0, 0));                   // full: kidx 0 == uidx 0
	ASSERT_EQ(3, kevent_commit(kfd, 3, 0));         // uidx 3, one used (slot 3)
	EXPECT_ERRNO(EINVAL, kevent_commit(kfd, 1, 0)); // would release slots 3,0
	EXPECT_ERRNO(EINVAL, kevent_commit(kfd, 2, 0));
	EXPECT_EQ(0u, over());
	EXPECT_EQ(1, kevent_commit(kfd, 0, 0));
	EXPECT_EQ(1u, over());
}

// 10,000 laps of a 7-entry ring: random wait sizes, random commit sizes
// (whole rings included: two commits), now and then with the wrap count one
// behind (allowed); every slot holds the position it must.
TEST_P(RingTest, TenThousandLapsOfASevenEntryRing) {
	constexpr unsigned n = 7;
	constexpr uint64_t total = uint64_t(n) * 10000;
	constexpr unsigned users = 16;
	use_ring(n);
	add_users(users);
	std::deque<uint64_t> idle;
	for (unsigned i = 1; i <= users; i++)
		idle.push_back(i);
	std::mt19937 rng(42);
	uint64_t readied = 0, produced = 0, released = 0;
	unsigned whole = 0, behind = 0, waits = 0;
	timespec zero{};
	while (released < total) {
		while (!idle.empty() && readied < total) {
			ASSERT_NO_FATAL_FAILURE(ready(idle.front(), uint32_t(readied++)));
			idle.pop_front();
		}
		uint64_t used = produced - released;
		if (used < n && produced < total) {
			unsigned num = 1 + unsigned(rng() % n);
			int r = kevent_wait(kfd, num, unsigned(released % n), &zero, 0);
			ASSERT_GE(r, 0) << std::strerror(errno);
			uint64_t expect = std::min<uint64_t>({num, n - used, readied - produced});
			ASSERT_EQ(expect, uint64_t(r));
			for (uint64_t p = produced; p < produced + uint64_t(r); p++) {
				ASSERT_EQ(p, slot(p).ret_data[0]) << "slot " << p % n;
				ASSERT_EQ(slot(p).id.raw_u64, cookie_of(slot(p)));
				idle.push_back(slot(p).id.raw_u64);
			}
			produced += uint64_t(r);
			waits++;
			ASSERT_EQ(produced % n, kidx());
		}
		used = produced - released;
		if (used == 0)
			continue;
		uint64_t c = rng() % 4 == 0 ? used : 1 + rng() % used;
		if (c == n) {
			whole++;
			ASSERT_NO_FATAL_FAILURE(release(released, released + c));
		} else {
			unsigned o = unsigned(released / n);
			if (o > 0 && rng() % 8 == 0) {
				o--; // a view one wrap behind is still accepted
				behind++;
			}
			ASSERT_EQ(int(c), kevent_commit(kfd, unsigned((released + c) % n), o))
				<< std::strerror(errno);
		}
		released += c;
		ASSERT_EQ(released / n, over());
	}
	EXPECT_EQ(10000u, over());
	EXPECT_GT(whole, 0u);
	EXPECT_GT(behind, 0u);
	std::printf("laps %llu, waits %u, whole-ring releases %u, commits with over-1 %u\n",
		    (unsigned long long)(released / n), waits, whole, behind);
}

// ---- kevent_get_events on a ring queue --------------------------------------

TEST_P(RingTest, GetEventsCopiesIntoTheRingAndFlagsCopyFailedWhenFull) {
	use_ring(4);
	add_users(6);
	for (unsigned i = 0; i < 6; i++)
		ready(i + 1, i);
	ukevent buf[8];
	ASSERT_EQ(6, kevent_get_events(kfd, 1, 8, nullptr, buf, 0));
	for (unsigned i = 0; i < 6; i++) {
		EXPECT_EQ(i, buf[i].ret_data[0]);
		bool failed = buf[i].ret_flags & KEVENT_RET_COPY_FAILED;
		EXPECT_EQ(i >= 4, failed) << i;
		if (i < 4) {
			EXPECT_EQ(0, std::memcmp(&buf[i], &slot(i), sizeof(ukevent))) << i;
		}
	}
	EXPECT_EQ(0u, kidx()); // full
	// Release the first two: the next get_events copies into slots 0, 1.
	ASSERT_EQ(2, kevent_commit(kfd, 2, 0));
	ready(1, 6);
	ready(2, 7);
	ready(3, 8);
	ASSERT_EQ(3, kevent_get_events(kfd, 1, 8, nullptr, buf, 0));
	EXPECT_EQ(0u, buf[0].ret_flags);
	EXPECT_EQ(0u, buf[1].ret_flags);
	EXPECT_EQ(uint32_t(KEVENT_RET_COPY_FAILED), buf[2].ret_flags);
	EXPECT_EQ(2u, kidx());
	EXPECT_EQ(6u, slot(0).ret_data[0]);
	EXPECT_EQ(7u, slot(1).ret_data[0]);
	EXPECT_EQ(2u, slot(2).ret_data[0]); // unreleased, untouched
}

KEVENT_INSTANTIATE_BACKENDS(RingTest);

} // namespace
