// Re-registration (queue::park / revive): REMOVE of an fd's last kevent
// leaves its watch in the backend until the next wait, and an ADD of the
// same file before then re-arms it in place. What must hold: it costs one
// backend call, the new kevent sees what is ready at ADD, a number closed
// and reused in between is a new file (of whatever kind), and a removed fd
// reports nothing.
#include "kevent_test.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

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
	// Leaves fd's watch parked.
	void add_then_remove(int fd) {
		ukevent uk = recv_kevent(fd, 1);
		ASSERT_EQ(0, add(uk));
		ASSERT_EQ(0, remove(recv_kevent(fd, 1)));
	}
};

TEST_P(Reregister, RemoveThenAddOfTheSameSocketIsOneBackendCall) {
	ukevent uk = recv_kevent(sv[0], 1);
	ASSERT_EQ(0, add(uk));
	ASSERT_TRUE(kevent_test::get(kfd, 0, 4, 0).empty());
	uint64_t before = calls();
	ASSERT_EQ(0, remove(recv_kevent(sv[0], 1)));
	uk = recv_kevent(sv[0], 2);
	ASSERT_EQ(0, add(uk));
	// The re-arm (EPOLL_CTL_MOD; io_uring: the identity probe) and the
	// batch's one look for readiness (epoll_wait(0); io_uring: none).
	EXPECT_LE(calls() - before, 2u) << "was DEL + ADD (+ a failed EXCLUSIVE ADD) + the look";
	ASSERT_EQ(1, write(sv[1], "x", 1));
	auto ev = kevent_test::get(kfd, 1, 4, 2000);
	ASSERT_EQ(1u, ev.size());
	EXPECT_EQ(2u, kevent_test::cookie_of(ev[0])) << "the new kevent, with its cookie";
	EXPECT_EQ(KEVENT_SOCKET_RECV, ev[0].ret_data[0]);
}

// The kernel looks at the file again when the watch is re-armed: data that
// was already waiting is "ready at the time of ADD" (SPEC §4).
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
	// ... and after that wait it is out of the backend: a new ADD is a new
	// watch, which finds the byte.
	uk = recv_kevent(sv[0], 3);
	ASSERT_EQ(0, add(uk));
	expect_one(3);
}

// Between REMOVE and ADD the number was closed and now names a pipe: the
// ADD is of the pipe (PIPE accepts it, its events are the pipe's), not of
// the parked socket watch.
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

// The kind the parked watch remembers is checked too: a PIPE kevent on a
// revived socket watch is refused, and the watch stays usable.
TEST_P(Reregister, AnOriginOfTheWrongKindIsRefusedOnARevivedWatch) {
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

// A program that adds and removes without ever waiting: the parked watches
// are settled once there are 1024 of them, not kept until a wait that never
// comes. Seen in the backend calls: the DELs happen without a wait.
TEST_P(Reregister, ParkedWatchesAreSettledWithoutAWaitPastABound) {
	constexpr int pairs = 1500;
	std::vector<int> fds;
	for (int i = 0; i < pairs; i++) {
		int p[2];
		ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p));
		fds.push_back(p[0]);
		fds.push_back(p[1]);
	}
	uint64_t start = calls();
	uint64_t one = 0;
	for (int i = 0; i < pairs; i++) {
		add_then_remove(fds[2 * i]);
		if (i == 0)
			one = calls() - start; // an ADD and a REMOVE that parks
	}
	uint64_t extra = calls() - start - one * pairs;
	EXPECT_GE(extra, 1024u) << "one DEL per settled watch, before any wait";
	for (int fd : fds)
		close(fd);
}

} // namespace

KEVENT_INSTANTIATE_BACKENDS(Reregister);
