// SPDX-License-Identifier: MIT
// kevent_aio_*(3): asynchronous file and socket I/O completing as ONESHOT
// AIO/NAIO kevents, on every backend (io_uring natively; epoll by readiness
// plus non-blocking I/O for sockets and by the thread pool for files).
#include "origin_contract.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace kevent_test;
using namespace kevent_origin;

class Aio : public QueueTest {
protected:
	// A temporary file holding `content`, open for reading and writing.
	unique_fd temp_file(const std::string &content) {
		char path[] = "/tmp/kevent-aio-XXXXXX";
		unique_fd f(::mkstemp(path));
		EXPECT_GE(f.get(), 0);
		::unlink(path);
		EXPECT_EQ(ssize_t(content.size()),
			  ::write(f.get(), content.data(), content.size()));
		return f;
	}

	// n completions, each within 5 s, by cookie.
	std::map<uint64_t, ukevent> completions(size_t n) {
		std::map<uint64_t, ukevent> got;
		while (got.size() < n) {
			auto ev = get(kfd, 1, unsigned(n), 5000);
			EXPECT_FALSE(ev.empty()) << got.size() << " of " << n << " came";
			if (ev.empty())
				break;
			for (auto &e : ev)
				got[cookie_of(e)] = e;
		}
		return got;
	}

	// The one completion that must arrive within 5 s.
	ukevent completion() {
		auto ev = get(kfd, 1, 1, 5000);
		EXPECT_EQ(1u, ev.size());
		return ev.empty() ? ukevent{} : ev[0];
	}

	static void expect_done(const ukevent &ev, int64_t id, unsigned type, unsigned op,
				uint64_t cookie, uint32_t bytes) {
		EXPECT_EQ(uint64_t(id), ev.id.raw_u64) << describe(ev);
		EXPECT_EQ(type, ev.type) << describe(ev);
		EXPECT_EQ(op, ev.event) << describe(ev);
		EXPECT_EQ(cookie, cookie_of(ev)) << describe(ev);
		EXPECT_EQ(KEVENT_RET_DONE, ev.ret_flags) << describe(ev);
		EXPECT_EQ(bytes, ev.ret_data[0]) << describe(ev);
	}

	static void expect_broken(const ukevent &ev, int64_t id, int err) {
		EXPECT_EQ(uint64_t(id), ev.id.raw_u64) << describe(ev);
		EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, ev.ret_flags) << describe(ev);
		EXPECT_EQ(-err, err_of(ev)) << describe(ev);
	}
};

TEST_P(Aio, ReadCompletesWithBytesAndCookie) {
	unique_fd f = temp_file("hello, world");
	char buf[5] = {};
	int64_t id = kevent_aio_read(kfd, f.get(), buf, sizeof buf, 7, 0xabcdef0123ull);
	ASSERT_GT(id, 0) << std::strerror(errno);
	expect_done(completion(), id, KEVENT_AIO, KEVENT_AIO_READ, 0xabcdef0123ull, 5);
	EXPECT_EQ("world", std::string(buf, 5));
	EXPECT_EQ(0u, queue_stats(kfd).registered) << "ONESHOT: gone after delivery";
}

TEST_P(Aio, ShortReadAndEndOfFile) {
	unique_fd f = temp_file("0123456789");
	char buf[100];
	int64_t a = kevent_aio_read(kfd, f.get(), buf, sizeof buf, 4, 1);
	ASSERT_GT(a, 0);
	expect_done(completion(), a, KEVENT_AIO, KEVENT_AIO_READ, 1, 6);
	int64_t b = kevent_aio_read(kfd, f.get(), buf, sizeof buf, 10, 2);
	ASSERT_GT(b, 0);
	expect_done(completion(), b, KEVENT_AIO, KEVENT_AIO_READ, 2, 0);
}

TEST_P(Aio, WriteThenFsyncThenReadBack) {
	unique_fd f = temp_file("");
	const char text[] = "kevent";
	int64_t w = kevent_aio_write(kfd, f.get(), text, 6, 0, 3);
	ASSERT_GT(w, 0);
	expect_done(completion(), w, KEVENT_AIO, KEVENT_AIO_WRITE, 3, 6);
	int64_t s = kevent_aio_fsync(kfd, f.get(), KEVENT_AIO_FSYNC_DATASYNC, 4);
	ASSERT_GT(s, 0);
	expect_done(completion(), s, KEVENT_AIO, KEVENT_AIO_FSYNC, 4, 0);
	char back[6];
	ASSERT_EQ(6, ::pread(f.get(), back, 6, 0));
	EXPECT_EQ("kevent", std::string(back, 6));
}

TEST_P(Aio, FilePositionWhenOffsetIsMinusOne) {
	unique_fd f = temp_file("abcdef");
	ASSERT_EQ(2, ::lseek(f.get(), 2, SEEK_SET));
	char buf[2];
	int64_t id = kevent_aio_read(kfd, f.get(), buf, 2, -1, 0);
	ASSERT_GT(id, 0);
	expect_done(completion(), id, KEVENT_AIO, KEVENT_AIO_READ, 0, 2);
	EXPECT_EQ("cd", std::string(buf, 2));
	EXPECT_EQ(4, ::lseek(f.get(), 0, SEEK_CUR));
}

