// SPDX-License-Identifier: MIT
// aio_hpp_test.cpp — the asynchronous I/O calls of kevent::queue
// (include/kevent/queue.hpp, kevent_aio_read(3)), once per backend: every
// call in both forms, throwing and std::error_code&, starts an operation
// whose completion carries the id it returned and the cookie, and a negative
// descriptor is EBADF at the call in both forms.
#include <kevent/queue.hpp>

#include "kevent_hpp_test.hpp"

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

using namespace std::chrono_literals;

namespace {

using namespace kevent_hpp_test;

// An unlinked temporary file holding `content`.
int temp_file(std::string_view content) {
	char path[] = "/tmp/kevent-hpp-XXXXXX";
	int f = ::mkstemp(path);
	EXPECT_GE(f, 0);
	::unlink(path);
	EXPECT_EQ(ssize_t(content.size()), ::write(f, content.data(), content.size()));
	return f;
}

// A listening Unix socket on an address the kernel picks (autobind, in the
// abstract namespace: no file to remove).
int unix_listener(sockaddr_un &addr, socklen_t &len) {
	int l = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	EXPECT_GE(l, 0);
	addr = sockaddr_un{};
	addr.sun_family = AF_UNIX;
	EXPECT_EQ(0, ::bind(l, reinterpret_cast<sockaddr *>(&addr), sizeof(sa_family_t)));
	EXPECT_EQ(0, ::listen(l, 4));
	len = sizeof addr;
	EXPECT_EQ(0, ::getsockname(l, reinterpret_cast<sockaddr *>(&addr), &len));
	return l;
}

// The next completions (n of them, each within 5 s), in cookie order.
std::vector<ukevent> completions(kevent::queue &q, size_t n) {
	std::vector<ukevent> done(n);
	size_t got = 0;
	while (got < n) {
		auto ev = q.get_events(std::span(done).subspan(got), 1, 5s);
		EXPECT_FALSE(ev.empty()) << got << " of " << n << " came";
		if (ev.empty())
			break;
		got += ev.size();
	}
	done.resize(got);
	std::sort(done.begin(), done.end(), [](const ukevent &a, const ukevent &b) {
		return kevent::cookie_u64(a) < kevent::cookie_u64(b);
	});
	return done;
}

// The completion of operation `id`: DONE (not BROKEN), of the type and
// operation given, carrying `cookie`.
void expect_done(const ukevent &ev, int64_t id, uint32_t type, uint32_t op, uint64_t cookie) {
	EXPECT_GT(id, 0);
	EXPECT_EQ(uint64_t(id), ev.id.raw_u64) << ev;
	EXPECT_EQ(type, ev.type) << ev;
	EXPECT_EQ(op, ev.event) << ev;
	EXPECT_EQ(KEVENT_RET_DONE, ev.ret_flags) << ev;
	EXPECT_EQ(cookie, kevent::cookie_u64(ev)) << ev;
}

// The AIO calls take spans; failures come back in both forms.
TEST_P(KeventHppTest, AioRecvAndSendTakeSpans) {
	EXPECT_EQ(GetParam().flags == KEVENT_INIT_URING ? KEVENT_BACKEND_URING
							: KEVENT_BACKEND_EPOLL,
		  q.backend_in_use());
	int sv[2];
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
	std::array<std::byte, 8> in{};
	const std::array<std::byte, 3> out{std::byte{'a'}, std::byte{'b'}, std::byte{'c'}};
	int64_t r = q.aio_recv(sv[0], in, 0, 1);
	int64_t w = q.aio_send(sv[1], out, 0, 2);
	EXPECT_GT(r, 0);
	EXPECT_GT(w, 0);
	std::array<ukevent, 2> buf{};
	unsigned got = 0;
	while (got < 2) {
		auto ev = q.get_events(std::span(buf).subspan(got), 1, 5s);
		ASSERT_FALSE(ev.empty());
		got += static_cast<unsigned>(ev.size());
	}
	for (const ukevent &e : buf) {
		EXPECT_EQ(KEVENT_RET_DONE, e.ret_flags);
		EXPECT_EQ(3u, e.ret_data[0]);
	}
	EXPECT_EQ(std::byte{'c'}, in[2]);
	std::error_code ec;
	EXPECT_EQ(-1, q.aio_recv(-1, in, 0, 3, ec));
	EXPECT_EQ(std::errc::bad_file_descriptor, ec);
	EXPECT_EQ(EBADF, thrown_errno([&] { q.aio_send(-1, out, 0, 4); }));
	close(sv[0]);
	close(sv[1]);
}

TEST_P(KeventHppTest, AioFsyncInBothForms) {
	int f = temp_file("x");
	int64_t id = q.aio_fsync(f, false, 1);
	expect_done(completions(q, 1).at(0), id, KEVENT_AIO, KEVENT_AIO_FSYNC, 1);
	std::error_code ec;
	id = q.aio_fsync(f, true, 2, ec);
	EXPECT_FALSE(ec) << ec.message();
	expect_done(completions(q, 1).at(0), id, KEVENT_AIO, KEVENT_AIO_FSYNC, 2);

	EXPECT_EQ(EBADF, thrown_errno([&] { q.aio_fsync(-1, false, 3); }));
	EXPECT_EQ(-1, q.aio_fsync(-1, true, 4, ec));
	EXPECT_EQ(std::errc::bad_file_descriptor, ec);
	::close(f);
}

TEST_P(KeventHppTest, AioAcceptAndConnectInBothForms) {
	sockaddr_un addr;
	socklen_t len;
	int l = unix_listener(addr, len);
	const auto *sa = reinterpret_cast<const sockaddr *>(&addr);
	std::error_code ec;

	// A throwing accept meets an error_code connect ...
	int c = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int64_t acc = q.aio_accept(l, SOCK_CLOEXEC, 1);
	int64_t con = q.aio_connect(c, sa, len, 2, ec);
	EXPECT_FALSE(ec) << ec.message();
	auto done = completions(q, 2);
	ASSERT_EQ(2u, done.size());
	expect_done(done[0], acc, KEVENT_NAIO, KEVENT_NAIO_ACCEPT, 1);
	expect_done(done[1], con, KEVENT_NAIO, KEVENT_NAIO_CONNECT, 2);
	EXPECT_TRUE(fd_is_open(int(done[0].ret_data[0]))) << "the accepted connection";
	::close(int(done[0].ret_data[0]));
	::close(c);

	// ... and an error_code accept a throwing connect.
	c = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	acc = q.aio_accept(l, SOCK_CLOEXEC, 3, ec);
	EXPECT_FALSE(ec) << ec.message();
	con = q.aio_connect(c, sa, len, 4);
	done = completions(q, 2);
	ASSERT_EQ(2u, done.size());
	expect_done(done[0], acc, KEVENT_NAIO, KEVENT_NAIO_ACCEPT, 3);
	expect_done(done[1], con, KEVENT_NAIO, KEVENT_NAIO_CONNECT, 4);
	EXPECT_TRUE(fd_is_open(int(done[0].ret_data[0]))) << "the accepted connection";
	::close(int(done[0].ret_data[0]));
	::close(c);

	EXPECT_EQ(EBADF, thrown_errno([&] { q.aio_accept(-1, 0, 5); }));
	EXPECT_EQ(-1, q.aio_accept(-1, 0, 6, ec));
	EXPECT_EQ(std::errc::bad_file_descriptor, ec);
	EXPECT_EQ(EBADF, thrown_errno([&] { q.aio_connect(-1, sa, len, 7); }));
	EXPECT_EQ(-1, q.aio_connect(-1, sa, len, 8, ec));
	EXPECT_EQ(std::errc::bad_file_descriptor, ec);
	::close(l);
}

TEST_P(KeventHppTest, AioSendfileInBothForms) {
	int f = temp_file("0123456789abcdef");
	int sv[2];
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
	int64_t id = q.aio_sendfile(sv[0], f, 4, 8, 1);
	ukevent ev = completions(q, 1).at(0);
	expect_done(ev, id, KEVENT_NAIO, KEVENT_NAIO_SENDFILE, 1);
	EXPECT_EQ(8u, ev.ret_data[0]);
	std::error_code ec;
	id = q.aio_sendfile(sv[0], f, 0, 4, 2, ec);
	EXPECT_FALSE(ec) << ec.message();
	ev = completions(q, 1).at(0);
	expect_done(ev, id, KEVENT_NAIO, KEVENT_NAIO_SENDFILE, 2);
	EXPECT_EQ(4u, ev.ret_data[0]);
	std::array<char, 16> got{};
	ASSERT_EQ(12, ::read(sv[1], got.data(), got.size()));
	EXPECT_EQ("456789ab0123", std::string(got.data(), 12));

	EXPECT_EQ(EBADF, thrown_errno([&] { q.aio_sendfile(-1, f, 0, 4, 3); }));
	EXPECT_EQ(-1, q.aio_sendfile(-1, f, 0, 4, 4, ec));
	EXPECT_EQ(std::errc::bad_file_descriptor, ec);
	::close(sv[0]);
	::close(sv[1]);
	::close(f);
}

INSTANTIATE_TEST_SUITE_P(backend, KeventHppTest, ::testing::ValuesIn(::kevent_test::backends()),
			 ::kevent_test::backend_name);

} // namespace
