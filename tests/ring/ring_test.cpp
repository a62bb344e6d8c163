// SPDX-License-Identifier: MIT
// ring_test.cpp — SPEC §6, the ring: kevent_init's ring rules, kevent_wait,
// kevent_commit, kevent_get_events copying into the ring (COPY_FAILED), the
// shared ring (kevent_ring_fd: read-only elsewhere, pages on demand),
// cancellation of a thread blocked in kevent_wait, and the C++ ring view
// (kevent::ring_view, kevent::ring_consumers). The rules tests use the C ABI
// and do their own index arithmetic; the view tests use kevent.hpp.
//
// Events are KEVENT_UNOTIFY kevents made ready with a sequence number in
// ret_data[0] (the READY payload), so that every slot of the ring can be
// checked against the position it must hold. A user event is made ready
// again only after it has been seen in the ring (so it is off the ready list
// and no READY coalesces).
#include "kevent_test.hpp"

#include <kevent/kevent.hpp>

#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using kevent_test::cookie_of;
using kevent_test::make;
using kevent_test::ms;
using kevent_test::queue_stats;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

long long ms_since(steady_clock::time_point t0) {
	return std::chrono::duration_cast<milliseconds>(steady_clock::now() - t0).count();
}

// A ring of `size` entries in the caller's memory, 8-aligned, filled with
// 0xff so that kevent_init must be seen to zero the header.
class ring_mem {
public:
	explicit ring_mem(unsigned size)
	    : words_((sizeof(kevent_ring) + size_t(size) * sizeof(ukevent) + 7) / 8, ~0ull) {}
	kevent_ring *get() { return reinterpret_cast<kevent_ring *>(words_.data()); }

private:
	std::vector<uint64_t> words_;
};

size_t ring_bytes(unsigned size) { return sizeof(kevent_ring) + size_t(size) * sizeof(ukevent); }

unsigned load(const uint32_t &v) { return __atomic_load_n(&v, __ATOMIC_ACQUIRE); }

class RingTest : public kevent_test::QueueTest {
protected:
	std::unique_ptr<ring_mem> mem;
	kevent_ring *ring = nullptr; // caller memory, or our read-only mapping
	unsigned size = 0;
	void *shared_map = nullptr;
	size_t shared_len = 0;

	void TearDown() override {
		if (shared_map)
			munmap(shared_map, shared_len);
		QueueTest::TearDown();
	}

	// Replaces the fixture's queue by one with a ring of n entries in the
	// caller's memory.
	void use_ring(unsigned n) {
		ASSERT_EQ(0, kevent_close(kfd));
		kfd = -1;
		mem = std::make_unique<ring_mem>(n);
		ring = mem->get();
		size = n;
		kfd = kevent_init(ring, n, GetParam().flags);
		ASSERT_GE(kfd, 0) << std::strerror(errno);
	}

	// ... by one with a shared ring of n entries; `ring` is then a read-only
	// mapping of kevent_ring_fd's descriptor.
	void use_shared_ring(unsigned n) {
		ASSERT_EQ(0, kevent_close(kfd));
		kfd = -1;
		kfd = kevent_init(nullptr, n, GetParam().flags | KEVENT_INIT_SHARED_RING);
		ASSERT_GE(kfd, 0) << std::strerror(errno);
		size = n;
		int fd = kevent_ring_fd(kfd);
		ASSERT_GE(fd, 0) << std::strerror(errno);
		shared_len = ring_bytes(n);
		void *p = mmap(nullptr, shared_len, PROT_READ, MAP_SHARED, fd, 0);
		close(fd);
		ASSERT_NE(MAP_FAILED, p) << std::strerror(errno);
		shared_map = p;
		ring = static_cast<kevent_ring *>(p);
	}

