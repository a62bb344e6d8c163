// SPDX-License-Identifier: MIT
// Fault injection: kevent_init — no ring, a ring in the caller's memory, a
// shared ring (memfd) — and kevent_wait moving events into the ring (issue
// 8, part 3). kevent_init fails with EMFILE or ENOMEM (kevent_init(3)) and
// leaves no descriptor; after any fault a new queue works, and kevent_wait
// neither loses nor duplicates an event.
#include "scenario.hpp"

#include <sys/mman.h>

namespace {

using namespace kevent_fault;

constexpr unsigned ring_size = 8;

struct ring_mem {
	alignas(8) unsigned char bytes[sizeof(kevent_ring) + ring_size * sizeof(ukevent)];
	kevent_ring *get() { return reinterpret_cast<kevent_ring *>(bytes); }
};

class FaultInit : public FaultTest {
protected:
	// kevent_init(ring, size, flags) with the fault at k.
	bool init_once(kevent_ring *ring, unsigned size, unsigned flags, long k, int variant) {
		int fds = open_fds();
		int kfd;
		{
			armed a(k, variant);
			kfd = kevent_init(ring, size, backend() | flags);
		}
		bool failed = kfd < 0;
		if (failed) {
			int err = errno;
			expect_clean_errno(err, "kevent_init");
			EXPECT_TRUE(err == EMFILE || err == ENOMEM) << strerrorname_np(err);
			EXPECT_EQ(fds, open_fds()) << "a failed kevent_init left a descriptor";
			kfd = kevent_init(ring, size, backend() | flags);
			EXPECT_GE(kfd, 0) << std::strerror(errno);
		}
		{
			sources srcs = make_sources({KEVENT_PIPE, KEVENT_UNOTIFY});
			std::set<uint64_t> want = register_all(kfd, srcs, 100);
			trigger_all(kfd, srcs);
			expect_delivered(kfd, want);
			EXPECT_EQ(0, kevent_close(kfd));
		}
		expect_nothing_left(fds);
		return failed;
	}
};

TEST_P(FaultInit, NoRing) {
	for_each_fault("kevent_init",
		       [&](long k, int v) { return init_once(nullptr, 0, 0, k, v); });
}

TEST_P(FaultInit, CallerRing) {
	ring_mem mem;
	for_each_fault("kevent_init with a ring",
		       [&](long k, int v) { return init_once(mem.get(), ring_size, 0, k, v); });
}

TEST_P(FaultInit, SharedRing) {
	for_each_fault("kevent_init with a shared ring", [&](long k, int v) {
		return init_once(nullptr, ring_size, KEVENT_INIT_SHARED_RING, k, v);
	});
}

// kevent_wait: user events into the ring, the fault anywhere on the way.
TEST_P(FaultInit, KeventWait) {
	ring_mem mem;
	for_each_fault("kevent_wait", [&](long k, int v) {
		int fds = open_fds();
		int kfd = kevent_init(mem.get(), ring_size, backend());
		EXPECT_GE(kfd, 0);
		auto srcs = std::make_unique<sources>(
			make_sources({KEVENT_PIPE, KEVENT_UNOTIFY, KEVENT_SOCKET}));
		std::set<uint64_t> want = register_all(kfd, *srcs, 100, KEVENT_REQ_ONESHOT);
		trigger_all(kfd, *srcs);
		timespec t = kevent_test::ms(2000);
		int r;
		{
			armed a(k, v);
			r = kevent_wait(kfd, ring_size, 0, &t, 0);
		}
		EXPECT_GE(r, 0) << std::strerror(errno) << " for " << describe();
		std::vector<ukevent> got;
		for (int i = 0; i < r; i++)
			got.push_back(mem.get()->event[i]);
		expect_delivered(kfd, want, got);
		EXPECT_EQ(0, kevent_close(kfd));
		srcs.reset();
		expect_nothing_left(fds);
		return r < 0;
	});
}

KEVENT_INSTANTIATE_BACKENDS(FaultInit);

} // namespace
