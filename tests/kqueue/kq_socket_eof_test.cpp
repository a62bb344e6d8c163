// SPDX-License-Identifier: MIT
// EV_EOF on sockets (kqueue(3), docs/kqueue.md): a refused connect on
// WRITE, a reset from the peer on READ, a plain close on READ. FreeBSD puts
// the socket's pending error in fflags without clearing it; Linux can read
// it only by clearing it, so the layer leaves fflags 0 and the error stays
// the program's: its getsockopt(SO_ERROR) or read() still sees it.
#include "kq_test.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

using namespace kq_test;
using KqSocketEof = KqTest;

namespace {

// The first event of `filter` on `fd` within 5 s.
bool wait_for(int kq, uintptr_t fd, short filter, struct kevent &out) {
	struct kevent ev[4];
	for (int round = 0; round < 50; round++) {
		int n = wait(kq, ev, 4, 100);
		for (int i = 0; i < n; i++)
			if (ev[i].ident == fd && ev[i].filter == filter) {
				out = ev[i];
				return true;
			}
	}
	return false;
}

} // namespace

TEST_P(KqSocketEof, RefusedConnectIsEofAndLeavesSoErrorToTheProgram) {
	sockaddr_in a;
	int l = loopback_listener(a);
	close(l); // nothing listens on the port now
	int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ASSERT_GE(c, 0);
	int r = connect(c, (sockaddr *)&a, sizeof a);
	if (r < 0 && errno == ECONNREFUSED) {
		close(c);
		GTEST_SKIP() << "connect was refused at once: no error is left pending";
	}
	ASSERT_TRUE(r < 0 && errno == EINPROGRESS) << std::strerror(errno);
	ASSERT_EQ(0, change(kq, c, EVFILT_WRITE, EV_ADD));
	struct kevent ev;
	ASSERT_TRUE(wait_for(kq, c, EVFILT_WRITE, ev));
	EXPECT_TRUE(ev.flags & EV_EOF);
	EXPECT_EQ(0u, ev.fflags);
	int err = 0;
	socklen_t len = sizeof err;
	ASSERT_EQ(0, getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &len));
	EXPECT_EQ(ECONNREFUSED, err) << "the layer took the connect's outcome";
	close(c);
}

TEST_P(KqSocketEof, ResetByPeerIsEofAndLeavesTheErrorToRead) {
	sockaddr_in a;
	int l = loopback_listener(a);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_GE(c, 0);
	ASSERT_EQ(0, connect(c, (sockaddr *)&a, sizeof a));
	int s = accept(l, nullptr, nullptr);
	ASSERT_GE(s, 0);
	ASSERT_EQ(0, change(kq, c, EVFILT_READ, EV_ADD));
	EXPECT_TRUE(poll_events(kq).empty());
	linger lg{1, 0}; // close sends a reset
	ASSERT_EQ(0, setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg));
	close(s);
	struct kevent ev;
	ASSERT_TRUE(wait_for(kq, c, EVFILT_READ, ev));
	EXPECT_TRUE(ev.flags & EV_EOF);
	EXPECT_EQ(0u, ev.fflags);
	char b;
	EXPECT_EQ(-1, read(c, &b, 1)) << "the layer took the reset";
	EXPECT_EQ(ECONNRESET, errno);
	close(c);
	close(l);
}

TEST_P(KqSocketEof, PeerCloseIsEofWithoutError) {
	int sv[2];
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	ASSERT_EQ(0, change(kq, sv[0], EVFILT_READ, EV_ADD));
	close(sv[1]);
	struct kevent ev;
	ASSERT_TRUE(wait_for(kq, sv[0], EVFILT_READ, ev));
	EXPECT_TRUE(ev.flags & EV_EOF);
	EXPECT_EQ(0u, ev.fflags);
	close(sv[0]);
}

KQ_INSTANTIATE(KqSocketEof);