	// User events with ids first..first+n-1, cookie = id.
	void add_users(unsigned n, unsigned req_flags = 0, uint64_t first = 1) {
		std::vector<ukevent> v;
		for (unsigned i = 0; i < n; i++)
			v.push_back(make(KEVENT_UNOTIFY, first + i, 0, req_flags, first + i));
		ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, n, v.data())) << std::strerror(errno);
	}

	// READY user event `id` with payload seq in ret_data[0].
	void ready(uint64_t id, uint32_t seq) {
		ukevent uk = make(KEVENT_UNOTIFY, id, 0);
		uk.ret_data[0] = seq;
		ASSERT_EQ(1, kevent_ctl(kfd, KEVENT_CTL_READY, 1, &uk)) << std::strerror(errno);
	}

	// kevent_wait with a millisecond timeout (-1: none).
	int rwait(unsigned num, unsigned old_uidx, long timeout_ms) {
		timespec t = ms(timeout_ms < 0 ? 0 : timeout_ms);
		return kevent_wait(kfd, num, old_uidx, timeout_ms < 0 ? nullptr : &t, 0);
	}

	unsigned kidx() const { return load(ring->ring_kidx); }
	unsigned over() const { return load(ring->ring_over); }
	const ukevent &slot(uint64_t pos) const { return ring->event[pos % size]; }

	// Releases [from, to) with the C calls, checking each commit's count:
	// new_uidx = to % size, over = from / size; a whole ring in two.
	void release(uint64_t from, uint64_t to) {
		if (to - from == size) {
			ASSERT_EQ(int(size - 1), kevent_commit(kfd, unsigned((to - 1) % size),
							       unsigned(from / size)))
				<< std::strerror(errno);
			from = to - 1;
		}
		ASSERT_EQ(int(to - from),
			  kevent_commit(kfd, unsigned(to % size), unsigned(from / size)))
			<< std::strerror(errno) << " from " << from << " to " << to;
	}
};

#define EXPECT_ERRNO(err, call)                                                 \
	do {                                                                    \
		errno = 0;                                                      \
		EXPECT_EQ(-1, (call));                                          \
		EXPECT_EQ(err, errno) << #call << ": " << std::strerror(errno); \
	} while (0)

// ---- kevent_init ------------------------------------------------------------

TEST_P(RingTest, InitRingRules) {
	unsigned f = GetParam().flags;
	ring_mem m(4);
	EXPECT_ERRNO(EINVAL, kevent_init(m.get(), 0, f)); // ring without size
	EXPECT_ERRNO(EINVAL, kevent_init(nullptr, 4, f)); // size without ring
	EXPECT_ERRNO(EINVAL, kevent_init(m.get(), 1, f)); // size 1
	EXPECT_ERRNO(EINVAL, kevent_init(nullptr, 1, f));
	EXPECT_ERRNO(EINVAL, kevent_init(m.get(), 4, f | 0x100u)); // unknown flag
	// A shared ring: the library's memory, so no ring and a size >= 2.
	EXPECT_ERRNO(EINVAL, kevent_init(m.get(), 4, f | KEVENT_INIT_SHARED_RING));
	EXPECT_ERRNO(EINVAL, kevent_init(nullptr, 0, f | KEVENT_INIT_SHARED_RING));
	EXPECT_ERRNO(EINVAL, kevent_init(nullptr, 1, f | KEVENT_INIT_SHARED_RING));

	// Both indexes start at 0: kevent_init writes the header.
	ASSERT_EQ(~0u, m.get()->ring_kidx);
	int k = kevent_init(m.get(), 2, f);
	ASSERT_GE(k, 0) << std::strerror(errno);
	EXPECT_EQ(0u, load(m.get()->ring_kidx));
	EXPECT_EQ(0u, load(m.get()->ring_over));
	EXPECT_EQ(0, kevent_close(k));

	k = kevent_init(nullptr, 2, f | KEVENT_INIT_SHARED_RING);
	ASSERT_GE(k, 0) << std::strerror(errno);
	EXPECT_EQ(0, kevent_close(k));
}

// ---- kevent_wait ------------------------------------------------------------

TEST_P(RingTest, WaitArgumentRules) {
	timespec zero{};
	EXPECT_ERRNO(EINVAL, kevent_wait(kfd, 1, 0, &zero, 0)); // no ring
	use_ring(4);
	EXPECT_ERRNO(EINVAL, kevent_wait(kfd, 0, 0, &zero, 0)); // num 0
	EXPECT_ERRNO(EINVAL, kevent_wait(kfd, 5, 0, &zero, 0)); // num > size
	EXPECT_ERRNO(EINVAL, kevent_wait(kfd, UINT_MAX, 0, &zero, 0));
	EXPECT_EQ(0, kevent_wait(kfd, 4, 0, &zero, 0)); // num == size
	timespec bad{0, 1000000000L};
	EXPECT_ERRNO(EINVAL, kevent_wait(kfd, 1, 0, &bad, 0));
	bad = {-1, 0};
	EXPECT_ERRNO(EINVAL, kevent_wait(kfd, 1, 0, &bad, 0));
	bad = {0, -1};
	EXPECT_ERRNO(EINVAL, kevent_wait(kfd, 1, 0, &bad, 0));
	EXPECT_ERRNO(EINVAL, kevent_wait(kfd, 1, 0, &zero, 0x2u)); // unknown flag
	EXPECT_ERRNO(EBADF, kevent_wait(-1, 1, 0, &zero, 0));
	int p[2];
	ASSERT_EQ(0, pipe(p));
	EXPECT_ERRNO(EINVAL, kevent_wait(p[0], 1, 0, &zero, 0)); // not a kevent fd
	close(p[0]);
	close(p[1]);
	EXPECT_EQ(0u, kidx());
}

