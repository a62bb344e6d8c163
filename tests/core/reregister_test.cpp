// SPDX-License-Identifier: MIT
// Re-registration: REMOVE then ADD of the same fd, and REMOVE then close(2).
// What must hold: the ADD sees what is ready at the ADD, a number closed and
// reused in between is a new file (of whatever kind), a removed fd reports
// nothing, and REMOVE takes the fd out of the backend at once — a program
// may close(2) right after, while the file lives on in a fork child or a
// dup, and a watch left behind could never be taken out again (epoll names
// an item by file *and* number; io_uring's poll would even keep the file
// open). The cost of a re-registration is pinned too.
#include "kevent_test.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using kevent_test::make;
using kevent_test::QueueTest;

class Reregister : public QueueTest {
protected:
	int sv[2] = {-1, -1};

	void SetUp() override {
		QueueTest::SetUp();
		if (IsSkipped())
			return;
		ASSERT_EQ(0,
			  socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv));
	}
	void TearDown() override {
		for (int fd : sv)
			if (fd >= 0)
				close(fd);
		QueueTest::TearDown();
	}

	ukevent recv_kevent(int fd, uint64_t cookie) {
		return make(KEVENT_SOCKET, static_cast<uint64_t>(fd), KEVENT_SOCKET_RECV,
			    KEVENT_REQ_ALWAYS_QUEUE, cookie);
	}
	int remove(ukevent uk) { return kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &uk); }
	uint64_t calls() { return kevent_test::queue_stats(kfd).backend_calls; }
	// Exactly one event comes, from the kevent with this cookie.
	void expect_one(uint64_t cookie) {
		auto ev = kevent_test::get(kfd, 1, 4, 2000);
		ASSERT_EQ(1u, ev.size());
		EXPECT_EQ(cookie, kevent_test::cookie_of(ev[0]));
	}
	// Registers a RECV kevent on fd and removes it again.
	void add_then_remove(int fd) {
		ukevent uk = recv_kevent(fd, 1);
		ASSERT_EQ(0, add(uk));
		ASSERT_EQ(0, remove(recv_kevent(fd, 1)));
	}
};

TEST_P(Reregister, RemoveThenAddOfTheSameSocketIsThreeBackendCallsAtMost) {
	ukevent uk = recv_kevent(sv[0], 1);
	ASSERT_EQ(0, add(uk));
	ASSERT_TRUE(kevent_test::get(kfd, 0, 4, 0).empty());
	uint64_t before = calls();
	ASSERT_EQ(0, remove(recv_kevent(sv[0], 1)));
	uk = recv_kevent(sv[0], 2);
	ASSERT_EQ(0, add(uk));
	// EPOLL_CTL_DEL, EPOLL_CTL_ADD and the batch's one look for readiness
	// (epoll_wait(0)); a RECV socket's ADD no longer first tries
	// EPOLLEXCLUSIVE, which epoll refuses beside EPOLLRDHUP (that made 4).
	// io_uring: the REMOVE also submits its POLL_REMOVE at once (a poll
	// holds the file open).
	const uint64_t limit = GetParam().flags == KEVENT_INIT_URING ? 4 : 3;
	EXPECT_LE(calls() - before, limit) << "DEL + ADD + the look";
	ASSERT_EQ(1, write(sv[1], "x", 1));
	auto ev = kevent_test::get(kfd, 1, 4, 2000);
	ASSERT_EQ(1u, ev.size());
	EXPECT_EQ(2u, kevent_test::cookie_of(ev[0])) << "the new kevent, with its cookie";
	EXPECT_EQ(KEVENT_SOCKET_RECV, ev[0].ret_data[0]);
}

// The kernel looks at the file again when the watch is re-armed: data that
// was already waiting is "ready at the time of ADD" (docs/semantics.md "ADD —
// ready at add").
TEST_P(Reregister, DataWaitingBeforeTheRemoveIsReadyAtTheAdd) {
	ukevent uk = recv_kevent(sv[0], 1);
	ASSERT_EQ(0, add(uk));
	ASSERT_EQ(1, write(sv[1], "x", 1));
	auto ev = kevent_test::get(kfd, 1, 4, 2000);
	ASSERT_EQ(1u, ev.size()) << "the first kevent saw the byte (and nobody read it)";
	ASSERT_EQ(0, remove(recv_kevent(sv[0], 1)));
	uk = recv_kevent(sv[0], 2);
	ASSERT_EQ(0, add(uk)) << "ALWAYS_QUEUE: ready at ADD goes to the queue";
	ev = kevent_test::get(kfd, 1, 4, 2000);
	ASSERT_EQ(1u, ev.size()) << "the byte is still there: the new kevent is ready";
	EXPECT_EQ(2u, kevent_test::cookie_of(ev[0]));
}

