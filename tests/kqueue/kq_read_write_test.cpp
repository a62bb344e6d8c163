// SPDX-License-Identifier: MIT
// EVFILT_READ and EVFILT_WRITE (kqueue(3), docs/kqueue.md): data as
// FreeBSD defines it, EOF, level and EV_CLEAR, READ and WRITE on one fd as
// independent knotes, enable/disable, oneshot, dispatch, udata, delete,
// close(fd) dropping knotes, two kqueues on one fd, NOTE_LOWAT.
#include "kq_test.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

using namespace kq_test;
using KqReadWrite = KqTest;

namespace {
struct pipe_pair {
	int r = -1, w = -1;
	pipe_pair() {
		int p[2];
		EXPECT_EQ(0, pipe(p));
		r = p[0];
		w = p[1];
	}
	~pipe_pair() {
		if (r >= 0)
			close(r);
		if (w >= 0)
			close(w);
	}
};
const struct kevent *find(const std::vector<struct kevent> &v, uintptr_t id, short f) {
	for (auto &e : v)
		if (e.ident == id && e.filter == f)
			return &e;
	return nullptr;
}
// A READ knote with `flags` on p, one byte written, reported once.
void add_and_report_once(int kq, pipe_pair &p, unsigned short flags) {
	ASSERT_EQ(0, change(kq, p.r, EVFILT_READ, EV_ADD | flags));
	ASSERT_EQ(1, write(p.w, "a", 1));
	EXPECT_EQ(1u, poll_events(kq).size());
	EXPECT_TRUE(poll_events(kq).empty());
}
} // namespace

TEST_P(KqReadWrite, ReadDataIsBytesReadableAndLevel) {
	pipe_pair p;
	ASSERT_EQ(0, change(kq, p.r, EVFILT_READ, EV_ADD, 0, 0, (void *)1));
	EXPECT_TRUE(poll_events(kq).empty());
	ASSERT_EQ(5, write(p.w, "hello", 5));
	auto v = poll_events(kq);
	ASSERT_EQ(1u, v.size());
	EXPECT_EQ(5, v[0].data);
	EXPECT_EQ((void *)1, v[0].udata);
	EXPECT_EQ(0, v[0].flags & (EV_EOF | EV_ERROR));
	// Level: still readable, reported again.
	EXPECT_EQ(1u, poll_events(kq).size());
}

TEST_P(KqReadWrite, ClearIsEdge) {
	pipe_pair p;
	ASSERT_EQ(0, change(kq, p.r, EVFILT_READ, EV_ADD | EV_CLEAR));
	ASSERT_EQ(2, write(p.w, "ab", 2));
	EXPECT_EQ(1u, poll_events(kq).size());
	EXPECT_TRUE(poll_events(kq).empty()) << "EV_CLEAR reported twice for one write";
	ASSERT_EQ(1, write(p.w, "c", 1));
	auto v = poll_events(kq);
	ASSERT_EQ(1u, v.size());
	EXPECT_EQ(3, v[0].data);
}

TEST_P(KqReadWrite, WriteDataIsFreeSpaceAndEofWhenReaderGone) {
	pipe_pair p;
	ASSERT_EQ(0, change(kq, p.w, EVFILT_WRITE, EV_ADD));
	auto v = poll_events(kq);
	ASSERT_EQ(1u, v.size());
	int size = fcntl(p.w, F_GETPIPE_SZ);
	EXPECT_EQ(size, v[0].data);
	ASSERT_EQ(3, write(p.w, "abc", 3));
	v = poll_events(kq);
	ASSERT_EQ(1u, v.size());
	EXPECT_EQ(size - 3, v[0].data);
	close(p.r);
	p.r = -1;
	v = poll_events(kq);
	ASSERT_EQ(1u, v.size());
	EXPECT_TRUE(v[0].flags & EV_EOF);
}

TEST_P(KqReadWrite, ReadEofWithBytesLeft) {
	pipe_pair p;
	ASSERT_EQ(0, change(kq, p.r, EVFILT_READ, EV_ADD));
	ASSERT_EQ(2, write(p.w, "xy", 2));
	close(p.w);
	p.w = -1;
	auto v = poll_events(kq);
	ASSERT_EQ(1u, v.size());
	EXPECT_TRUE(v[0].flags & EV_EOF);
	EXPECT_EQ(2, v[0].data);
}

