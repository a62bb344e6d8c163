// SPDX-License-Identifier: MIT
// Regression (issue 8, fault injection): kevent_close collected the
// registrations into a std::vector before freeing them. Out of memory
// there, after the queue had left the descriptor table: kevent_close
// returned -1/ENOMEM (kevent_close(3) promises 0), and the queue, its
// registrations and its descriptors were never freed — unreachable. Closing
// now needs no memory.
#include "scenario.hpp"

namespace {

using namespace kevent_fault;

TEST(CloseOomLeaksQueue, CloseAlwaysFrees) {
	pipe_source src;
	int fds = open_fds();
	for (long k = 1;; k++) {
		int kfd = kevent_init(nullptr, 0, KEVENT_INIT_EPOLL) /* the path the bug was on */;
		ASSERT_GE(kfd, 0);
		ukevent uk = src.entry(1);
		ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &uk));
		int r;
		{
			armed a(k, 0);
			r = kevent_close(kfd);
		}
		bool reached = fired();
		EXPECT_EQ(0, r) << describe();
		kevent_stats st = kevent_test::global_stats();
		EXPECT_EQ(0u, st.queues) << describe();
		EXPECT_EQ(0u, st.registered) << describe();
		EXPECT_EQ(fds, open_fds()) << describe();
		if (!reached)
			break;
	}
}

} // namespace
