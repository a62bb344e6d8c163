// SPDX-License-Identifier: MIT
// Limits (issue 8, part 4): hostile sizes. num near UINT_MAX (Morton's
// take6 DoS was an unchecked sum of such a count), rings of every small
// size, a shared ring whose byte size would overflow, timers of 0 ns and
// of years. Each gives EINVAL (or the documented result), never a crash,
// an overflow or a hang.
#include "kevent_test.hpp"

#include <climits>

namespace {

using namespace kevent_test;

class HostileArgs : public QueueTest {};

TEST_P(HostileArgs, NumNearUintMax) {
	ukevent uk = make(KEVENT_UNOTIFY, 1, 1, 0, 9);
	for (unsigned num : {KEVENT_CTL_MAX + 1, UINT_MAX / 40 + 1, UINT_MAX - 1, UINT_MAX}) {
		for (unsigned cmd = KEVENT_CTL_ADD; cmd <= KEVENT_CTL_READY; cmd++) {
			errno = 0;
			EXPECT_EQ(-1, kevent_ctl(kfd, cmd, num, &uk)) << cmd << " " << num;
			EXPECT_EQ(EINVAL, errno);
		}
	}
	EXPECT_EQ(0u, queue_stats(kfd).registered);
	// max_nr of any size: only what is ready is written.
	ASSERT_EQ(0, add(uk));
	ASSERT_EQ(1, kevent_ctl(kfd, KEVENT_CTL_READY, 1, &uk));
	ukevent buf[1];
	timespec zero{};
	EXPECT_EQ(1, kevent_get_events(kfd, 0, UINT_MAX, &zero, buf, 0));
	EXPECT_EQ(9u, cookie_of(buf[0]));
	EXPECT_EQ(0, kevent_get_events(kfd, 0, UINT_MAX, &zero, buf, 0));
	errno = 0;
	EXPECT_EQ(-1, kevent_get_events(kfd, UINT_MAX, UINT_MAX - 1, &zero, buf, 0));
	EXPECT_EQ(EINVAL, errno);
}

// Every size 0..64: 0 and 1 are refused, 2..64 hold exactly `size` events.
TEST_P(HostileArgs, RingsOfEverySmallSize) {
	for (unsigned size = 0; size <= 64; size++) {
		std::vector<unsigned char> mem(sizeof(kevent_ring) + (size + 1) * sizeof(ukevent));
		auto *ring = reinterpret_cast<kevent_ring *>(mem.data());
		int q = kevent_init(ring, size, GetParam().flags);
		if (size < 2) {
			EXPECT_EQ(-1, q) << size;
			EXPECT_EQ(EINVAL, errno);
			continue;
		}
		ASSERT_GE(q, 0) << size << ": " << std::strerror(errno);
		std::vector<ukevent> users;
		for (unsigned i = 0; i <= size; i++)
			users.push_back(make(KEVENT_UNOTIFY, i, 1, 0, i));
		ASSERT_EQ(0, kevent_ctl(q, KEVENT_CTL_ADD, size + 1, users.data()));
		ASSERT_EQ(int(size + 1), kevent_ctl(q, KEVENT_CTL_READY, size + 1, users.data()));
		errno = 0;
		EXPECT_EQ(-1, kevent_wait(q, size + 1, 0, nullptr, 0)) << size;
		EXPECT_EQ(EINVAL, errno);
		timespec zero{};
		EXPECT_EQ(int(size), kevent_wait(q, size, 0, &zero, 0)) << size;
		for (unsigned i = 0; i < size; i++)
			EXPECT_EQ(i, cookie_of(ring->event[i])) << size;
		EXPECT_EQ(-1, kevent_commit(q, size, 0)); // past the end
		EXPECT_EQ(EINVAL, errno);
		// Full: release all but one, then the rest (a wrap).
		EXPECT_EQ(int(size - 1), kevent_commit(q, size - 1, 0)) << size;
		EXPECT_EQ(1, kevent_commit(q, 0, 0)) << size;
		EXPECT_EQ(1, kevent_wait(q, size, 0, &zero, 0)) << size; // the last one
		EXPECT_EQ(size, cookie_of(ring->event[0]));
		EXPECT_EQ(0, kevent_close(q));
	}
}

// bytes = header + size * 40 does not fit 32 bits for such a size: it must
// not wrap into a small mapping the library would then write past.
TEST_P(HostileArgs, SharedRingSizeOverflow) {
	for (unsigned size : {UINT_MAX, UINT_MAX / 40 + 1, 1u << 30}) {
		int q = kevent_init(nullptr, size, GetParam().flags | KEVENT_INIT_SHARED_RING);
		if (q < 0) {
			EXPECT_TRUE(errno == EINVAL || errno == ENOMEM) << std::strerror(errno);
			continue;
		}
		// Accepted: it really holds `size` slots (pages come on use).
		ukevent uk = make(KEVENT_UNOTIFY, 1, 1, KEVENT_REQ_READY, 5);
		EXPECT_EQ(0, kevent_ctl(q, KEVENT_CTL_ADD, 1, &uk) < 0);
		EXPECT_EQ(0, kevent_close(q));
	}
}

TEST_P(HostileArgs, TimersOfZeroAndOfYears) {
	// 0 ns: periodic refused, one-shot ready at ADD.
	ukevent periodic = make(KEVENT_TIMER, 0, KEVENT_TIMER_FIRED, 0, 1);
	ASSERT_EQ(1, add(periodic));
	EXPECT_EQ(uint32_t(-EINVAL), periodic.ret_data[1]);
	ukevent once = make(KEVENT_TIMER, 0, KEVENT_TIMER_FIRED, KEVENT_REQ_ONESHOT, 2);
	ASSERT_EQ(1, add(once));
	EXPECT_EQ(KEVENT_RET_DONE, once.ret_flags);
	EXPECT_EQ(1u, once.ret_data[0]);
	// 999999999 ns is the largest; 1e9 is refused.
	kevent_id bad{};
	bad.raw[1] = 1000000000;
	ukevent nsec = make(KEVENT_TIMER, bad.raw_u64, KEVENT_TIMER_FIRED, 0, 3);
	ASSERT_EQ(1, add(nsec));
	EXPECT_EQ(uint32_t(-EINVAL), nsec.ret_data[1]);
	// 136 years, on every clock, and an absolute expiry in 2106: they
	// register, do not fire, and go.
	kevent_id years{};
	years.raw[0] = UINT32_MAX;
	years.raw[1] = 999999999;
	for (unsigned clock : {0u, KEVENT_TIMER_REALTIME, KEVENT_TIMER_BOOTTIME}) {
		ukevent t = make(KEVENT_TIMER, years.raw_u64, KEVENT_TIMER_FIRED | clock, 0, 4);
		ASSERT_EQ(0, add(t)) << clock << ": " << -int(t.ret_data[1]);
		ukevent abs = make(KEVENT_TIMER, 7,
				   KEVENT_TIMER_FIRED | KEVENT_TIMER_ABSTIME | clock,
				   KEVENT_REQ_ONESHOT, 5);
		abs.ret_data[0] = UINT32_MAX;
		abs.ret_data[1] = 999999999;
		ASSERT_EQ(0, add(abs)) << clock;
		EXPECT_TRUE(get(kfd, 0, 4, 20).empty());
		ukevent rm[] = {t, abs};
		EXPECT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 2, rm));
		EXPECT_EQ(KEVENT_RET_DONE, rm[0].ret_flags);
		EXPECT_EQ(KEVENT_RET_DONE, rm[1].ret_flags);
	}
	// An absolute expiry in the past (the epoch) is due at once.
	ukevent past = make(KEVENT_TIMER, 0,
			    KEVENT_TIMER_FIRED | KEVENT_TIMER_ABSTIME | KEVENT_TIMER_REALTIME,
			    KEVENT_REQ_ONESHOT, 6);
	ASSERT_EQ(1, add(past));
	EXPECT_EQ(KEVENT_RET_DONE, past.ret_flags);
	EXPECT_EQ(0u, queue_stats(kfd).registered);
}

KEVENT_INSTANTIATE_BACKENDS(HostileArgs);

} // namespace