TEST_P(Reregister, ARemovedSocketReportsNothing) {
	ukevent uk = recv_kevent(sv[0], 1);
	ASSERT_EQ(0, add(uk));
	ASSERT_EQ(0, remove(recv_kevent(sv[0], 1)));
	ASSERT_EQ(1, write(sv[1], "x", 1));
	EXPECT_TRUE(kevent_test::get(kfd, 0, 4, 50).empty());
	EXPECT_EQ(0u, kevent_test::queue_stats(kfd).registered);
	// A new ADD is a new watch, which finds the byte.
	uk = recv_kevent(sv[0], 3);
	ASSERT_EQ(0, add(uk));
	expect_one(3);
}

// Between REMOVE and ADD the number was closed and now names a pipe: the
// ADD is of the pipe (PIPE accepts it, its events are the pipe's).
TEST_P(Reregister, ANumberReusedByAnotherKindOfFileIsANewFile) {
	int fd = sv[0];
	add_then_remove(fd);
	int p[2];
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC | O_NONBLOCK));
	ASSERT_EQ(fd, dup3(p[0], fd, O_CLOEXEC)) << "the socket's number now names the pipe";
	close(p[0]);
	ukevent sock = recv_kevent(fd, 4);
	ASSERT_EQ(1, add(sock)) << "not a socket any more";
	EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, sock.ret_flags);
	EXPECT_EQ(uint32_t(-EINVAL), sock.ret_data[1]);
	ukevent pk = make(KEVENT_PIPE, static_cast<uint64_t>(fd), KEVENT_PIPE_RECV, 0, 5);
	ASSERT_EQ(0, add(pk)) << std::strerror(-int(pk.ret_data[1]));
	ASSERT_EQ(1, write(p[1], "y", 1));
	expect_one(5);
	close(p[1]);
}

// The kind is checked again at the new ADD: a PIPE kevent on the socket is
// refused, and the socket can still be registered.
TEST_P(Reregister, AnOriginOfTheWrongKindIsRefusedAfterARemove) {
	add_then_remove(sv[0]);
	ukevent pk = make(KEVENT_PIPE, static_cast<uint64_t>(sv[0]), KEVENT_PIPE_RECV, 0, 2);
	ASSERT_EQ(1, add(pk));
	EXPECT_EQ(uint32_t(-EINVAL), pk.ret_data[1]) << "a socket is not a pipe";
	ukevent uk = recv_kevent(sv[0], 3);
	ASSERT_EQ(0, add(uk));
	ASSERT_EQ(1, write(sv[1], "x", 1));
	expect_one(3);
}

// A number closed and reused by a new socket between REMOVE and ADD.
TEST_P(Reregister, ANumberReusedByAnotherSocketIsANewWatch) {
	int fd = sv[0];
	add_then_remove(fd);
	int other[2];
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, other));
	ASSERT_EQ(fd, dup3(other[0], fd, O_CLOEXEC));
	close(other[0]);
	ukevent uk = recv_kevent(fd, 2);
	ASSERT_EQ(0, add(uk));
	// dup3 closed the old socket: its peer's hang-up is nobody's event now.
	EXPECT_TRUE(kevent_test::get(kfd, 0, 4, 50).empty());
	ASSERT_EQ(1, write(other[1], "y", 1));
	expect_one(2);
	close(other[1]);
}

// REMOVE, then close(2) while the file lives on (a dup here; a fork child
// or a prefork server's other processes elsewhere): nothing of the watch is
// left. A LEVEL kevent left behind on a readable file would make every wait
// return at once: a spinning poller.
TEST_P(Reregister, RemoveThenCloseWithTheFileAliveElsewhereLeavesNothing) {
	ukevent uk = make(KEVENT_SOCKET, static_cast<uint64_t>(sv[0]), KEVENT_SOCKET_RECV,
			  KEVENT_REQ_LEVEL | KEVENT_REQ_ALWAYS_QUEUE, 1);
	ASSERT_EQ(0, add(uk));
	ASSERT_EQ(0, remove(uk));
	int alive = fcntl(sv[0], F_DUPFD_CLOEXEC, 0);
	ASSERT_GE(alive, 0);
	ASSERT_EQ(0, close(sv[0]));
	sv[0] = -1;
	ASSERT_EQ(1, write(sv[1], "x", 1)) << "the file is readable from now on";
	uint64_t before = calls();
	EXPECT_TRUE(kevent_test::get(kfd, 1, 4, 100).empty());
	EXPECT_LE(calls() - before, 4u) << "the 100 ms wait returned again and again";
	close(alive);
}