TEST_P(Aio, BadDescriptorIsBrokenWithEbadf) {
	char buf[4];
	unique_fd f = temp_file("x");
	int closed = f.release();
	::close(closed);
	int64_t r = kevent_aio_read(kfd, closed, buf, sizeof buf, 0, 9);
	ASSERT_GT(r, 0) << "the call starts it; the completion says what went wrong";
	expect_broken(completion(), r, EBADF);
	int64_t s = kevent_aio_recv(kfd, closed, buf, sizeof buf, 0, 9);
	ASSERT_GT(s, 0);
	expect_broken(completion(), s, EBADF);
}

TEST_P(Aio, BadArgumentsChangeNothing) {
	char buf[4];
	errno = 0;
	EXPECT_EQ(-1, kevent_aio_read(kfd, -1, buf, 4, 0, 0));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, kevent_aio_read(kfd, 0, buf, 4, -2, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, kevent_aio_read(kfd, 0, nullptr, 4, 0, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, kevent_aio_fsync(kfd, 0, 0x80, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, kevent_aio_accept(kfd, 0, 0x1, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, kevent_aio_connect(kfd, 0, nullptr, 0, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, kevent_aio_recv(-1, 0, buf, 4, 0, 0));
	EXPECT_EQ(EBADF, errno);
	// An operation is not ADDed, MODIFYed or made READY by hand.
	ukevent e = make(KEVENT_NAIO, 1, KEVENT_NAIO_RECV);
	ASSERT_EQ(1, add(e));
	EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, e.ret_flags);
	EXPECT_EQ(-EINVAL, err_of(e));
	EXPECT_EQ(0u, queue_stats(kfd).registered);
	EXPECT_EQ(0u, queue_stats(kfd).inflight_io);
}

TEST_P(Aio, RecvWaitsForDataSendCompletesAtOnce) {
	unique_fd a, b;
	socket_pair(a, b);
	char in[16] = {};
	int64_t r = kevent_aio_recv(kfd, a.get(), in, sizeof in, 0, 11);
	ASSERT_GT(r, 0);
	EXPECT_TRUE(get(kfd, 1, 1, 50).empty()) << "nothing to receive yet";
	EXPECT_EQ(1u, queue_stats(kfd).inflight_io);
	ukevent rd = make(KEVENT_NAIO, uint64_t(r), KEVENT_NAIO_RECV);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_READY, 1, &rd)) << "READY marked it";
	EXPECT_EQ(-EINVAL, err_of(rd));
	int64_t s = kevent_aio_send(kfd, b.get(), "ping", 4, 0, 12);
	ASSERT_GT(s, 0);
	std::map<uint64_t, ukevent> got = completions(2);
	expect_done(got[11], r, KEVENT_NAIO, KEVENT_NAIO_RECV, 11, 4);
	expect_done(got[12], s, KEVENT_NAIO, KEVENT_NAIO_SEND, 12, 4);
	EXPECT_EQ("ping", std::string(in, 4));
}

TEST_P(Aio, RecvOfAClosedPeerIsEndOfFile) {
	unique_fd a, b;
	socket_pair(a, b);
	char in[4];
	int64_t r = kevent_aio_recv(kfd, a.get(), in, sizeof in, 0, 1);
	ASSERT_GT(r, 0);
	b.reset();
	expect_done(completion(), r, KEVENT_NAIO, KEVENT_NAIO_RECV, 1, 0);
}

TEST_P(Aio, SendToAClosedPeerIsEpipeNotSigpipe) {
	unique_fd a, b;
	socket_pair(a, b);
	b.reset();
	int64_t s = kevent_aio_send(kfd, a.get(), "x", 1, 0, 1);
	ASSERT_GT(s, 0);
	expect_broken(completion(), s, EPIPE); // and the process is still here
}

TEST_P(Aio, AcceptAndConnectOverLoopback) {
	sockaddr_in sa;
	unique_fd l = loopback_tcp(sa, 4);
	int64_t acc = kevent_aio_accept(kfd, l.get(), SOCK_CLOEXEC, 21);
	ASSERT_GT(acc, 0);
	unique_fd c(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
	int64_t con =
		kevent_aio_connect(kfd, c.get(), reinterpret_cast<sockaddr *>(&sa), sizeof sa, 22);
	ASSERT_GT(con, 0);
	std::map<uint64_t, ukevent> got = completions(2);
	EXPECT_EQ(KEVENT_RET_DONE, got[21].ret_flags) << describe(got[21]);
	unique_fd accepted(static_cast<int>(got[21].ret_data[0]));
	EXPECT_GE(fcntl(accepted.get(), F_GETFD), 0) << "the new connection's fd";
	expect_done(got[22], con, KEVENT_NAIO, KEVENT_NAIO_CONNECT, 22, 0);
	ASSERT_EQ(1, ::write(c.get(), "!", 1));
	char ch = 0;
	EXPECT_EQ(1, ::read(accepted.get(), &ch, 1));
	EXPECT_EQ('!', ch);
}

TEST_P(Aio, ConnectRefusedIsBroken) {
	sockaddr_in sa;
	unique_fd l = loopback_tcp(sa, -1);
	l.reset(); // bound once, nobody listens there now
	unique_fd c(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
	int64_t con =
		kevent_aio_connect(kfd, c.get(), reinterpret_cast<sockaddr *>(&sa), sizeof sa, 1);
	ASSERT_GT(con, 0);
	expect_broken(completion(), con, ECONNREFUSED);
}

TEST_P(Aio, SendfileFromAFileToASocket) {
	unique_fd f = temp_file("0123456789abcdef");
	unique_fd a, b;
	socket_pair(a, b);
	int64_t id = kevent_aio_sendfile(kfd, a.get(), f.get(), 4, 8, 5);
	ASSERT_GT(id, 0) << std::strerror(errno);
	expect_done(completion(), id, KEVENT_NAIO, KEVENT_NAIO_SENDFILE, 5, 8);
	char got[8];
	ASSERT_EQ(8, ::read(b.get(), got, 8));
	EXPECT_EQ("456789ab", std::string(got, 8));
}

TEST_P(Aio, AThousandInFlightAllComplete) {
	constexpr int pairs = 100, per = 10;
	std::vector<unique_fd> a(pairs), b(pairs);
	for (int i = 0; i < pairs; i++)
		socket_pair(a[i], b[i]);
	std::vector<char> in(pairs * per);
	for (int i = 0; i < pairs; i++)
		for (int j = 0; j < per; j++)
			ASSERT_GT(kevent_aio_recv(kfd, a[i].get(), &in[i * per + j], 1, 0,
						  uint64_t(i * per + j)),
				  0);
	EXPECT_EQ(uint64_t(pairs * per), queue_stats(kfd).inflight_io);
	for (int i = 0; i < pairs; i++)
		ASSERT_EQ(per, ::write(b[i].get(), "0123456789", per));
	std::vector<bool> seen(pairs * per);
	int total = 0;
	while (total < pairs * per) {
		auto ev = get(kfd, 1, 256, 5000);
		ASSERT_FALSE(ev.empty()) << total << " of " << pairs * per;
		for (auto &e : ev) {
			EXPECT_EQ(KEVENT_RET_DONE, e.ret_flags) << describe(e);
			EXPECT_EQ(1u, e.ret_data[0]);
			uint64_t c = cookie_of(e);
			ASSERT_LT(c, seen.size());
			EXPECT_FALSE(seen[c]) << "delivered twice";
			seen[c] = true;
			total++;
		}
	}
	// Each socket's ten bytes went to its ten operations, one each.
	for (int i = 0; i < pairs; i++) {
		std::string s(&in[i * per], per);
		std::sort(s.begin(), s.end());
		EXPECT_EQ("0123456789", s);
	}
	EXPECT_EQ(0u, queue_stats(kfd).inflight_io);
}

TEST_P(Aio, RemoveCancelsAndTheDataStaysUnread) {
	unique_fd a, b;
	socket_pair(a, b);
	char in[8];
	int64_t r = kevent_aio_recv(kfd, a.get(), in, sizeof in, 0, 1);
	ASSERT_GT(r, 0);
	ukevent rm = make(KEVENT_NAIO, uint64_t(r), KEVENT_NAIO_RECV);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &rm));
	EXPECT_EQ(KEVENT_RET_DONE, rm.ret_flags);
	EXPECT_EQ(0u, queue_stats(kfd).inflight_io);
	ASSERT_EQ(3, ::write(b.get(), "abc", 3));
	EXPECT_TRUE(get(kfd, 1, 1, 100).empty()) << "a cancelled operation completed";
	char out[3];
	EXPECT_EQ(3, ::read(a.get(), out, 3)) << "the cancelled recv consumed the data";
	// A second REMOVE finds nothing.
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &rm));
	EXPECT_EQ(-ENOENT, err_of(rm));
}

TEST_P(Aio, CloseWithIoInFlightCancelsIt) {
	unique_fd a, b;
	socket_pair(a, b);
	auto buf = std::make_unique<char[]>(64);
	unique_fd f = temp_file("file");
	auto fbuf = std::make_unique<char[]>(64);
	for (int i = 0; i < 8; i++)
		ASSERT_GT(kevent_aio_recv(kfd, a.get(), buf.get() + i * 8, 8, 0, 0), 0);
	ASSERT_GT(kevent_aio_read(kfd, f.get(), fbuf.get(), 64, 0, 0), 0);
	EXPECT_EQ(0, kevent_close(kfd));
	kfd = -1;
	buf.reset(); // the kernel must be done with it: nothing reads into it now
	ASSERT_EQ(3, ::write(b.get(), "abc", 3));
	char out[3];
	EXPECT_EQ(3, ::read(a.get(), out, 3)) << "an operation outlived its queue";
	EXPECT_EQ(0u, global_stats().inflight_io);
}

KEVENT_INSTANTIATE_BACKENDS(Aio);

} // namespace