TEST_P(KqReadWrite, ReadAndWriteOnOneSocketAreIndependent) {
	int sv[2];
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	ASSERT_EQ(0, change(kq, sv[0], EVFILT_READ, EV_ADD, 0, 0, (void *)1));
	ASSERT_EQ(0, change(kq, sv[0], EVFILT_WRITE, EV_ADD | EV_ONESHOT, 0, 0, (void *)2));
	auto v = poll_events(kq);
	ASSERT_EQ(1u, v.size());
	EXPECT_EQ(EVFILT_WRITE, v[0].filter);
	EXPECT_GT(v[0].data, 0);
	ASSERT_EQ(1, write(sv[1], "z", 1));
	v = poll_events(kq);
	ASSERT_EQ(1u, v.size()) << "the oneshot WRITE came back, or READ is missing";
	EXPECT_EQ(EVFILT_READ, v[0].filter);
	EXPECT_EQ(1, v[0].data);
	// Deleting READ leaves nothing; WRITE was dropped by EV_ONESHOT.
	EXPECT_EQ(0, change(kq, sv[0], EVFILT_READ, EV_DELETE));
	EXPECT_EQ(-1, change(kq, sv[0], EVFILT_WRITE, EV_DELETE));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_TRUE(poll_events(kq).empty());
	close(sv[0]);
	close(sv[1]);
}

TEST_P(KqReadWrite, DisableHoldsEnableReportsDeleteDrains) {
	pipe_pair p;
	ASSERT_EQ(0, change(kq, p.r, EVFILT_READ, EV_ADD | EV_DISABLE));
	ASSERT_EQ(1, write(p.w, "a", 1));
	EXPECT_TRUE(poll_events(kq).empty());
	ASSERT_EQ(0, change(kq, p.r, EVFILT_READ, EV_ENABLE, 0, 0, (void *)9));
	auto v = poll_events(kq);
	ASSERT_EQ(1u, v.size());
	EXPECT_EQ((void *)9, v[0].udata) << "EV_ENABLE replaces udata (FreeBSD)";
	ASSERT_EQ(0, change(kq, p.r, EVFILT_READ, EV_DISABLE | EV_KEEPUDATA));
	EXPECT_TRUE(poll_events(kq).empty()) << "disable did not drain";
	ASSERT_EQ(0, change(kq, p.r, EVFILT_READ, EV_ENABLE | EV_KEEPUDATA));
	v = poll_events(kq);
	ASSERT_EQ(1u, v.size());
	EXPECT_EQ((void *)9, v[0].udata) << "EV_KEEPUDATA";
	ASSERT_EQ(0, change(kq, p.r, EVFILT_READ, EV_DELETE));
	EXPECT_TRUE(poll_events(kq).empty()) << "delete did not drain";
	EXPECT_EQ(-1, change(kq, p.r, EVFILT_READ, EV_DELETE));
	EXPECT_EQ(ENOENT, errno);
}

// EV_CLEAR: what came while disabled is reported once on enable, with the
// bytes readable then (FreeBSD evaluates the filter at EV_ENABLE).
TEST_P(KqReadWrite, ClearReportsWhatCameWhileDisabled) {
	pipe_pair p;
	add_and_report_once(kq, p, EV_CLEAR);
	ASSERT_EQ(0, change(kq, p.r, EVFILT_READ, EV_DISABLE));
	ASSERT_EQ(2, write(p.w, "bc", 2));
	EXPECT_TRUE(poll_events(kq).empty()) << "reported while disabled";
	ASSERT_EQ(0, change(kq, p.r, EVFILT_READ, EV_ENABLE));
	auto v = poll_events(kq);
	ASSERT_EQ(1u, v.size());
	EXPECT_EQ(3, v[0].data);
	EXPECT_TRUE(poll_events(kq).empty()) << "EV_CLEAR: reported once";
}