TEST_P(RingTest, WaitMovesReadyEventsInFifoOrder) {
	use_ring(8);
	add_users(5);
	for (unsigned i = 0; i < 5; i++)
		ready(5 - i, 100 + i); // ids 5,4,3,2,1
	ASSERT_EQ(5, rwait(8, 0, 0));
	EXPECT_EQ(5u, kidx());
	EXPECT_EQ(0u, over());
	for (unsigned i = 0; i < 5; i++) {
		EXPECT_EQ(5 - i, slot(i).id.raw_u64);
		EXPECT_EQ(uint32_t(KEVENT_UNOTIFY), slot(i).type);
		EXPECT_EQ(100 + i, slot(i).ret_data[0]);
		EXPECT_EQ(5 - i, cookie_of(slot(i)));
		EXPECT_EQ(0u, slot(i).ret_flags);
	}
	EXPECT_EQ(0u, queue_stats(kfd).ready);
	EXPECT_EQ(5u, queue_stats(kfd).registered); // default mode: still there

	// num caps the move.
	ready(1, 7);
	ready(2, 8);
	ASSERT_EQ(1, rwait(1, 0, 0));
	EXPECT_EQ(6u, kidx());
	EXPECT_EQ(7u, slot(5).ret_data[0]);
	EXPECT_EQ(1u, queue_stats(kfd).ready);
}

TEST_P(RingTest, OneshotIsRemovedWhenMovedIntoTheRing) {
	use_ring(4);
	add_users(1, KEVENT_REQ_ONESHOT);
	ready(1, 9);
	ASSERT_EQ(1, rwait(4, 0, 0));
	EXPECT_TRUE(slot(0).ret_flags & KEVENT_RET_DONE);
	EXPECT_EQ(0u, queue_stats(kfd).registered);
	ukevent uk = make(KEVENT_UNOTIFY, 1, 0);
	EXPECT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_READY, 1, &uk)); // gone
}

TEST_P(RingTest, RoomCapsTheMoveAndAFullRingTakesTwoCommits) {
	use_ring(4);
	add_users(6);
	for (unsigned i = 0; i < 6; i++)
		ready(i + 1, i);
	ASSERT_EQ(4, rwait(4, 0, 0));
	EXPECT_EQ(0u, kidx()); // all four slots used: kidx == uidx, full
	// Full: no room, so kevent_wait waits (and times out) with 2 ready.
	auto t0 = steady_clock::now();
	EXPECT_EQ(0, rwait(4, 0, 100));
	EXPECT_GE(ms_since(t0), 90);
	EXPECT_EQ(2u, queue_stats(kfd).ready);
	// new_uidx == uidx releases nothing (SPEC: equal -> 0), even when full.
	EXPECT_EQ(0, kevent_commit(kfd, 0, 0));
	EXPECT_EQ(0, rwait(4, 0, 0));
	// So a full ring is released in two commits.
	EXPECT_EQ(3, kevent_commit(kfd, 3, 0));
	ASSERT_EQ(2, rwait(4, 3, 0)); // room 3, 2 ready
	EXPECT_EQ(2u, kidx());
	EXPECT_EQ(4u, slot(0).ret_data[0]);
	EXPECT_EQ(5u, slot(1).ret_data[0]);
	EXPECT_EQ(0u, over());
	EXPECT_EQ(1, kevent_commit(kfd, 0, 0)); // wraps: releases slot 3
	EXPECT_EQ(1u, over());
	EXPECT_EQ(2, kevent_commit(kfd, 2, 1));
	EXPECT_EQ(0u, queue_stats(kfd).ready);
}

TEST_P(RingTest, StaleViewReturnsAtOnceAndMovesNothing) {
	use_ring(4);
	add_users(3);
	ready(1, 0);
	ASSERT_EQ(1, rwait(4, 0, 0));
	ASSERT_EQ(1, kevent_commit(kfd, 1, 0)); // uidx 1
	ready(2, 1);
	ready(3, 2);
	for (unsigned stale : {0u, 2u, 3u, 4u, UINT_MAX}) {
		auto t0 = steady_clock::now();
		EXPECT_EQ(0, rwait(4, stale, -1)) << stale; // no timeout, yet at once
		EXPECT_LT(ms_since(t0), 500);
		EXPECT_EQ(1u, kidx());
		EXPECT_EQ(2u, queue_stats(kfd).ready);
	}
	ASSERT_EQ(2, rwait(4, 1, 0));
	EXPECT_EQ(3u, kidx());
}

