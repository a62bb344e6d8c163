// SPDX-License-Identifier: MIT
// naio_recv_after_close_reads_reused_number_test — issue 17, goal 3.
//
// Bug: on epoll, a kevent_aio_recv waited on a private dup of the socket
// but did its I/O on the caller's number. After close(2) of the socket and
// the number's reuse by another socket, the old peer's data woke the old
// recv through the dup, and it read the NEW socket's data into the old
// buffer (and the dup kept the old socket open: its peer saw no EOF).
//
// Root cause: the dup watched one file while recv(2) went to whatever the
// number named.
//
// Fix: one watch per (queue, number) on the number itself, re-armed by one
// EPOLL_CTL_MOD per wait, which fails when the number no longer names the
// watched file: the old operations then end with EBADF, and no descriptor
// of the library keeps the socket open (src/origin/aio.cpp naio_socket,
// docs/semantics.md "Asynchronous I/O"). On io_uring the request holds the
// old file and the old recv goes on with it.
#include "kevent_test.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

using kevent_test::get;

namespace {

class NaioRecvAfterClose : public kevent_test::QueueTest {
protected:
	static void socket_pair(int &a, int &b) {
		int sv[2];
		ASSERT_EQ(0,
			  socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
		a = sv[0];
		b = sv[1];
	}
	void TearDown() override {
		QueueTest::TearDown();
		for (int fd : fds_)
			if (fd >= 0)
				close(fd);
	}
	std::vector<int> fds_;

	ukevent completion() {
		auto ev = get(kfd, 1, 1, 5000);
		EXPECT_EQ(1u, ev.size());
		return ev.empty() ? ukevent{} : ev[0];
	}

	// A recv waits on a socket (its peer: b) into buf; the socket is
	// closed and its number reused by a new socket, whose peer sends
	// "new".
	void recv_then_reuse(char *buf, size_t len, int64_t &r, int &number, int &b) {
		int a = -1, c = -1, d = -1;
		socket_pair(a, b);
		fds_.push_back(b);
		r = kevent_aio_recv(kfd, a, buf, len, 0, 1);
		ASSERT_GT(r, 0);
		EXPECT_TRUE(get(kfd, 1, 1, 20).empty());
		number = a;
		close(a);
		socket_pair(c, d);
		fds_.push_back(d);
		if (c != number) {
			ASSERT_EQ(number, dup3(c, number, O_CLOEXEC));
			close(c);
		}
		fds_.push_back(number);
		ASSERT_EQ(3, write(d, "new", 3));
	}
};

TEST_P(NaioRecvAfterClose, TheOldRecvNeverReadsTheNewSocket) {
	int number = -1, b = -1;
	char old_in[8] = {};
	int64_t old_r = 0;
	ASSERT_NO_FATAL_FAILURE(recv_then_reuse(old_in, sizeof old_in, old_r, number, b));
	// The old peer writes too (EPIPE where the old socket is closed).
	ssize_t old_sent = send(b, "old", 3, MSG_NOSIGNAL);
	if (GetParam().flags == KEVENT_INIT_URING) {
		ASSERT_EQ(3, old_sent);
		ukevent ev = completion();
		EXPECT_EQ(uint64_t(old_r), ev.id.raw_u64);
		EXPECT_EQ(3u, ev.ret_data[0]);
		EXPECT_EQ("old", std::string(old_in, 3));
	} else {
		EXPECT_TRUE(get(kfd, 1, 1, 100).empty())
			<< "the old recv completed with: " << std::string(old_in, 3);
		char c2;
		EXPECT_EQ(0, recv(b, &c2, 1, MSG_DONTWAIT)) << "the closed socket was kept open";
	}
	char in[8] = {};
	int64_t r = kevent_aio_recv(kfd, number, in, sizeof in, 0, 2);
	ASSERT_GT(r, 0);
	if (GetParam().flags != KEVENT_INIT_URING) {
		ukevent ev = completion();
		EXPECT_EQ(uint64_t(old_r), ev.id.raw_u64);
		EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, ev.ret_flags);
		EXPECT_EQ(uint32_t(-EBADF), ev.ret_data[1]);
	}
	ukevent ev = completion();
	EXPECT_EQ(uint64_t(r), ev.id.raw_u64);
	EXPECT_EQ(3u, ev.ret_data[0]);
	EXPECT_EQ("new", std::string(in, 3));
	EXPECT_NE("new", std::string(old_in, 3)) << "the old recv read the new socket";
}

// The same, when the next call naming the reused number is an ADD of a
// SOCKET kevent (not another operation): on epoll the ADD takes the
// number's item from the operations' watch, and the old recv must end with
// EBADF there, not move to a dup of whatever the number names now.
TEST_P(NaioRecvAfterClose, AnAddOnTheReusedNumberEndsTheOldRecv) {
	int number = -1, b = -1;
	char old_in[8] = {};
	int64_t old_r = 0;
	ASSERT_NO_FATAL_FAILURE(recv_then_reuse(old_in, sizeof old_in, old_r, number, b));
	ukevent add = kevent_test::make(KEVENT_SOCKET, uint64_t(number), KEVENT_SOCKET_RECV, 0, 2);
	ASSERT_EQ(1, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &add)) << "the new socket is readable";
	EXPECT_EQ(KEVENT_RET_DONE, add.ret_flags);
	if (GetParam().flags == KEVENT_INIT_URING) {
		// The request holds the old socket: its peer's data completes it.
		ASSERT_EQ(3, send(b, "old", 3, MSG_NOSIGNAL));
		ukevent ev = completion();
		EXPECT_EQ(uint64_t(old_r), ev.id.raw_u64);
		EXPECT_EQ("old", std::string(old_in, 3));
	} else {
		ukevent ev = completion();
		EXPECT_EQ(uint64_t(old_r), ev.id.raw_u64);
		EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, ev.ret_flags)
			<< "the old recv completed with: " << std::string(old_in, 3);
		EXPECT_EQ(uint32_t(-EBADF), ev.ret_data[1]);
	}
	EXPECT_NE("new", std::string(old_in, 3)) << "the old recv read the new socket";
	char in[8] = {};
	EXPECT_EQ(3, recv(number, in, sizeof in, MSG_DONTWAIT)) << "the new data is still there";
}

KEVENT_INSTANTIATE_BACKENDS(NaioRecvAfterClose);

} // namespace
