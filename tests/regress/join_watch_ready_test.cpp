// SPDX-License-Identifier: MIT
// join_watch_ready_test — found by the differential fuzzer (issue 8).
//
// Bug: a kevent ADDed on an fd that another kevent of the queue already
// watches (SOCKET RECV and POLL POLLIN on one socket, say) was not noticed
// as ready at ADD when data was already waiting. Both share one epoll watch;
// the second interest was no wider than the first, so the library made no
// epoll_ctl, the kernel did not look at the file again, and the batch's
// epoll_wait(0) found nothing. The new kevent stayed registered, not ready,
// and (edge-triggered, the default) would fire only at the next write: a
// lost wake-up. kevent_ctl(3) KEVENT_CTL_ADD and docs/semantics.md "ADD —
// ready at add": an entry already ready at ADD is copied back DONE.
//
// Fix: an ADD that joins a watch the kernel holds already polls the fd for
// the new kevent (src/core/queue_ctl.cpp, attach_fd).
#include "kevent_test.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

using kevent_test::get;
using kevent_test::make;

class JoinWatchReady : public kevent_test::QueueTest {};

TEST_P(JoinWatchReady, SecondKeventOnAWatchedFdSeesDataWaitingAtAdd) {
	int sv[2];
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));

	// The first kevent: registered while the socket is idle.
	ukevent recv = make(KEVENT_SOCKET, uint64_t(sv[0]), KEVENT_SOCKET_RECV, 0, 1);
	ASSERT_EQ(0, add(recv));
	// Data arrives and is reported once; it stays unread.
	ASSERT_EQ(1, write(sv[1], "x", 1));
	auto ev = get(kfd, 1, 4, 100);
	ASSERT_EQ(1u, ev.size());
	EXPECT_EQ(KEVENT_SOCKET, ev[0].type);

	// A second kevent on the same socket: the data is there now.
	ukevent poll_in = make(KEVENT_POLL, uint64_t(sv[0]), POLLIN, 0, 2);
	ASSERT_EQ(1, add(poll_in)) << "ready at ADD, so copied back";
	EXPECT_EQ(KEVENT_RET_DONE, poll_in.ret_flags);
	EXPECT_EQ(unsigned(POLLIN), poll_in.ret_data[0] & POLLIN);
	EXPECT_EQ(2u, kevent_test::cookie_of(poll_in));

	// With ALWAYS_QUEUE it is kept and delivered instead.
	ukevent queued = make(KEVENT_POLL, uint64_t(sv[0]), POLLIN, KEVENT_REQ_ALWAYS_QUEUE, 3);
	ASSERT_EQ(0, add(queued));
	ev = get(kfd, 0, 4, 0);
	ASSERT_EQ(1u, ev.size());
	EXPECT_EQ(KEVENT_POLL, ev[0].type);
	EXPECT_EQ(3u, kevent_test::cookie_of(ev[0]));

	close(sv[0]);
	close(sv[1]);
}

KEVENT_INSTANTIATE_BACKENDS(JoinWatchReady);