TEST_P(RingTest, TimeoutReturnsZero) {
	use_ring(4);
	auto t0 = steady_clock::now();
	EXPECT_EQ(0, rwait(4, 0, 100));
	EXPECT_GE(ms_since(t0), 90);
	timespec abs{};
	clock_gettime(CLOCK_MONOTONIC, &abs);
	abs.tv_nsec += 100000000L;
	if (abs.tv_nsec >= 1000000000L) {
		abs.tv_sec++;
		abs.tv_nsec -= 1000000000L;
	}
	t0 = steady_clock::now();
	EXPECT_EQ(0, kevent_wait(kfd, 4, 0, &abs, KEVENT_FLAGS_ABSTIME));
	EXPECT_GE(ms_since(t0), 90);
}

TEST_P(RingTest, ForcedWakeupReturnsZero) {
	use_ring(4);
	std::atomic<int> r{-2};
	std::thread t([&] { r = rwait(4, 0, -1); });
	std::this_thread::sleep_for(milliseconds(100));
	EXPECT_EQ(-2, r.load());
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_READY, 0, nullptr));
	t.join();
	EXPECT_EQ(0, r.load());
}

TEST_P(RingTest, CloseWakesAWaiterWithEbadf) {
	use_ring(4);
	std::atomic<int> r{-2}, e{0};
	std::thread t([&] {
		int n = rwait(4, 0, -1);
		e = errno;
		r = n;
	});
	std::this_thread::sleep_for(milliseconds(100));
	ASSERT_EQ(0, kevent_close(kfd));
	kfd = -1;
	t.join();
	EXPECT_EQ(-1, r.load());
	EXPECT_EQ(EBADF, e.load());
}

TEST_P(RingTest, FullRingWaitBlocksUntilACommitMakesRoom) {
	use_ring(4);
	add_users(7);
	for (unsigned i = 0; i < 7; i++)
		ready(i + 1, i);
	ASSERT_EQ(4, rwait(4, 0, 0)); // full, 3 still ready
	std::atomic<int> r{-2};
	std::thread t([&] { r = rwait(4, 0, -1); });
	std::this_thread::sleep_for(milliseconds(150));
	EXPECT_EQ(-2, r.load()) << "kevent_wait returned with the ring full";
	auto t0 = steady_clock::now();
	ASSERT_EQ(2, kevent_commit(kfd, 2, 0));
	t.join();
	EXPECT_LT(ms_since(t0), 2000);
	// The commit moved uidx: the waiter's view (old_uidx 0) is stale, so it
	// returns 0 and moves nothing; the next wait with uidx 2 fills.
	EXPECT_EQ(0, r.load());
	EXPECT_EQ(0u, kidx());
	ASSERT_EQ(2, rwait(4, 2, 0));
	EXPECT_EQ(2u, kidx());
	EXPECT_EQ(4u, slot(0).ret_data[0]);
	EXPECT_EQ(5u, slot(1).ret_data[0]);
	EXPECT_EQ(1u, queue_stats(kfd).ready);

	// A waiter blocked on a full ring with the *current* uidx: a commit
	// from another thread wakes it (stale now) and a retry fills.
	std::atomic<int> got{0};
	std::thread t2([&] {
		unsigned u = 2;
		for (int tries = 0; tries < 100 && got == 0; tries++) {
			int n = rwait(4, u, 2000);
			if (n > 0)
				got = n;
			u = 3; // after the commit below
		}
	});
	std::this_thread::sleep_for(milliseconds(100));
	EXPECT_EQ(0, got.load());
	ASSERT_EQ(1, kevent_commit(kfd, 3, 0));
	t2.join();
	EXPECT_EQ(1, got.load());
	EXPECT_EQ(6u, slot(2).ret_data[0]);
}

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

// ---- cancellation -----------------------------------------------------------

struct cancel_arg {
	int kfd;
	unsigned num, old_uidx;
	std::atomic<bool> entered{false};
	std::atomic<bool> returned{false};
	int result = -2;
};

void *blocked_waiter(void *p) {
	auto *a = static_cast<cancel_arg *>(p);
	a->entered = true;
	a->result = kevent_wait(a->kfd, a->num, a->old_uidx, nullptr, 0);
	a->returned = true; // only if the wait returned instead of being cancelled
	return nullptr;
}