// REMOVE, then close(2) with no wait in between: the socket is closed at
// once (a poll left on io_uring would hold the file, and the peer would not
// see the close until the queue's next wait).
TEST_P(Reregister, RemoveThenCloseClosesTheSocketAtOnce) {
	ukevent uk = recv_kevent(sv[0], 1);
	ASSERT_EQ(0, add(uk));
	ASSERT_EQ(0, remove(uk));
	ASSERT_EQ(0, close(sv[0]));
	sv[0] = -1;
	char c;
	EXPECT_EQ(0, read(sv[1], &c, 1)) << "EOF, not EAGAIN: " << std::strerror(errno);
}

// The watch of a removed socket stays with the kernel, silent, until the
// next ADD (epoll: src/core/watch_table.hpp, "dormant"): a hang-up meanwhile
// is nobody's event, and the ADD finds the socket hung up.
TEST_P(Reregister, ARemovedSocketThatHangsUpIsBrokenAtTheNextAdd) {
	add_then_remove(sv[0]);
	ASSERT_EQ(0, close(sv[1]));
	sv[1] = -1;
	EXPECT_TRUE(kevent_test::get(kfd, 0, 4, 50).empty()) << "removed: nothing to report";
	ukevent uk = recv_kevent(sv[0], 2);
	ASSERT_EQ(1, add(uk)) << "hung up at ADD: copied back";
	EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, uk.ret_flags);
	EXPECT_EQ(2u, kevent_test::cookie_of(uk));
	EXPECT_EQ(0u, kevent_test::queue_stats(kfd).registered);
}

// REMOVE, close(2) with the file alive elsewhere, then the file hangs up
// and gets data: the watch left behind reports nothing, and the number,
// reused by a new socket, is a new watch that loses none of its events.
TEST_P(Reregister, RemoveThenCloseThenTheOldFileHangsUpReportsNothing) {
	int fd = sv[0];
	add_then_remove(fd);
	int alive = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	ASSERT_GE(alive, 0);
	ASSERT_EQ(0, close(fd));
	sv[0] = -1;
	ASSERT_EQ(1, write(sv[1], "x", 1));
	ASSERT_EQ(0, close(sv[1])) << "the old file hangs up";
	sv[1] = -1;
	uint64_t before = calls();
	EXPECT_TRUE(kevent_test::get(kfd, 1, 4, 100).empty());
	EXPECT_LE(calls() - before, 4u) << "the 100 ms wait returned again and again";
	int other[2];
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, other));
	sv[1] = other[1];
	if (other[0] != fd) {
		ASSERT_EQ(fd, dup3(other[0], fd, O_CLOEXEC));
		close(other[0]);
	}
	sv[0] = fd;
	ukevent uk = recv_kevent(fd, 3);
	ASSERT_EQ(0, add(uk)) << "the new socket is neither ready nor hung up";
	EXPECT_TRUE(kevent_test::get(kfd, 0, 4, 50).empty()) << "the old file's hang-up";
	ASSERT_EQ(1, write(sv[1], "y", 1));
	expect_one(3);
	close(alive);
}

// A refused ADD (the wrong kind) on the number of a removed socket changes
// nothing: the socket's watch stays silent, and a later ADD still works.
TEST_P(Reregister, ARefusedAddAfterARemoveLeavesTheSocketSilent) {
	add_then_remove(sv[0]);
	ukevent pk = make(KEVENT_PIPE, static_cast<uint64_t>(sv[0]), KEVENT_PIPE_RECV, 0, 2);
	ASSERT_EQ(1, add(pk));
	EXPECT_EQ(uint32_t(-EINVAL), pk.ret_data[1]);
	ASSERT_EQ(1, write(sv[1], "x", 1));
	EXPECT_TRUE(kevent_test::get(kfd, 0, 4, 50).empty()) << "nothing is registered";
	ukevent uk = recv_kevent(sv[0], 3);
	ASSERT_EQ(0, add(uk)) << "ALWAYS_QUEUE: the byte waiting is queued";
	expect_one(3);
}

