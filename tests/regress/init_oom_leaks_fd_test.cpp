// SPDX-License-Identifier: MIT
// Regression (issue 8, fault injection): kevent_init duplicated the epoll
// descriptor for the caller before allocating the queue that owns it; out
// of memory there (or in the descriptor table) returned ENOMEM and leaked
// the duplicate. And epoll's ENOSPC while adding the queue's own eventfds
// came out as ENOSPC, which kevent_init(3) does not list (it is ENOMEM);
// so did a shared ring's ftruncate(2) failing with ENOSPC.
#include "scenario.hpp"

namespace {

using namespace kevent_fault;

void init_with_every_fault(unsigned size, unsigned flags) {
	int fds = open_fds();
	for (long k = 1;; k++) {
		for (int v = 0; v < 2; v++) {
			int kfd;
			{
				armed a(k, v);
				kfd = kevent_init(nullptr, size, flags);
			}
			if (kfd < 0) {
				EXPECT_TRUE(errno == ENOMEM || errno == EMFILE)
					<< strerrorname_np(errno) << " for " << describe();
				EXPECT_EQ(fds, open_fds()) << describe();
			} else {
				EXPECT_EQ(0, kevent_close(kfd));
			}
		}
		if (!fired())
			break;
	}
	EXPECT_EQ(0u, kevent_test::global_stats().queues);
}

TEST(InitOomLeaksFd, NoRing) { init_with_every_fault(0, 0); }
TEST(InitOomLeaksFd, SharedRing) { init_with_every_fault(4, KEVENT_INIT_SHARED_RING); }

} // namespace