// Cancels a thread blocked in kevent_wait; fails the test (and gets it out
// with a forced wake-up) if it was not cancelled within 3 s.
void cancel_and_join(pthread_t t, cancel_arg &a, int kfd) {
	ASSERT_EQ(0, pthread_cancel(t));
	timespec dl{};
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 3;
	void *res = nullptr;
	int j = pthread_timedjoin_np(t, &res, &dl);
	if (j == ETIMEDOUT) {
		ADD_FAILURE() << "a thread blocked in kevent_wait was not cancelled within 3 s "
				 "(no cancellation point under the wait?)";
		kevent_ctl(kfd, KEVENT_CTL_READY, 0, nullptr);
		j = pthread_join(t, &res);
	}
	ASSERT_EQ(0, j);
	EXPECT_EQ(PTHREAD_CANCELED, res);
	EXPECT_FALSE(a.returned.load()) << "kevent_wait returned " << a.result;
}

void start_waiter(pthread_t &t, cancel_arg &a) {
	ASSERT_EQ(0, pthread_create(&t, nullptr, blocked_waiter, &a));
	while (!a.entered)
		std::this_thread::yield();
	std::this_thread::sleep_for(milliseconds(150)); // let it block
}

// The poller: the only thread blocked in kevent_wait, with room and nothing
// ready, sits in the backend wait.
TEST_P(RingTest, CancelledWaiterLosesNoEvent) {
	use_ring(8);
	add_users(4);
	cancel_arg a;
	a.kfd = kfd;
	a.num = 8;
	a.old_uidx = 0;
	pthread_t t;
	ASSERT_NO_FATAL_FAILURE(start_waiter(t, a));
	EXPECT_NO_FATAL_FAILURE(cancel_and_join(t, a, kfd));
	for (unsigned i = 0; i < 4; i++)
		ready(i + 1, i);
	ASSERT_EQ(4, rwait(8, 0, 0)) << std::strerror(errno);
	for (unsigned i = 0; i < 4; i++)
		EXPECT_EQ(i, slot(i).ret_data[0]);

	// The queue still works for another thread.
	std::atomic<int> r{-2};
	std::thread other([&] { r = rwait(4, 0, 5000); });
	std::this_thread::sleep_for(milliseconds(100));
	ready(1, 4);
	other.join();
	EXPECT_EQ(1, r.load());
	EXPECT_EQ(5u, kidx());
	EXPECT_EQ(4u, slot(4).ret_data[0]);
}

// A second waiter sleeps on the queue's condition variable while the first
// polls: cancel the second; the first still gets every event.
TEST_P(RingTest, CancelledSecondWaiterLosesNoEvent) {
	use_ring(8);
	add_users(4);
	std::atomic<int> r{-2};
	std::thread first([&] { r = rwait(8, 0, 5000); });
	std::this_thread::sleep_for(milliseconds(100));
	cancel_arg b;
	b.kfd = kfd;
	b.num = 8;
	b.old_uidx = 0;
	pthread_t t;
	ASSERT_NO_FATAL_FAILURE(start_waiter(t, b));
	EXPECT_NO_FATAL_FAILURE(cancel_and_join(t, b, kfd));
	for (unsigned i = 0; i < 4; i++)
		ready(i + 1, i);
	first.join();
	int got = r.load();
	ASSERT_GE(got, 1);
	if (got < 4) { // the rest by a later kevent_wait
		ASSERT_EQ(4 - got, rwait(8, 0, 0));
	}
	EXPECT_EQ(4u, kidx());
	for (unsigned i = 0; i < 4; i++)
		EXPECT_EQ(i, slot(i).ret_data[0]);
	EXPECT_EQ(0u, queue_stats(kfd).ready);
}

TEST_P(RingTest, CancelledWaiterOnAFullRingLosesNoEvent) {
	use_ring(2);
	add_users(3);
	for (unsigned i = 0; i < 3; i++)
		ready(i + 1, i);
	ASSERT_EQ(2, rwait(2, 0, 0)); // full, one ready left
	cancel_arg a;
	a.kfd = kfd;
	a.num = 2;
	a.old_uidx = 0;
	pthread_t t;
	ASSERT_NO_FATAL_FAILURE(start_waiter(t, a));
	ASSERT_NO_FATAL_FAILURE(cancel_and_join(t, a, kfd));
	EXPECT_EQ(1u, queue_stats(kfd).ready);
	ASSERT_EQ(1, kevent_commit(kfd, 1, 0));
	ASSERT_EQ(1, kevent_commit(kfd, 0, 0)); // whole ring released, over 1
	ASSERT_EQ(1, rwait(2, 0, 0));
	EXPECT_EQ(2u, slot(0).ret_data[0]);
	EXPECT_EQ(1u, kidx());
}