// A disabled knote still follows its file: closing it drops the knote.
TEST_P(KqReadWrite, CloseWhileDisabledDropsTheKnote) {
	int p[2];
	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, change(kq, p[0], EVFILT_READ, EV_ADD | EV_DISABLE));
	close(p[0]);
	close(p[1]);
	EXPECT_TRUE(poll_events(kq).empty());
	EXPECT_EQ(-1, change(kq, p[0], EVFILT_READ, EV_ENABLE));
	EXPECT_EQ(EBADF, errno);
}

// Level knotes are looked at again at each call, several at once (one
// poll for all): those still readable are reported again, those read are
// not, and new data on a read one is.
TEST_P(KqReadWrite, LevelKnotesAreLookedAtAgainTogether) {
	pipe_pair p[3];
	for (auto &x : p) {
		ASSERT_EQ(0, change(kq, x.r, EVFILT_READ, EV_ADD));
		ASSERT_EQ(1, write(x.w, "a", 1));
	}
	// A non-blocking call may leave a report libkevent has not taken from
	// the kernel yet for the next call: look until all three came.
	for (int i = 0; i < 10 && poll_events(kq).size() < 3; i++) {
	}
	EXPECT_EQ(3u, poll_events(kq).size()) << "level: unread data is reported again";
	EXPECT_EQ(3u, poll_events(kq).size()) << "level: unread data is reported again";
	char c;
	ASSERT_EQ(1, read(p[0].r, &c, 1));
	auto v = poll_events(kq);
	EXPECT_EQ(2u, v.size());
	EXPECT_EQ(nullptr, find(v, p[0].r, EVFILT_READ)) << "read empty, still reported";
	ASSERT_EQ(1, read(p[1].r, &c, 1));
	ASSERT_EQ(1, read(p[2].r, &c, 1));
	EXPECT_TRUE(poll_events(kq).empty());
	ASSERT_EQ(2, write(p[0].w, "bc", 2));
	v = poll_events(kq);
	ASSERT_EQ(1u, v.size());
	EXPECT_EQ(2, v[0].data);
}

TEST_P(KqReadWrite, DispatchDisablesAfterEachReport) {
	pipe_pair p;
	add_and_report_once(kq, p, EV_DISPATCH);
	ASSERT_EQ(0, change(kq, p.r, EVFILT_READ, EV_ENABLE));
	EXPECT_EQ(1u, poll_events(kq).size());
	EXPECT_TRUE(poll_events(kq).empty());
}

TEST_P(KqReadWrite, AddAgainModifiesUdata) {
	pipe_pair p;
	ASSERT_EQ(0, change(kq, p.r, EVFILT_READ, EV_ADD, 0, 0, (void *)1));
	ASSERT_EQ(0, change(kq, p.r, EVFILT_READ, EV_ADD, 0, 0, (void *)2));
	ASSERT_EQ(1, write(p.w, "a", 1));
	auto v = poll_events(kq);
	ASSERT_EQ(1u, v.size());
	EXPECT_EQ((void *)2, v[0].udata);
}

TEST_P(KqReadWrite, ClosedFdDropsKnotes) {
	int p[2];
	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, change(kq, p[0], EVFILT_READ, EV_ADD, 0, 0, (void *)1));
	close(p[0]);
	EXPECT_EQ(-1, change(kq, p[0], EVFILT_READ, EV_DELETE));
	EXPECT_EQ(EBADF, errno);
	// The number reused for another pipe: a new knote, not the old one.
	int q[2];
	ASSERT_EQ(0, pipe(q));
	ASSERT_EQ(p[0], q[0]);
	EXPECT_EQ(-1, change(kq, q[0], EVFILT_READ, EV_DELETE));
	EXPECT_EQ(ENOENT, errno);
	ASSERT_EQ(0, change(kq, q[0], EVFILT_READ, EV_ADD, 0, 0, (void *)2));
	ASSERT_EQ(1, write(q[1], "a", 1));
	auto v = poll_events(kq);
	ASSERT_EQ(1u, v.size());
	EXPECT_EQ((void *)2, v[0].udata);
	close(p[1]);
	close(q[0]);
	close(q[1]);
}

