// SPDX-License-Identifier: MIT
// awaitables_test.cpp — every origin's awaitable on both backends, in its
// throwing and its std::error_code form.
#include "coro_fixture.hpp"

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <netinet/in.h>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>

using namespace kevent_test;
namespace coro = kevent::coro;
using namespace std::chrono_literals;

namespace {

class Awaitables : public CoroTest {};

coro::task<void> await_readable(coro::io_context &c, int fd) { co_await coro::readable(c, fd); }
coro::task<void> await_readable_ec(coro::io_context &c, int fd, std::error_code &ec) {
	co_await coro::readable(c, fd, ec);
}
coro::task<void> write_when_writable(coro::io_context &c, int fd, int peer, bool &wrote) {
	co_await coro::writable(c, fd);
	wrote = true;
	EXPECT_EQ(1, ::write(peer, "y", 1));
}
coro::task<void> flag_when_readable(coro::io_context &c, int fd, bool &d) {
	co_await coro::readable(c, fd);
	d = true;
}
coro::task<void> sleep_and_count(coro::io_context &c, int &d) {
	co_await coro::sleep_for(c, 5ms);
	++d;
}
coro::task<void> sleep_into_the_past(coro::io_context &c) {
	co_await coro::sleep_until(c, std::chrono::steady_clock::now() - 1s);
}
coro::task<std::string> echo_once(coro::io_context &c, int ls) {
	int fd = co_await coro::accept(c, ls, SOCK_CLOEXEC | SOCK_NONBLOCK);
	std::byte buf[64];
	size_t n = co_await coro::recv(c, fd, buf);
	co_await coro::send(c, fd, std::span<const std::byte>(buf, n));
	::close(fd);
	co_return std::string(reinterpret_cast<char *>(buf), n);
}
coro::task<std::string> hello_client(coro::io_context &c, sockaddr_in a) {
	int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	co_await coro::connect(c, fd, reinterpret_cast<sockaddr *>(&a), sizeof a);
	co_await coro::send(c, fd, bytes("hello"));
	std::byte buf[64];
	size_t n = co_await coro::recv(c, fd, buf);
	::close(fd);
	co_return std::string(reinterpret_cast<char *>(buf), n);
}
coro::task<void> connect_ec(coro::io_context &c, int fd, sockaddr_in a, std::error_code &ec) {
	co_await coro::connect(c, fd, reinterpret_cast<sockaddr *>(&a), sizeof a, ec);
}
coro::task<std::string> file_ops(coro::io_context &c, int fd, int out, int peer) {
	size_t w = co_await coro::write(c, fd, bytes("file data"), 0);
	EXPECT_EQ(9u, w);
	co_await coro::fsync(c, fd, true);
	std::byte buf[32];
	size_t r = co_await coro::read(c, fd, buf, 5);
	std::string got(reinterpret_cast<char *>(buf), r);
	size_t s = co_await coro::sendfile(c, out, fd, 0, 4);
	EXPECT_EQ(4u, s);
	size_t n = co_await coro::recv(c, peer, buf);
	co_return got + "|" + std::string(reinterpret_cast<char *>(buf), n);
}
coro::task<void> user_wait(coro::io_context &c, uint64_t &g) {
	g = co_await coro::user_event(c, 77);
}
coro::task<void> signal_wait(coro::io_context &c, uint32_t &n) {
	n = co_await coro::signal(c, SIGUSR2, true); // consumed: no default action
}
coro::task<int> exit_wait(coro::io_context &c, pid_t p) {
	co_return co_await coro::process_exit(c, p, true);
}
coro::task<void> inode_wait(coro::io_context &c, int fd, uint32_t &b) {
	b = co_await coro::inode_change(c, fd, KEVENT_INODE_CREATE);
}
coro::task<int> both_ways(coro::io_context &c, int fd, int peer) {
	bool wrote = false;
	co_await coro::when_all(await_readable(c, fd), write_when_writable(c, fd, peer, wrote));
	co_return wrote ? 1 : 0;
}

TEST_P(Awaitables, ReadableCompletesAtOnceWhenDataIsThere) {
	socket_pair sp;
	ASSERT_EQ(1, ::write(sp.fd[1], "x", 1));
	coro::sync_wait(ctx(), await_readable(ctx(), sp.fd[0]));
	EXPECT_EQ(1u, q.stats().registered) << "a kevent ready at ADD is not kept";
}

TEST_P(Awaitables, ReadableAndWritableOnOneSocketAtOnce) {
	socket_pair sp;
	EXPECT_EQ(1, coro::sync_wait(ctx(), both_ways(ctx(), sp.fd[0], sp.fd[1])));
}

TEST_P(Awaitables, ReadableWaitsForData) {
	socket_pair sp;
	bool done = false;
	coro::spawn(ctx(), flag_when_readable(ctx(), sp.fd[0], done));
	EXPECT_EQ(1u, ctx().poll()); // starts and suspends
	EXPECT_FALSE(done);
	ASSERT_EQ(1, ::write(sp.fd[1], "x", 1));
	ctx().run();
	EXPECT_TRUE(done);
}

TEST_P(Awaitables, ErrorCodeFormReportsInsteadOfThrowing) {
	std::error_code ec;
	coro::sync_wait(ctx(), await_readable_ec(ctx(), 1000000, ec)); // not open
	EXPECT_EQ(EBADF, ec.value());
	EXPECT_THROW(coro::sync_wait(ctx(), await_readable(ctx(), 1000000)), std::system_error);
}

// Equal sleeps would share the key (interval, TIMER); each takes its own
// name instead, so all of them run at once.
TEST_P(Awaitables, ManyEqualSleepsAtOnce) {
	int done = 0;
	for (int i = 0; i < 200; ++i)
		coro::spawn(ctx(), sleep_and_count(ctx(), done));
	ctx().run();
	EXPECT_EQ(200, done);
}

TEST_P(Awaitables, SleepUntilThePastDoesNotSuspend) {
	coro::sync_wait(ctx(), sleep_into_the_past(ctx()));
}

TEST_P(Awaitables, AioRecvSendAcceptConnect) {
	int ls = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ASSERT_GE(ls, 0);
	sockaddr_in a{};
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ASSERT_EQ(0, ::bind(ls, reinterpret_cast<sockaddr *>(&a), sizeof a));
	ASSERT_EQ(0, ::listen(ls, 4));
	socklen_t al = sizeof a;
	ASSERT_EQ(0, ::getsockname(ls, reinterpret_cast<sockaddr *>(&a), &al));
	auto both = coro::sync_wait(ctx(),
				    coro::when_all(echo_once(ctx(), ls), hello_client(ctx(), a)));
	EXPECT_EQ("hello", std::get<0>(both));
	EXPECT_EQ("hello", std::get<1>(both));
	::close(ls);
}

TEST_P(Awaitables, AioConnectRefusedIsAnErrorCode) {
	sockaddr_in a{};
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = 0; // port 0: refused at once
	int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	std::error_code ec;
	coro::sync_wait(ctx(), connect_ec(ctx(), fd, a, ec));
	EXPECT_TRUE(ec) << "connect to port 0 must fail";
	::close(fd);
}

TEST_P(Awaitables, AioFileWriteReadFsyncSendfile) {
	char path[] = "/tmp/kevent_coro_XXXXXX";
	int fd = ::mkstemp(path);
	ASSERT_GE(fd, 0);
	::unlink(path);
	socket_pair sp;
	EXPECT_EQ("data|file", coro::sync_wait(ctx(), file_ops(ctx(), fd, sp.fd[0], sp.fd[1])));
	::close(fd);
}

TEST_P(Awaitables, UserEventCarriesItsPayload) {
	uint64_t got = 0;
	coro::spawn(ctx(), user_wait(ctx(), got));
	ctx().poll();
	coro::notify(ctx(), 77, 0x1234567890ull);
	ctx().run();
	EXPECT_EQ(0x1234567890ull, got);
	std::error_code ec;
	coro::notify(ctx(), 78, 1, ec);
	EXPECT_EQ(ENOENT, ec.value()) << "no wait registered";
}

TEST_P(Awaitables, SignalIsDelivered) {
	uint32_t count = 0;
	coro::spawn(ctx(), signal_wait(ctx(), count));
	ctx().poll();
	ASSERT_EQ(0, ::kill(::getpid(), SIGUSR2));
	ctx().run();
	EXPECT_GE(count, 1u);
}

TEST_P(Awaitables, ProcessExitGivesTheStatus) {
	pid_t pid = ::fork();
	ASSERT_GE(pid, 0);
	if (pid == 0)
		::_exit(7);
	int status = coro::sync_wait(ctx(), exit_wait(ctx(), pid));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(7, WEXITSTATUS(status));
}

TEST_P(Awaitables, InodeChangeReportsTheBits) {
	char dir[] = "/tmp/kevent_coro_dir_XXXXXX";
	ASSERT_NE(nullptr, ::mkdtemp(dir));
	int dfd = ::open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_GE(dfd, 0);
	uint32_t bits = 0;
	coro::spawn(ctx(), inode_wait(ctx(), dfd, bits));
	ctx().poll();
	std::string f = std::string(dir) + "/new";
	int nf = ::open(f.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	ASSERT_GE(nf, 0);
	::close(nf);
	ctx().run();
	EXPECT_EQ(KEVENT_INODE_CREATE, bits & KEVENT_INODE_CREATE);
	// The names of that delivery were handed to the queue; read them out.
	::close(dfd);
	std::filesystem::remove_all(dir);
}

KEVENT_INSTANTIATE_BACKENDS(Awaitables);

} // namespace
