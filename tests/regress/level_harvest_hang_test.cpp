// SPDX-License-Identifier: MIT
// level_harvest_hang_test — found in review (issue 7's session).
//
// Bug: the one look at the backend after an ADD batch (queue::harvest_now)
// read 256 events at a time "until a look returns fewer". epoll puts a
// level-triggered item back on its ready list each time it reports it, so
// with 256 or more LEVEL kevents on readable files every look returned 256
// and the ADD never returned — holding the queue lock, so every other
// thread of the queue hung with it.
//
// Fix: at most one pass over every watch (src/core/queue_wait.cpp,
// dispatch_pending, as harvest_now is called now).
#include "kevent_test.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <vector>

using kevent_test::make;

class LevelHarvestHang : public kevent_test::QueueTest {};

TEST_P(LevelHarvestHang, AddOfManyReadyLevelKeventsReturns) {
	constexpr int n = 300; // more than one look's 256
	std::vector<int> fds;
	std::vector<ukevent> uk;
	for (int i = 0; i < n; i++) {
		int sv[2];
		ASSERT_EQ(0,
			  socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
		fds.push_back(sv[0]);
		fds.push_back(sv[1]);
		ASSERT_EQ(1, write(sv[1], "x", 1)); // readable, and stays so
		uk.push_back(make(KEVENT_SOCKET, uint64_t(sv[0]), KEVENT_SOCKET_RECV,
				  KEVENT_REQ_LEVEL | KEVENT_REQ_ALWAYS_QUEUE, uint64_t(i)));
	}
	alarm(20); // the hang, if it comes back, fails here rather than at ctest's timeout
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, n, uk.data()));
	// ... and a later ADD looks again while all of them are still ready.
	int extra[2];
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, extra));
	ukevent one = make(KEVENT_SOCKET, uint64_t(extra[0]), KEVENT_SOCKET_RECV,
			   KEVENT_REQ_LEVEL | KEVENT_REQ_ALWAYS_QUEUE, 999);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &one));
	alarm(0);
	auto ev = kevent_test::get(kfd, n, 2 * n, 2000);
	EXPECT_EQ(size_t(n), ev.size()) << "every readable socket reported once";
	close(extra[0]);
	close(extra[1]);
	for (int fd : fds)
		close(fd);
}

KEVENT_INSTANTIATE_BACKENDS(LevelHarvestHang);
