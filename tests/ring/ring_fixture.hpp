// SPDX-License-Identifier: MIT
// ring_fixture.hpp — the fixture of the ring suites (tests/ring/ring_*_test.cpp),
// which check kevent_wait(3), kevent_commit(3), kevent_ring_fd(3) and the ring
// rules of kevent_init(3) (docs/semantics.md "The ring").
//
// Events are KEVENT_UNOTIFY kevents made ready with a sequence number in
// ret_data[0] (the READY payload), so that every slot of the ring can be
// checked against the position it must hold. A user event is made ready
// again only after it has been seen in the ring (so it is off the ready list
// and no READY coalesces).
#pragma once

#include "kevent_test.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

namespace kevent_ring_test {

using kevent_test::cookie_of;
using kevent_test::make;
using kevent_test::ms;
using kevent_test::queue_stats;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

inline long long ms_since(steady_clock::time_point t0) {
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

inline size_t ring_bytes(unsigned size) {
	return sizeof(kevent_ring) + size_t(size) * sizeof(ukevent);
}

inline unsigned load(const uint32_t &v) { return __atomic_load_n(&v, __ATOMIC_ACQUIRE); }

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

} // namespace kevent_ring_test
