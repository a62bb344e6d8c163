// SPDX-License-Identifier: MIT
// fork_child_hangs_on_inherited_queue_test — issue 21, item 1.
//
// Bug: (a) a thread of the parent blocks in kevent_get_events; main forks;
// the child's kevent_close of the inherited queue never returned: it spun in
// sched_yield waiting for the queue's references to drop, and the reference
// was the blocked thread's, a thread that does not exist in the child.
// (b) Two threads create and close queues while main forks children that
// only call kevent_init: some children hung the same way. fork(2) copies the
// descriptor table before memory, so a number the child's table has free may
// still name a parent's queue in the child's memory; kevent_init got that
// number, installed its queue over the inherited one and "retired" it:
// shut it down (a write on the parent's eventfd) and waited for references
// and lookups in progress that vanished threads held.
//
// Root cause: the child treated an inherited queue as its own, waiting for
// its threads and tearing down its state.
//
// Fix: an inherited queue is never waited for, shut down or freed in the
// child (src/core/descriptor_table.cpp): kevent_close closes the child's
// copies of the descriptors it opened at kevent_init and forgets it;
// installing over it forgets it. The fork child handler clears the counts of
// lookups in progress, which only vanished threads can hold
// (docs/semantics.md, "fork(2)").
#include "child_process.hpp"
#include "kevent_test.hpp"

#include <fcntl.h>

#include <atomic>
#include <thread>
#include <vector>

namespace {

using namespace kevent_test;

class ForkChildHangsOnInheritedQueue : public QueueTest {};

TEST_P(ForkChildHangsOnInheritedQueue, CloseReturnsWhileAParentThreadIsBlockedInTheQueue) {
	std::atomic<int> got{-2};
	std::thread blocked([&] {
		ukevent buf[4];
		got = kevent_get_events(kfd, 1, 4, nullptr, buf, 0);
	});
	// Let it block (it holds a reference to the queue while it does); the
	// test cannot pass wrongly if it has not yet: the child then simply
	// has nothing to wait for.
	usleep(50000);
	int q = kfd;
	pid_t child = fork_child([q] {
		if (kevent_close(q) != 0)
			return 1;
		if (fcntl(q, F_GETFD) != -1)
			return 2; // the child's copy of the number is closed
		int own = kevent_init(nullptr, 0, 0);
		if (own < 0 || kevent_close(own) != 0)
			return 3;
		return 0;
	});
	ASSERT_GT(child, 0);
	child_end e = wait_child(child, 10);
	EXPECT_TRUE(e.ok()) << "child " << e.describe();
	// The parent's blocked thread is still served by its queue.
	ukevent u = make(KEVENT_UNOTIFY, 1, 0, 0, 7);
	ASSERT_EQ(0, add(u));
	u.ret_data[0] = 1;
	ASSERT_EQ(1, kevent_ctl(kfd, KEVENT_CTL_READY, 1, &u));
	blocked.join();
	EXPECT_EQ(1, got.load());
}

TEST_P(ForkChildHangsOnInheritedQueue, InitReturnsWhileParentThreadsCreateAndCloseQueues) {
	unsigned flags = GetParam().flags;
	// io_uring queues cost far more to make and tear down: fewer rounds.
	const int forks = (flags == KEVENT_INIT_URING ? 60 : 300) / sanitizer_divisor;
	std::atomic<bool> stop{false};
	std::vector<std::thread> churn;
	for (int t = 0; t < 2; t++)
		churn.emplace_back([&] {
			// Calls in progress on each queue too: they hold references
			// and lookups that the child must not wait for.
			ukevent u = make(KEVENT_UNOTIFY, 1, 0);
			ukevent buf[1];
			timespec zero{};
			while (!stop.load(std::memory_order_relaxed)) {
				int q = kevent_init(nullptr, 0, churn_backend(flags));
				if (q < 0)
					continue;
				kevent_ctl(q, KEVENT_CTL_ADD, 1, &u);
				kevent_get_events(q, 0, 1, &zero, buf, 0);
				kevent_close(q);
			}
		});
	// One hang is enough to fail: each costs its full wait.
	fork_rounds r = fork_many(
		forks, 5,
		[flags] {
			// Several: each takes the lowest free number, which may be
			// one the parent's memory still gives to a queue.
			int q[4];
			for (int &x : q)
				if ((x = kevent_init(nullptr, 0, flags)) < 0)
					return 1;
			for (int x : q)
				if (kevent_close(x) != 0)
					return 2;
			return 0;
		},
		1);
	stop = true;
	for (auto &t : churn)
		t.join();
	EXPECT_EQ(0, r.bad) << "a child " << r.last;
}

KEVENT_INSTANTIATE_BACKENDS(ForkChildHangsOnInheritedQueue);

} // namespace
