// SPDX-License-Identifier: MIT
// Regression (issue 8, fault injection): a MODIFY that changes an fd's
// exclusivity (KEVENT_REQ_WAKEUP_ALL) takes the epoll watch out and adds it
// again; when that ADD failed for want of memory the entry said EBADF ("the
// fd was closed") and the kevent was delivered BROKEN with -EBADF, though
// the fd was fine. It is ENOMEM now (kevent_ctl(3)).
#include "scenario.hpp"

namespace {

using namespace kevent_fault;

TEST(ModifyOomReportsEbadf, Enomem) {
	pipe_source src;
	int kfd = kevent_init(nullptr, 0, KEVENT_INIT_EPOLL) /* the path the bug was on */;
	ASSERT_GE(kfd, 0);
	ukevent uk = src.entry(1);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &uk));
	uk = src.entry(2);
	uk.req_flags |= KEVENT_REQ_WAKEUP_ALL;
	// Point 1 is the watch's ADD: kevent_ctl makes no system call of its
	// own to check kfd any more (kevent_init(3)).
	{
		armed a(1, 0);
		EXPECT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_MODIFY, 1, &uk));
	}
	ASSERT_TRUE(fired());
	ASSERT_EQ(point::epoll_ctl_add, fired_point());
	EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, uk.ret_flags);
	EXPECT_EQ(uint32_t(-ENOMEM), uk.ret_data[1]);
	auto got = kevent_test::get(kfd, 1, 4, 1000);
	ASSERT_EQ(1u, got.size());
	EXPECT_EQ(uint32_t(-ENOMEM), got[0].ret_data[1]);
	EXPECT_EQ(0, kevent_close(kfd));
}

} // namespace
