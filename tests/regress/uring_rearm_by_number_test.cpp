// SPDX-License-Identifier: MIT
// uring_rearm_by_number_test — found by the differential fuzzer on io_uring
// (issue 14, "Beyond the list").
//
// Bug: the io_uring backend named a watched file to every poll by its
// number, and a level watch (after each report) or a multishot poll the
// kernel ended is armed again later, at a wait. If the program had closed
// the number, or another file held it by then, the re-armed poll watched
// nothing or the new file: the old file (which docs/semantics.md says a
// watch keeps open until REMOVE) was let go and its readiness lost, and the
// new file's events reached the old kevent.
//
// Fix: a watched file is installed in the ring's fixed-file table at the
// slot of its number when it is first watched, and every poll uses
// IOSQE_FIXED_FILE (src/backend/uring/uring_backend.hpp, the ledger).
//
// Both backends run it: epoll, whose item dies with the file's last
// reference, must not report the new file's events to the old kevent either.
#include "kevent_test.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

using kevent_test::make;

class UringRearmByNumber : public kevent_test::QueueTest {
protected:
	static void pair(int sv[2]) {
		ASSERT_EQ(0,
			  socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
	}
	bool uring() const { return GetParam().flags == KEVENT_INIT_URING; }
};

TEST_P(UringRearmByNumber, LevelWatchKeepsTheOldFileAfterTheNumberIsReused) {
	int a[2], b[2];
	pair(a);
	pair(b);
	ASSERT_EQ(1, write(a[1], "x", 1)); // the watched file is readable, and stays so
	ukevent uk = make(KEVENT_POLL, uint64_t(a[0]), POLLIN, KEVENT_REQ_LEVEL, 1);
	ASSERT_EQ(1, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &uk)) << "ready at ADD: copied back";
	uk = make(KEVENT_POLL, uint64_t(a[0]), POLLIN, KEVENT_REQ_LEVEL | KEVENT_REQ_ALWAYS_QUEUE,
		  1);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &uk));
	ASSERT_EQ(1u, kevent_test::get(kfd, 1, 4, 1000).size());
	// The number now names b[0], which nothing has written to; the old
	// file lives on only through the watch.
	ASSERT_EQ(a[0], dup3(b[0], a[0], O_CLOEXEC));
	auto ev = kevent_test::get(kfd, 0, 4, 100);
	if (uring()) {
		// The watch holds the old, readable file: LEVEL reports it
		// again (on epoll the item died with the file's last reference).
		ASSERT_EQ(1u, ev.size()) << "the old file's readiness was lost";
		EXPECT_EQ(unsigned(POLLIN), ev[0].ret_data[0] & POLLIN);
	} else {
		EXPECT_EQ(0u, ev.size()) << "the new file, never written to, was reported";
	}
	ukevent rm = make(KEVENT_POLL, uint64_t(a[0]), POLLIN);
	kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &rm);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
}

TEST_P(UringRearmByNumber, NewFileEventsNeverReachTheOldKevent) {
	int a[2], b[2];
	pair(a);
	pair(b);
	// Default mode: a multishot poll on io_uring. A second kevent on the
	// number with WAKEUP_ALL makes the queue arm the watch again (a
	// change of interest) without a wait in between.
	ukevent uk = make(KEVENT_POLL, uint64_t(a[0]), POLLIN, 0, 1);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &uk));
	ukevent mod = uk;
	mod.req_flags = KEVENT_REQ_LEVEL;
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_MODIFY, 1, &mod)); // re-armed, level
	EXPECT_EQ(0u, kevent_test::get(kfd, 0, 4, 0).size());
	ASSERT_EQ(a[0], dup3(b[0], a[0], O_CLOEXEC)); // the number: another file
	ASSERT_EQ(1, write(b[1], "y", 1));            // ... which becomes readable
	auto ev = kevent_test::get(kfd, 0, 4, 100);
	EXPECT_EQ(0u, ev.size()) << "the new file's data reached the old kevent";
	// The old file is still watched on io_uring: its data is reported (on
	// epoll it was closed with its number: EPIPE).
	ssize_t sent = send(a[1], "x", 1, MSG_NOSIGNAL);
	EXPECT_EQ(uring() ? 1 : -1, sent);
	ev = kevent_test::get(kfd, 0, 4, 200);
	if (uring()) {
		EXPECT_EQ(1u, ev.size()) << "the old file is no longer watched";
	}
	ukevent rm = make(KEVENT_POLL, uint64_t(a[0]), POLLIN);
	kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &rm);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
}

KEVENT_INSTANTIATE_BACKENDS(UringRearmByNumber);
