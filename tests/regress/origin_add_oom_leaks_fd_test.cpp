// SPDX-License-Identifier: MIT
// Regression (issue 8, fault injection): PROC and INODE ADDs opened a
// descriptor (the pidfd; the queue's inotify instance) before allocating
// the object that owns it; out of memory in between leaked the descriptor.
// And an INODE ADD that failed to record its kevent left it in the
// inotify watch's user list after freeing it (ASan: heap-use-after-free at
// the next event of that directory), or left the kernel's watch without a
// user. Now the owner exists first, and a failed ADD takes out what it put
// in.
#include "scenario.hpp"

namespace {

using namespace kevent_fault;

void add_with_every_fault(source &src) {
	long failures = 0;
	int fds = open_fds();
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
		failures += reached && r == 1;
		src.trigger(kfd); // an event on the watch a failed ADD touched
		kevent_test::get(kfd, 0, 4, 10);
		EXPECT_EQ(0, kevent_close(kfd));
		EXPECT_EQ(fds, open_fds()) << describe();
		if (!reached)
			break;
	}
	EXPECT_GT(failures, 0);
}

TEST(OriginAddOomLeaksFd, Proc) {
	// A fresh child each time: the trigger kills it.
	for (long k = 1;; k++) {
		proc_source src;
		int fds = open_fds();
		int kfd = kevent_init(nullptr, 0, KEVENT_INIT_EPOLL) /* the path the bug was on */;
		ASSERT_GE(kfd, 0);
		ukevent uk = src.entry(1);
		{
			armed a(k, 0);
			kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &uk);
		}
		bool reached = fired();
		EXPECT_EQ(0, kevent_close(kfd));
		EXPECT_EQ(fds, open_fds()) << describe();
		if (!reached)
			break;
	}
}

TEST(OriginAddOomLeaksFd, Inode) {
	inode_source src;
	add_with_every_fault(src);
}

} // namespace