// ---- the C++ ring view --------------------------------------------------------

TEST_P(RingTest, RingViewSingleConsumer) {
	use_ring(5);
	add_users(8);
	kevent::ring_view rv(kfd, ring, size);
	EXPECT_TRUE(rv.entries().empty());
	for (unsigned i = 0; i < 7; i++)
		ready(i + 1, i);
	EXPECT_EQ(5u, rv.wait(100, std::chrono::nanoseconds(0))); // num clamped to size
	auto e = rv.entries();
	ASSERT_EQ(5u, e.size()); // full (kidx == uidx) is told from empty
	uint32_t want = 0;
	for (const ukevent &ev : e)
		EXPECT_EQ(want++, ev.ret_data[0]);
	EXPECT_EQ(5u, rv.commit_all()); // two commits inside
	EXPECT_EQ(1u, rv.over());
	EXPECT_EQ(1u, rv.published_over());
	EXPECT_EQ(0u, rv.uidx());
	std::error_code ec;
	EXPECT_EQ(0u, rv.commit(1, ec));
	EXPECT_EQ(std::errc::invalid_argument, ec);
	EXPECT_THROW(rv.commit(1), std::system_error);

	// Many laps with random commit sizes.
	std::deque<uint64_t> idle;
	for (const ukevent &ev : e)
		idle.push_back(ev.id.raw_u64);
	idle.push_back(8);
	std::mt19937 rng(7);
	uint64_t readied = 7, seen = 5;
	while (rv.position() < 5000) {
		while (!idle.empty()) {
			ASSERT_NO_FATAL_FAILURE(ready(idle.front(), uint32_t(readied++)));
			idle.pop_front();
		}
		rv.wait(1 + unsigned(rng() % 5), std::chrono::nanoseconds(0));
		auto r = rv.entries();
		for (auto it = r.begin(); it != r.end(); ++it) {
			ASSERT_EQ(it.position(), it->ret_data[0]);
			if (it.position() >= seen) {
				idle.push_back(it->id.raw_u64);
				seen = it.position() + 1;
			}
		}
		if (!r.empty())
			rv.commit(rng() % 3 == 0 ? r.size() : 1 + rng() % r.size());
		ASSERT_EQ(rv.over(), rv.published_over());
		ASSERT_EQ(rv.over(), over());
	}
}

TEST_P(RingTest, RingViewOfASharedRing) {
	ASSERT_EQ(0, kevent_close(kfd));
	kfd = kevent_init(nullptr, 6, GetParam().flags | KEVENT_INIT_SHARED_RING);
	ASSERT_GE(kfd, 0);
	add_users(3);
	auto rv = kevent::ring_view::map_shared(kfd);
	EXPECT_EQ(6u, rv.size());
	for (unsigned i = 0; i < 3; i++)
		ready(i + 1, i);
	EXPECT_EQ(3u, rv.wait(6, std::nullopt));
	EXPECT_EQ(3u, rv.entries().size());
	EXPECT_EQ(2u, rv.entries()[2].ret_data[0]);
	EXPECT_EQ(3u, rv.commit_all());
	std::error_code ec;
	auto none = kevent::ring_view::map_shared(-1, ec);
	EXPECT_EQ(std::errc::bad_file_descriptor, ec);
}