TEST_P(KqReadWrite, RegularFileIsReadyWithBytesToEof) {
	int fd = anonymous_file();
	ASSERT_GE(fd, 0);
	ASSERT_EQ(10, write(fd, "0123456789", 10));
	ASSERT_EQ(4, lseek(fd, 4, SEEK_SET));
	ASSERT_EQ(0, change(kq, fd, EVFILT_READ, EV_ADD));
	auto v = poll_events(kq);
	ASSERT_EQ(1u, v.size());
	EXPECT_EQ(6, v[0].data);
	int null = open("/dev/null", O_WRONLY);
	ASSERT_GE(null, 0);
	ASSERT_EQ(0, change(kq, null, EVFILT_WRITE, EV_ADD));
	v = poll_events(kq);
	EXPECT_NE(nullptr, find(v, null, EVFILT_WRITE));
	close(null);
	close(fd);
}

TEST_P(KqReadWrite, ListenerDataIsPendingConnections) {
	sockaddr_in a;
	int l = loopback_listener(a);
	ASSERT_EQ(0, change(kq, l, EVFILT_READ, EV_ADD));
	int c1 = socket(AF_INET, SOCK_STREAM, 0), c2 = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_EQ(0, connect(c1, (sockaddr *)&a, sizeof a));
	ASSERT_EQ(0, connect(c2, (sockaddr *)&a, sizeof a));
	struct kevent ev[2];
	ASSERT_EQ(1, wait(kq, ev, 2, 2000));
	EXPECT_EQ(2, ev[0].data);
	close(c1);
	close(c2);
	close(l);
}

TEST_P(KqReadWrite, TwoKqueuesOnOneFdAreIndependent) {
	pipe_pair p;
	int kq2 = kqueue();
	ASSERT_GE(kq2, 0);
	ASSERT_EQ(0, change(kq, p.r, EVFILT_READ, EV_ADD, 0, 0, (void *)1));
	ASSERT_EQ(0, change(kq2, p.r, EVFILT_READ, EV_ADD | EV_ONESHOT, 0, 0, (void *)2));
	ASSERT_EQ(1, write(p.w, "a", 1));
	EXPECT_EQ(1u, poll_events(kq2).size());
	EXPECT_TRUE(poll_events(kq2).empty());
	auto v = poll_events(kq);
	ASSERT_EQ(1u, v.size());
	EXPECT_EQ((void *)1, v[0].udata);
	close(kq2);
}

// NOTE_LOWAT on READ (kqueue(3)): reported at the mark or at EOF, level
// below the mark is not ready, a new mark is looked at at once.
TEST_P(KqReadWrite, LowatReadWaitsForTheMarkOnASocket) {
	int sv[2];
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	ASSERT_EQ(0, change(kq, sv[0], EVFILT_READ, EV_ADD, NOTE_LOWAT, 5));
	ASSERT_EQ(3, write(sv[1], "abc", 3));
	EXPECT_TRUE(poll_events(kq).empty()) << "3 bytes reported under a mark of 5";
	ASSERT_EQ(2, write(sv[1], "de", 2));
	auto v = poll_events(kq);
	ASSERT_EQ(1u, v.size());
	EXPECT_EQ(5, v[0].data);
	EXPECT_EQ(1u, poll_events(kq).size()) << "level at the mark: reported again";
	char buf[8];
	ASSERT_EQ(3, read(sv[0], buf, 3));
	EXPECT_TRUE(poll_events(kq).empty()) << "level below the mark reported";
	ASSERT_EQ(3, write(sv[1], "fgh", 3));
	v = poll_events(kq);
	ASSERT_EQ(1u, v.size());
	EXPECT_EQ(5, v[0].data);
	ASSERT_EQ(5, read(sv[0], buf, 5));
	ASSERT_EQ(1, write(sv[1], "i", 1));
	EXPECT_TRUE(poll_events(kq).empty());
	ASSERT_EQ(0, shutdown(sv[1], SHUT_WR));
	v = poll_events(kq);
	ASSERT_EQ(1u, v.size()) << "EOF under the mark not reported";
	EXPECT_TRUE(v[0].flags & EV_EOF);
	EXPECT_EQ(1, v[0].data);
	close(sv[0]);
	close(sv[1]);
}

