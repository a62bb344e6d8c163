// SPDX-License-Identifier: MIT
// queue_watch_loop_test — issue 14 item 10.
//
// Bug: io_uring accepted a POLL kevent on the queue's own descriptor and two
// queues watching each other; epoll refuses both (EINVAL for itself, ELOOP
// for a loop, both EINVAL per entry: kevent_ctl(3)). A queue that watches
// itself, or a loop of queues, can never settle.
//
// Root cause: on io_uring a watch is an io_uring poll plus an item in a
// private mirror epoll set, and neither is an edge in the graph of nested
// epoll files in which the kernel looks for loops: the queue's descriptor
// (its front epoll file) never contained the queues it watched.
//
// Fix (src/backend/uring/uring_watch.cpp, mirror()): a watched file that
// is itself an epoll file is also added, with empty interest, to the
// queue's front epoll file, so the kernel checks loops and nesting depth on
// the same graph as with the epoll backend.
#include "kevent_test.hpp"

#include <poll.h>
#include <unistd.h>

#include <vector>

using kevent_test::make;

namespace {

// One POLL/POLLIN ADD of `fd` into `q`: the entry's errno, or 0 if it was
// accepted (registered, or copied back as ready at ADD). The call itself
// must succeed.
int watch(int q, int fd) {
	ukevent uk = make(KEVENT_POLL, uint64_t(fd), POLLIN);
	int r = kevent_ctl(q, KEVENT_CTL_ADD, 1, &uk);
	EXPECT_GE(r, 0) << std::strerror(errno);
	if (r <= 0 || !(uk.ret_flags & KEVENT_RET_BROKEN))
		return 0;
	return -static_cast<int>(uk.ret_data[1]);
}

int unwatch(int q, int fd) {
	ukevent uk = make(KEVENT_POLL, uint64_t(fd), POLLIN);
	return kevent_ctl(q, KEVENT_CTL_REMOVE, 1, &uk);
}

} // namespace

class QueueWatchLoop : public kevent_test::QueueTest {
protected:
	int open_queue() {
		int q = kevent_init(nullptr, 0, GetParam().flags);
		EXPECT_GE(q, 0) << std::strerror(errno);
		return q;
	}
};

TEST_P(QueueWatchLoop, QueueWatchingItselfIsRefused) {
	EXPECT_EQ(EINVAL, watch(kfd, kfd));
	EXPECT_EQ(0u, kevent_test::queue_stats(kfd).registered);
}

TEST_P(QueueWatchLoop, TwoQueuesWatchingEachOtherAreRefused) {
	int b = open_queue();
	ASSERT_GE(b, 0);
	ASSERT_EQ(0, watch(kfd, b)) << "nesting one queue in another is allowed";
	EXPECT_EQ(EINVAL, watch(b, kfd)) << "the loop back";
	EXPECT_EQ(0u, kevent_test::queue_stats(b).registered);
	// Once the first watch is gone, the other direction is no loop.
	ASSERT_EQ(0, unwatch(kfd, b));
	EXPECT_EQ(0, watch(b, kfd));
	EXPECT_EQ(0, kevent_close(b));
}

TEST_P(QueueWatchLoop, LoopOfThreeQueuesIsRefused) {
	int b = open_queue(), c = open_queue();
	ASSERT_GE(b, 0);
	ASSERT_GE(c, 0);
	ASSERT_EQ(0, watch(kfd, b));
	ASSERT_EQ(0, watch(b, c));
	EXPECT_EQ(EINVAL, watch(c, kfd));
	EXPECT_EQ(0u, kevent_test::queue_stats(c).registered);
	EXPECT_EQ(0, kevent_close(c));
	EXPECT_EQ(0, kevent_close(b));
}

TEST_P(QueueWatchLoop, NestedQueueStillReportsItsEvents) {
	int b = open_queue();
	ASSERT_GE(b, 0);
	ASSERT_EQ(0, watch(kfd, b));
	ukevent user = make(KEVENT_UNOTIFY, 7, 0);
	ASSERT_EQ(0, kevent_ctl(b, KEVENT_CTL_ADD, 1, &user));
	ASSERT_EQ(1, kevent_ctl(b, KEVENT_CTL_READY, 1, &user));
	auto ev = kevent_test::get(kfd, 1, 4, 2000);
	ASSERT_EQ(1u, ev.size()) << "the inner queue's readiness seen by the outer one";
	EXPECT_EQ(uint64_t(b), ev[0].id.raw_u64);
	EXPECT_EQ(0, kevent_close(b));
}

KEVENT_INSTANTIATE_BACKENDS(QueueWatchLoop);

// Both backends nest queues equally deep: a chain of queues, each watching
// the next, is refused at the same link on both (the kernel's limit of
// nested epoll files, which io_uring queues now count the same way).
TEST(QueueWatchLoopDepth, ChainOfQueuesIsRefusedAtTheSameDepthOnBothBackends) {
	auto first_refusal = [](unsigned flags, int &err) {
		std::vector<int> qs;
		int refused_at = -1;
		for (int i = 0; i < 10 && refused_at < 0; i++) {
			int q = kevent_init(nullptr, 0, flags);
			if (q < 0)
				return -2;
			qs.push_back(q);
			if (qs.size() > 1) {
				// The newest queue is watched by the one before.
				if (int e = watch(qs[qs.size() - 2], q); e != 0) {
					refused_at = i;
					err = e;
				}
			}
		}
		for (int q : qs)
			kevent_close(q);
		return refused_at;
	};
	int err_epoll = 0, err_uring = 0;
	int at_epoll = first_refusal(KEVENT_INIT_EPOLL, err_epoll);
	int at_uring = first_refusal(KEVENT_INIT_URING, err_uring);
	if (at_uring == -2)
		GTEST_SKIP() << "io_uring is not available here";
	EXPECT_EQ(at_epoll, at_uring) << "the link of the chain refused";
	EXPECT_EQ(err_epoll, err_uring);
	EXPECT_EQ(0u, kevent_test::global_stats().queues);
}