// Two consumer threads, 100,000 events, kevent::ring_consumers: every event
// seen exactly once, at the position it was made ready in.
TEST_P(RingTest, TwoConsumersHundredThousandEvents) {
	constexpr uint64_t total = 100000;
	constexpr unsigned users = 64;
	use_ring(16);
	add_users(users);
	kevent::ring_consumers rc(kfd, ring, size);

	std::mutex mu;
	std::condition_variable cv;
	std::deque<uint64_t> idle;
	for (unsigned i = 1; i <= users; i++)
		idle.push_back(i);
	std::atomic<uint64_t> consumed{0};
	std::atomic<bool> bad{false};

	std::thread producer([&] {
		for (uint64_t seq = 0; seq < total; seq++) {
			uint64_t id;
			{
				std::unique_lock lk(mu);
				cv.wait(lk, [&] { return !idle.empty() || bad; });
				if (bad)
					return;
				id = idle.front();
				idle.pop_front();
			}
			ukevent uk = make(KEVENT_UNOTIFY, id, 0);
			uk.ret_data[0] = uint32_t(seq);
			if (kevent_ctl(kfd, KEVENT_CTL_READY, 1, &uk) != 1)
				bad = true;
		}
	});
	std::vector<uint64_t> seen[2];
	std::string why[2];
	auto consumer = [&](int me) {
		std::mt19937 rng(me);
		std::vector<uint64_t> ids;
		while (consumed.load() < total && !bad) {
			auto r = rc.claim(1 + rng() % 6);
			if (r.empty()) {
				std::error_code ec;
				rc.wait(8, std::chrono::milliseconds(20), ec);
				if (ec) {
					why[me] = "wait: " + ec.message();
					bad = true;
				}
				continue;
			}
			ids.clear();
			for (auto it = r.begin(); it != r.end(); ++it) {
				if (it->ret_data[0] != uint32_t(it.position())) {
					why[me] = "position " + std::to_string(it.position()) +
						  " holds " + std::to_string(it->ret_data[0]);
					bad = true;
				}
				seen[me].push_back(it->ret_data[0]);
				ids.push_back(it->id.raw_u64);
			}
			std::error_code ec;
			rc.release(r, ec);
			if (ec) {
				why[me] = "release: " + ec.message();
				bad = true;
			}
			{
				std::lock_guard lk(mu);
				idle.insert(idle.end(), ids.begin(), ids.end());
			}
			cv.notify_one();
			consumed += r.size();
		}
		cv.notify_all();
	};
	std::thread c0(consumer, 0), c1(consumer, 1);
	c0.join();
	c1.join();
	{
		std::lock_guard lk(mu);
		bad = bad || consumed != total;
	}
	cv.notify_all();
	producer.join();
	ASSERT_FALSE(bad) << why[0] << why[1] << " consumed " << consumed;

	std::vector<uint64_t> all(seen[0]);
	all.insert(all.end(), seen[1].begin(), seen[1].end());
	std::sort(all.begin(), all.end());
	ASSERT_EQ(total, all.size());
	for (uint64_t i = 0; i < total; i++)
		ASSERT_EQ(i, all[i]) << "seen twice or never";
	EXPECT_GT(seen[0].size(), 0u);
	EXPECT_GT(seen[1].size(), 0u);
	EXPECT_EQ(total, rc.released());
	EXPECT_EQ(total / 16, over());
	EXPECT_EQ(total % 16, kidx());
	std::printf("consumer 0 took %zu events, consumer 1 %zu\n", seen[0].size(), seen[1].size());
}

// ---- the shared ring ----------------------------------------------------------

TEST_P(RingTest, RingFdRules) {
	EXPECT_ERRNO(EINVAL, kevent_ring_fd(kfd)); // no ring
	EXPECT_ERRNO(EBADF, kevent_ring_fd(-1));
	use_ring(4);
	EXPECT_ERRNO(EINVAL, kevent_ring_fd(kfd)); // a ring in caller memory
}

TEST_P(RingTest, SharedRingIsReadOnlyElsewhere) {
	ASSERT_NO_FATAL_FAILURE(use_shared_ring(8));
	int fd = kevent_ring_fd(kfd);
	ASSERT_GE(fd, 0);
	int fd2 = kevent_ring_fd(kfd);
	ASSERT_GE(fd2, 0);
	EXPECT_NE(fd, fd2); // a new descriptor each time
	EXPECT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd2);

	errno = 0;
	void *w = mmap(nullptr, shared_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	EXPECT_EQ(MAP_FAILED, w);
	EXPECT_EQ(EPERM, errno) << std::strerror(errno);
	if (w != MAP_FAILED)
		munmap(w, shared_len);
	errno = 0;
	EXPECT_EQ(-1, mprotect(shared_map, shared_len, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno) << std::strerror(errno);
	char c = 1;
	EXPECT_ERRNO(EPERM, int(write(fd, &c, 1)));
	EXPECT_ERRNO(EPERM, ftruncate(fd, 1));
	EXPECT_ERRNO(EPERM, ftruncate(fd, off_t(shared_len) * 2));

	add_users(5);
	for (unsigned i = 0; i < 3; i++)
		ready(i + 1, i);
	ASSERT_EQ(3, rwait(8, 0, 0));
	EXPECT_EQ(3u, kidx()); // seen through our read-only mapping
	EXPECT_EQ(2u, slot(2).ret_data[0]);

	// Another process maps it read-only and sees what kevent_wait put
	// there, then what a later kevent_wait adds. It makes no kevent call
	// (kevent_init(3): a child must not use an inherited queue).
	int go[2], ack[2];
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(ack));
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		close(go[1]);
		close(ack[0]);
		void *p = mmap(nullptr, shared_len, PROT_READ, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			_exit(10);
		auto *r = static_cast<const kevent_ring *>(p);
		if (load(r->ring_kidx) != 3)
			_exit(11);
		for (unsigned i = 0; i < 3; i++)
			if (r->event[i].ret_data[0] != i || r->event[i].id.raw_u64 != i + 1)
				_exit(12);
		void *q = mmap(nullptr, shared_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (q != MAP_FAILED || errno != EPERM)
			_exit(13);
		if (mprotect(p, shared_len, PROT_READ | PROT_WRITE) == 0)
			_exit(14);
		char b = 'c';
		if (write(ack[1], &b, 1) != 1 || read(go[0], &b, 1) != 1)
			_exit(15);
		if (load(r->ring_kidx) != 5 || load(r->ring_over) != 0)
			_exit(16);
		for (unsigned i = 3; i < 5; i++)
			if (r->event[i].ret_data[0] != i)
				_exit(17);
		_exit(0);
	}
	close(go[0]);
	close(ack[1]);
	char b;
	ASSERT_EQ(1, read(ack[0], &b, 1)); // the child has checked the first batch
	close(ack[0]);
	ready(4, 3);
	ready(5, 4);
	ASSERT_EQ(2, rwait(8, 0, 0));
	ASSERT_EQ(1, write(go[1], "g", 1));
	close(go[1]);
	int status = 0;
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) << "10 mmap, 11 kidx, 12 entries, 13 writable map "
					     "not EPERM, 14 mprotect, 15 pipe, 16/17 second batch";
	close(fd);
}

