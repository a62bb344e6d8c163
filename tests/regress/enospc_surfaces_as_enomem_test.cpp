// SPDX-License-Identifier: MIT
// Regression (issue 8, fault injection): epoll's ENOSPC (the per-user
// limit fs.epoll.max_user_watches) is documented as ENOMEM (kevent_ctl(3)),
// and so it was for fd origins; but the TIMER, INODE and PROC origins watch
// a descriptor of their own (timerfd, inotify, pidfd) and passed ENOSPC
// through, an errno no page mentions.
#include "scenario.hpp"

namespace {

using namespace kevent_fault;

void expect_enomem(unsigned type) {
	auto src = make_source(type);
	long seen = 0;
	for (long k = 1;; k++) {
		int kfd = kevent_init(nullptr, 0, KEVENT_INIT_EPOLL) /* the path the bug was on */;
		ASSERT_GE(kfd, 0);
		ukevent uk = src->entry(1);
		int r;
		{
			armed a(k, 1); // epoll_ctl_add's second errno: ENOSPC
			r = kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &uk);
		}
		bool reached = fired();
		if (reached && fired_point() == point::epoll_ctl_add && r == 1) {
			seen++;
			EXPECT_EQ(uint32_t(-ENOMEM), uk.ret_data[1]) << describe();
		}
		EXPECT_EQ(0, kevent_close(kfd));
		if (!reached)
			break;
	}
	EXPECT_GT(seen, 0);
}

TEST(EnospcSurfacesAsEnomem, Timer) { expect_enomem(KEVENT_TIMER); }
TEST(EnospcSurfacesAsEnomem, Inode) { expect_enomem(KEVENT_INODE); }
TEST(EnospcSurfacesAsEnomem, Proc) { expect_enomem(KEVENT_PROC); }

} // namespace
