// SPDX-License-Identifier: MIT
// cq_overflow_duplicates_test — issue 14 item 1.
//
// Bug: on io_uring, more than 4,096 descriptors ready at once were delivered
// twice (N = 5,000: 904 twice), then livelocked (N = 8,192: millions of
// deliveries); one ADD batch of 6,000 ready descriptors copied back 4,096 and
// delivered the other 1,904 over and over. epoll was exact. kevent(7): a
// kevent is on the ready list at most once and comes back only on new
// activity; kevent_ctl(3): ready at ADD is copied back, not kept.
//
// Root cause: the CQ ring has 4,096 entries. A multishot poll that cannot
// post its CQE because the CQ is full is ended by the kernel, with a final
// CQE (the event mask, no IORING_CQE_F_MORE) on the overflow list. The
// backend reported that mask and armed the poll again at once; the new poll
// found the file still ready and reported it again (the duplicate) — and
// while the CQ was full again, ended again (the livelock). The overflow list
// was only moved into the ring by a blocking wait, so an ADD's one
// non-blocking look never saw the polls past 4,096.
//
// Fix (src/backend/uring/uring_backend.cpp): the final CQE of an ended
// multishot poll is not a report; the poll is armed again and its first CQE,
// which reflects the file then (as epoll re-polls before reporting), is the
// report. Re-arms wait in a backlog armed only while the CQ has room and the
// overflow list is empty, reaping first, so they cannot overflow the CQ
// themselves; reaping moves the overflow list into the ring; a wait arms
// the ended polls again in rounds until each has reported.
#include "kevent_test.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <vector>

using kevent_test::make;

namespace {

struct mode_case {
	unsigned req;
	const char *name;
};

// Room for n descriptors more than what is open now; false if the hard limit
// is too low (the soft one is raised to it).
bool fd_room(size_t n) {
	rlimit rl{};
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return false;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= n + 64;
}

std::vector<int> eventfds(size_t n) {
	std::vector<int> fds;
	for (size_t i = 0; i < n; i++) {
		int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		EXPECT_GE(fd, 0);
		if (fd < 0)
			break;
		fds.push_back(fd);
	}
	return fds;
}

void close_all(const std::vector<int> &fds) {
	for (int fd : fds)
		close(fd);
}

} // namespace

class CqOverflowDuplicates : public kevent_test::QueueTest {
protected:
	// N descriptors each ADDed alone in `req` mode, all made readable once;
	// then kevent_get_events(kfd, 1, 4096, 300 ms) until a wait times out.
	// LEVEL kevents consume their eventfd at delivery (else they would
	// rightly come back at every call). Every descriptor must be delivered
	// exactly once.
	void storm(size_t n, unsigned req) {
		if (!fd_room(n))
			GTEST_SKIP() << "RLIMIT_NOFILE is below " << n + 64;
		std::vector<int> fds = eventfds(n);
		ASSERT_EQ(n, fds.size());
		int top = 0;
		for (size_t i = 0; i < n; i++) {
			ukevent uk = make(KEVENT_POLL, uint64_t(fds[i]), POLLIN, req, i);
			ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &uk)) << i;
			top = std::max(top, fds[i]);
		}
		for (int fd : fds)
			ASSERT_EQ(0, eventfd_write(fd, 1));
		std::vector<unsigned> seen(static_cast<size_t>(top) + 1, 0);
		size_t total = 0;
		std::vector<ukevent> buf(4096);
		for (;;) {
			timespec t = kevent_test::ms(300);
			int r = kevent_get_events(kfd, 1, 4096, &t, buf.data(), 0);
			ASSERT_GE(r, 0) << std::strerror(errno);
			if (r == 0)
				break;
			for (int i = 0; i < r; i++) {
				int fd = static_cast<int>(buf[i].id.raw[0]);
				ASSERT_LE(fd, top);
				seen[fd]++;
				if (req & KEVENT_REQ_LEVEL) {
					eventfd_t v;
					eventfd_read(fd, &v);
				}
			}
			total += static_cast<size_t>(r);
			// The livelock delivers millions: stop counting early.
			ASSERT_LE(total, 2 * n) << "deliveries without end";
		}
		size_t twice = 0, never = 0;
		for (int fd : fds) {
			twice += seen[fd] > 1;
			never += seen[fd] == 0;
		}
		EXPECT_EQ(n, total) << "deliveries of " << n << " descriptors ready once";
		EXPECT_EQ(0u, twice) << "descriptors delivered more than once";
		EXPECT_EQ(0u, never) << "descriptors never delivered";
		close_all(fds);
	}

	// One ADD batch of n readable descriptors: every entry is copied back
	// (ready at ADD), nothing stays registered, nothing comes later.
	void ready_batch(size_t n, unsigned req) {
		if (!fd_room(n))
			GTEST_SKIP() << "RLIMIT_NOFILE is below " << n + 64;
		std::vector<int> fds = eventfds(n);
		ASSERT_EQ(n, fds.size());
		std::vector<ukevent> uk;
		for (size_t i = 0; i < n; i++) {
			ASSERT_EQ(0, eventfd_write(fds[i], 1));
			uk.push_back(make(KEVENT_POLL, uint64_t(fds[i]), POLLIN, req, i));
		}
		int r = kevent_ctl(kfd, KEVENT_CTL_ADD, static_cast<unsigned>(n), uk.data());
		ASSERT_EQ(int(n), r) << "entries copied back";
		std::vector<bool> back(n, false);
		for (int i = 0; i < r; i++) {
			EXPECT_EQ(KEVENT_RET_DONE, uk[i].ret_flags);
			uint64_t c = kevent_test::cookie_of(uk[i]);
			ASSERT_LT(c, n);
			EXPECT_FALSE(back[c]) << "copied back twice";
			back[c] = true;
		}
		EXPECT_EQ(0u, kevent_test::queue_stats(kfd).registered);
		auto later = kevent_test::get(kfd, 1, 4096, 300);
		EXPECT_EQ(0u, later.size()) << "delivered after being copied back";
		close_all(fds);
	}
};

// 5,000: past the 4,096-entry CQ, where 904 came twice.
TEST_P(CqOverflowDuplicates, DefaultModeStormDeliversEachOnce) { storm(5000, 0); }

TEST_P(CqOverflowDuplicates, EdgeTriggeredStormDeliversEachOnce) { storm(5000, KEVENT_REQ_ET); }

TEST_P(CqOverflowDuplicates, LevelStormDeliversEachOnceWhenConsumed) {
	storm(5000, KEVENT_REQ_LEVEL);
}

// Twice the CQ: every poll past the first 4,096 ends at least once.
TEST_P(CqOverflowDuplicates, DoubleTheRingDeliversEachOnce) { storm(8192, 0); }

TEST_P(CqOverflowDuplicates, AddBatchOfSixThousandReadyCopiesBackAll) { ready_batch(6000, 0); }

TEST_P(CqOverflowDuplicates, LevelAddBatchOfSixThousandReadyCopiesBackAll) {
	ready_batch(6000, KEVENT_REQ_LEVEL);
}

KEVENT_INSTANTIATE_BACKENDS(CqOverflowDuplicates);