// Pages of the memfd in memory (mincore on a read-only mapping reports the
// file's page-cache pages), and the Rss of the library's writable mapping.
size_t resident_pages(void *p, size_t len) {
	size_t page = size_t(sysconf(_SC_PAGESIZE));
	std::vector<unsigned char> v((len + page - 1) / page);
	if (mincore(p, len, v.data()) < 0)
		return SIZE_MAX;
	return size_t(std::count_if(v.begin(), v.end(), [](unsigned char c) { return c & 1; }));
}

long library_mapping_rss_kb(const void *ours) {
	std::ifstream in("/proc/self/smaps");
	std::string line;
	bool in_it = false;
	while (std::getline(in, line)) {
		unsigned long lo, hi;
		char perms[8];
		if (std::sscanf(line.c_str(), "%lx-%lx %7s", &lo, &hi, perms) == 3 &&
		    line.find("kevent-ring") != std::string::npos) {
			in_it = perms[1] == 'w' && lo != reinterpret_cast<uintptr_t>(ours);
			continue;
		}
		if (in_it && line.rfind("Rss:", 0) == 0)
			return std::stol(line.substr(4));
	}
	return -1;
}

TEST_P(RingTest, SharedRingPagesComeOnlyAsItFills) {
	constexpr unsigned n = 1000000;
	constexpr unsigned users = 1000;
	ASSERT_NO_FATAL_FAILURE(use_shared_ring(n));
	add_users(users);
	std::vector<ukevent> rd;
	for (unsigned i = 1; i <= users; i++)
		rd.push_back(make(KEVENT_UNOTIFY, i, 0));
	size_t page = size_t(sysconf(_SC_PAGESIZE));
	std::printf("ring of %u entries: %zu bytes of address space (%zu pages of %zu)\n", n,
		    shared_len, (shared_len + page - 1) / page, page);
	size_t first = resident_pages(shared_map, shared_len);
	std::printf("%9u entries filled: %6zu pages resident (mincore), library mapping Rss %ld "
		    "kB\n",
		    0u, first, library_mapping_rss_kb(shared_map));
	EXPECT_LE(first, 1u);
	uint64_t filled = 0;
	for (uint64_t mark : {10000ull, 100000ull, 1000000ull}) {
		while (filled < mark) {
			ASSERT_EQ(int(users), kevent_ctl(kfd, KEVENT_CTL_READY, users, rd.data()));
			ASSERT_EQ(int(users), rwait(users, 0, 0)) << std::strerror(errno);
			filled += users;
		}
		size_t pages = resident_pages(shared_map, shared_len);
		size_t want = (ring_bytes(unsigned(mark)) + page - 1) / page;
		std::printf("%9llu entries filled: %6zu pages resident (mincore), library mapping "
			    "Rss "
			    "%ld kB; expected %zu pages\n",
			    (unsigned long long)mark, pages, library_mapping_rss_kb(shared_map),
			    want);
		EXPECT_GE(pages, want);
		EXPECT_LE(pages, want + 1);
	}
	EXPECT_EQ(0u, kidx()); // full
}

KEVENT_INSTANTIATE_BACKENDS(RingTest);

} // namespace