// A number closed and reused without REMOVE: an ADD refused for the new
// file's kind changes nothing (the old kevent is not broken by it); the
// first ADD that is accepted delivers the old kevent BROKEN (EBADF).
TEST_P(Reregister, ARefusedAddOnAReusedNumberLeavesTheOldKeventAlone) {
	int fd = sv[0];
	ukevent old = recv_kevent(fd, 1);
	ASSERT_EQ(0, add(old));
	int p[2];
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC | O_NONBLOCK));
	ASSERT_EQ(fd, dup3(p[0], fd, O_CLOEXEC)) << "the socket's number now names a pipe";
	close(p[0]);
	ukevent sock = recv_kevent(fd, 2);
	ASSERT_EQ(1, add(sock));
	EXPECT_EQ(uint32_t(-EINVAL), sock.ret_data[1]) << "not a socket";
	EXPECT_TRUE(kevent_test::get(kfd, 0, 4, 0).empty()) << "the refused ADD broke nothing";
	EXPECT_EQ(1u, kevent_test::queue_stats(kfd).registered);
	ukevent pk = make(KEVENT_PIPE, static_cast<uint64_t>(fd), KEVENT_PIPE_RECV, 0, 3);
	ASSERT_EQ(0, add(pk));
	auto ev = kevent_test::get(kfd, 1, 4, 2000);
	ASSERT_EQ(1u, ev.size());
	EXPECT_EQ(1u, kevent_test::cookie_of(ev[0]));
	EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE,
		  ev[0].ret_flags & (KEVENT_RET_BROKEN | KEVENT_RET_DONE));
	EXPECT_EQ(uint32_t(-EBADF), ev[0].ret_data[1]);
	close(p[1]);
}

// A program that closes each number after REMOVE and gets it back for a new
// socket (a server's connections): every new socket's events arrive, and
// once the queue has seen that, an ADD costs no re-arm that fails (epoll:
// EPOLL_CTL_ADD and the look).
TEST_P(Reregister, ANumberClosedAfterEveryRemoveServesEachNewSocket) {
	int fd = sv[0];
	uint64_t last_add = 0;
	for (uint64_t round = 1; round <= 4; round++) {
		int other[2];
		ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
					other));
		ASSERT_EQ(fd, dup3(other[0], fd, O_CLOEXEC)) << "closes the last socket";
		close(other[0]);
		close(sv[1]);
		sv[1] = other[1];
		uint64_t before = calls();
		ukevent uk = recv_kevent(fd, round);
		ASSERT_EQ(0, add(uk)) << "round " << round;
		last_add = calls() - before;
		ASSERT_EQ(1, write(sv[1], "x", 1));
		expect_one(round);
		ASSERT_EQ(0, remove(recv_kevent(fd, round)));
	}
	if (GetParam().flags == KEVENT_INIT_EPOLL) {
		EXPECT_EQ(2u, last_add) << "EPOLL_CTL_ADD and the look";
	}
}

// What a REMOVEd kevent asked of the file goes with it: a POLL kevent for
// POLLOUT added after a RECV|SEND kevent on the socket was removed is not
// reported when a byte arrives (no new room to write), as on a socket never
// watched before. The epoll backend once re-armed the kept (dormant) watch
// for the removed kevent's POLLIN too (fuzz corpus regress-dormant-interest).
TEST_P(Reregister, ARemovedKeventsInterestGoesWithIt) {
	ukevent rs = make(KEVENT_SOCKET, static_cast<uint64_t>(sv[0]),
			  KEVENT_SOCKET_RECV | KEVENT_SOCKET_SEND, 0, 1);
	ASSERT_EQ(1, add(rs)) << "writable at ADD: copied back, not kept";
	ukevent pk = make(KEVENT_POLL, static_cast<uint64_t>(sv[0]), POLLOUT,
			  KEVENT_REQ_ALWAYS_QUEUE, 2);
	ASSERT_EQ(0, add(pk)) << "ALWAYS_QUEUE: writable at ADD, queued";
	expect_one(2);
	ASSERT_EQ(1, write(sv[1], "x", 1));
	auto ev = kevent_test::get(kfd, 0, 4, 0);
	EXPECT_TRUE(ev.empty()) << "POLLOUT reported for a byte received";
}

// LEVEL: a kevent removed and added again while data waits is ready at the
// ADD, each time, and a removed one does not make a wait spin.
TEST_P(Reregister, ALevelKeventRemovedAndAddedAgainIsReadyEachTime) {
	ukevent uk = make(KEVENT_SOCKET, static_cast<uint64_t>(sv[0]), KEVENT_SOCKET_RECV,
			  KEVENT_REQ_LEVEL | KEVENT_REQ_ALWAYS_QUEUE, 1);
	ASSERT_EQ(0, add(uk));
	ASSERT_EQ(1, write(sv[1], "x", 1));
	for (int i = 0; i < 3; i++) {
		expect_one(1);
		ASSERT_EQ(0, remove(uk));
		uint64_t before = calls();
		EXPECT_TRUE(kevent_test::get(kfd, 1, 4, 50).empty());
		EXPECT_LE(calls() - before, 4u) << "a removed LEVEL watch made the wait spin";
		ukevent again = uk;
		ASSERT_EQ(0, add(again));
	}
	expect_one(1);
}

} // namespace

KEVENT_INSTANTIATE_BACKENDS(Reregister);