TEST_P(KqReadWrite, LowatNewMarkIsLookedAtWithoutNewBytes) {
	pipe_pair p;
	ASSERT_EQ(0, change(kq, p.r, EVFILT_READ, EV_ADD, NOTE_LOWAT, 4, (void *)1));
	ASSERT_EQ(2, write(p.w, "ab", 2));
	EXPECT_TRUE(poll_events(kq).empty());
	ASSERT_EQ(0, change(kq, p.r, EVFILT_READ, EV_ADD, NOTE_LOWAT, 2, (void *)2));
	auto v = poll_events(kq);
	ASSERT_EQ(1u, v.size()) << "a mark lowered to what waits: not reported";
	EXPECT_EQ(2, v[0].data);
	EXPECT_EQ((void *)2, v[0].udata);
	ASSERT_EQ(0, change(kq, p.r, EVFILT_READ, EV_ADD, NOTE_LOWAT, 3));
	EXPECT_TRUE(poll_events(kq).empty()) << "a mark raised above what waits: reported";
	ASSERT_EQ(1, write(p.w, "c", 1));
	v = poll_events(kq);
	ASSERT_EQ(1u, v.size());
	EXPECT_EQ(3, v[0].data);
	// Without NOTE_LOWAT again: one byte is enough.
	char buf[4];
	ASSERT_EQ(2, read(p.r, buf, 2));
	ASSERT_EQ(0, change(kq, p.r, EVFILT_READ, EV_ADD));
	v = poll_events(kq);
	ASSERT_EQ(1u, v.size());
	EXPECT_EQ(1, v[0].data);
}

// Each TCP segment wakes the watch, so the layer sees the count reach the
// mark (the socket's own SO_RCVLOWAT is left at 1).
TEST_P(KqReadWrite, LowatReadOnTcp) {
	sockaddr_in a;
	int l = loopback_listener(a);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_EQ(0, connect(c, (sockaddr *)&a, sizeof a));
	int s = accept(l, nullptr, nullptr);
	ASSERT_GE(s, 0) << std::strerror(errno);
	ASSERT_EQ(0, change(kq, s, EVFILT_READ, EV_ADD, NOTE_LOWAT, 5));
	ASSERT_EQ(3, send(c, "abc", 3, 0));
	struct kevent ev[2];
	EXPECT_EQ(0, wait(kq, ev, 2, 100)) << "3 bytes reported under a mark of 5";
	ASSERT_EQ(2, send(c, "de", 2, 0));
	ASSERT_EQ(1, wait(kq, ev, 2, 2000));
	EXPECT_EQ(5, ev[0].data);
	int lowat = 0;
	socklen_t len = sizeof lowat;
	ASSERT_EQ(0, getsockopt(s, SOL_SOCKET, SO_RCVLOWAT, &lowat, &len));
	EXPECT_EQ(1, lowat) << "the layer changed the socket's own mark";
	close(s);
	close(c);
	close(l);
}

TEST_P(KqReadWrite, LowatOnWriteOrARegularFileIsRefusedAndChangesNothing) {
	pipe_pair p;
	errno = 0;
	EXPECT_EQ(-1, change(kq, p.w, EVFILT_WRITE, EV_ADD, NOTE_LOWAT, 10));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, change(kq, p.w, EVFILT_WRITE, EV_DELETE));
	EXPECT_EQ(ENOENT, errno) << "a refused ADD left a knote";
	ASSERT_EQ(0, change(kq, p.w, EVFILT_WRITE, EV_ADD, 0, 0, (void *)1));
	EXPECT_EQ(-1, change(kq, p.w, EVFILT_WRITE, EV_ADD, NOTE_LOWAT, 10, (void *)2));
	EXPECT_EQ(EINVAL, errno);
	auto v = poll_events(kq);
	ASSERT_EQ(1u, v.size()) << "a refused change broke the knote";
	EXPECT_EQ((void *)1, v[0].udata) << "a refused change replaced udata";
	int fd = anonymous_file();
	ASSERT_GE(fd, 0);
	EXPECT_EQ(-1, change(kq, fd, EVFILT_READ, EV_ADD, NOTE_LOWAT, 1));
	EXPECT_EQ(EINVAL, errno);
	close(fd);
}

KQ_INSTANTIATE(KqReadWrite);
