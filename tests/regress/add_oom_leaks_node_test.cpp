// SPDX-License-Identifier: MIT
// Regression (issue 8, fault injection): an ADD that ran out of memory after
// its node was made — growing the fd table, the registry's insert — lost
// the node: the entry came back ENOMEM, yet the registration stayed counted
// (kevent_get_stats: registered 1, never 0 again), its memory leaked, and
// the fd's watch could stay in the epoll set. prepare_add now frees the
// node on std::bad_alloc like on any other failure.
#include "scenario.hpp"

namespace {

using namespace kevent_fault;

TEST(AddOomLeaksNode, FailedEntryLeavesNothingRegistered) {
	socket_source src(KEVENT_SOCKET);
	long failures = 0;
	for (long k = 1;; k++) {
		int kfd = kevent_init(nullptr, 0, KEVENT_INIT_EPOLL) /* the path the bug was on */;
		ASSERT_GE(kfd, 0);
		ukevent uk = src.entry(1);
		int r;
		{
			armed a(k, 0);
			r = kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &uk);
		}
		bool reached = fired();
		if (reached && fired_point() == point::alloc && r == 1) {
			failures++;
			EXPECT_EQ(uint32_t(-ENOMEM), uk.ret_data[1]) << describe();
			EXPECT_EQ(0u, kevent_test::queue_stats(kfd).registered) << describe();
			// The key is free: the same ADD works now.
			uk = src.entry(2);
			EXPECT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &uk)) << describe();
		}
		EXPECT_EQ(0, kevent_close(kfd));
		EXPECT_EQ(0u, kevent_test::global_stats().registered) << describe();
		if (!reached)
			break;
	}
	EXPECT_GT(failures, 0) << "no allocation of an ADD failed: the test tests nothing";
}

} // namespace
