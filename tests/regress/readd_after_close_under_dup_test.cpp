// SPDX-License-Identifier: MIT
// readd_after_close_under_dup_test — a number closed under its kevent while
// a dup keeps the file open leaves the kernel's item for (file, number)
// behind (the REMOVE's EPOLL_CTL_DEL finds the number closed); dup2 of the
// file to that number and a new ADD failed with EEXIST on both backends.
// Found by libevent's regress main/dup_fd over libkevent-kqueue
// (docs/kqueue.md). The ADD must succeed and report.
#include "kevent_test.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace kevent_test;

namespace {

class ReaddAfterCloseUnderDup : public QueueTest {};

TEST_P(ReaddAfterCloseUnderDup, AddAfterDup2Works) {
	int sv[2];
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv));
	int d = dup(sv[1]);
	ASSERT_GE(d, 0);
	ukevent a = make(KEVENT_POLL, static_cast<uint32_t>(d), POLLIN, KEVENT_REQ_ALWAYS_QUEUE, 1);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &a));
	ASSERT_EQ(0, close(d));
	ukevent rm = make(KEVENT_POLL, static_cast<uint32_t>(d), POLLIN);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &rm));
	ASSERT_EQ(d, dup2(sv[1], d));
	ukevent b =
		make(KEVENT_POLL, static_cast<uint32_t>(d), POLLOUT, KEVENT_REQ_ALWAYS_QUEUE, 2);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &b))
		<< "the ADD was copied back: error " << -static_cast<int32_t>(b.ret_data[1]);
	auto got = collect(kfd, {2});
	ASSERT_EQ(1u, got.count(2));
	EXPECT_EQ(unsigned(POLLOUT), got[2].ret_data[0]);
	ukevent rm2 = make(KEVENT_POLL, static_cast<uint32_t>(d), POLLOUT);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &rm2));
	close(d);
	close(sv[0]);
	close(sv[1]);
}

KEVENT_INSTANTIATE_BACKENDS(ReaddAfterCloseUnderDup);

} // namespace
