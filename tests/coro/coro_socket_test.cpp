// SPDX-License-Identifier: MIT
// coro_socket_test.cpp — kevent::coro::socket (include/kevent/coro/socket.hpp,
// docs/coroutines.md "Sockets"): recv and send on one persistent kevent,
// the remembered readiness (a call after a short one waits for the next
// edge, and no data is ever missed for it), cancellation exactly once,
// close() and release(), a late event after the socket's number is reused,
// and four runners echoing at once.
#include "coro_fixture.hpp"

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

using namespace kevent_test;
namespace coro = kevent::coro;
using namespace std::chrono_literals;

namespace {

coro::task<std::string> recv_text(coro::socket &s, std::error_code &ec) {
	char buf[64];
	size_t n = co_await s.recv(std::as_writable_bytes(std::span(buf)), 0, ec);
	co_return std::string(buf, n);
}

coro::task<void> recv_into(coro::socket &s, std::error_code &ec, std::string &got) {
	got = co_await recv_text(s, ec);
}

constexpr int pieces = 200;

coro::task<void> read_pieces(coro::socket &s, std::string &got, std::error_code &ec) {
	while (got.size() < pieces * 3u) {
		char buf[7]; // shorter than two pieces: full and short reads mix
		size_t n = co_await s.recv(std::as_writable_bytes(std::span(buf)), 0, ec);
		if (ec || n == 0)
			co_return;
		got.append(buf, n);
	}
}

std::string piece(int i) {
	char p[4];
	std::snprintf(p, sizeof p, "%03d", i);
	return p;
}

std::byte pattern(size_t at) { return std::byte(static_cast<unsigned char>(at % 251)); }

coro::task<void> send_pattern(coro::socket &s, size_t total) {
	std::vector<std::byte> chunk(65536);
	size_t sent = 0;
	while (sent < total) {
		for (size_t i = 0; i < chunk.size(); i++)
			chunk[i] = pattern(sent + i);
		size_t n = std::min(chunk.size(), total - sent);
		sent += co_await s.send(std::span(chunk).first(n));
	}
}

coro::task<void> recv_pattern(coro::socket &s, size_t total, size_t &received, bool &ok) {
	std::vector<std::byte> buf(32768);
	while (received < total) {
		size_t n = co_await s.recv(buf);
		if (n == 0)
			co_return;
		for (size_t i = 0; i < n; i++)
			ok &= buf[i] == pattern(received + i);
		received += n;
	}
}

coro::task<void> send_text(coro::socket &s, std::string_view text, std::error_code &ec) {
	(void)co_await s.send(bytes(text), 0, ec);
}

coro::task<void> recv_stoppable(coro::socket &s, std::stop_token t, std::error_code &ec) {
	char b[4];
	(void)co_await s.recv(std::as_writable_bytes(std::span(b)), 0, ec).stop_on(std::move(t));
}

coro::task<void> recv_counted(coro::socket &s, std::stop_token t, std::atomic<int> &resumed,
			      long &received) {
	std::byte b[1];
	std::error_code ec;
	size_t got = co_await s.recv(b, 0, ec).stop_on(std::move(t));
	resumed.fetch_add(1);
	if (!ec)
		received += static_cast<long>(got);
}

coro::task<void> recv_then_mark(coro::socket &s, std::error_code &ec, bool &resumed) {
	(void)co_await recv_text(s, ec);
	resumed = true;
}

constexpr int messages = 200;

coro::task<void> echo(coro::socket &s) {
	std::byte buf[256];
	for (;;) {
		size_t n = co_await s.recv(buf);
		if (n == 0)
			co_return;
		for (size_t off = 0; off < n;)
			off += co_await s.send(std::span(buf + off, n - off));
	}
}

coro::task<void> echo_client(coro::socket &s, int id, std::atomic<int> &ok) {
	for (int m = 0; m < messages; m++) {
		char msg[32];
		int len = std::snprintf(msg, sizeof msg, "%d:%d;", id, m);
		auto out = std::as_bytes(std::span(msg, size_t(len)));
		for (size_t off = 0; off < out.size();)
			off += co_await s.send(out.subspan(off));
		char in[32];
		size_t got = 0;
		while (got < size_t(len))
			got += co_await s.recv(
				std::as_writable_bytes(std::span(in + got, size_t(len) - got)));
		if (std::memcmp(in, msg, size_t(len)) != 0)
			co_return;
	}
	ok.fetch_add(1);
	::shutdown(s.native_handle(), SHUT_WR); // the server's recv sees EOF
}

class CoroSocket : public CoroTest {
protected:
	socket_pair own; // own.fd[0] is sock()'s; own.fd[1] its peer
	std::optional<coro::socket> sock_;

	coro::socket &sock() {
		if (!sock_) {
			sock_.emplace(ctx(), own.fd[0]);
			own.fd[0] = -1; // the socket closes it
		}
		return *sock_;
	}
	// A coroutine that waits in sock().recv: its text and error go to got
	// and ec when it resumes.
	void start_recv(std::error_code &ec, std::string &got) {
		coro::spawn(ctx(), recv_into(sock(), ec, got));
		ctx().poll();
	}
	// Kevents a socket registers: its persistent one on epoll; none on
	// io_uring, where its calls are the queue's asynchronous ones
	// (coro/socket.hpp).
	unsigned socket_kevents() { return ctx().backend() == KEVENT_BACKEND_URING ? 0 : 1; }
	void TearDown() override {
		sock_.reset(); // before the context
		CoroTest::TearDown();
	}
};

TEST_P(CoroSocket, DataAlreadyThereIsReceivedWithoutWaiting) {
	socket_pair sp;
	ASSERT_EQ(5, ::write(sp.fd[1], "hello", 5));
	coro::socket s(ctx(), sp.fd[0]);
	sp.fd[0] = -1; // the socket owns it
	EXPECT_EQ(1u + socket_kevents(), q.stats().registered)
		<< "the socket's kevent (epoll) and the context's wake";
	std::error_code ec;
	EXPECT_EQ("hello", coro::sync_wait(ctx(), recv_text(s, ec)));
	EXPECT_FALSE(ec);
}

TEST_P(CoroSocket, ARecvWaitsForTheNextArrival) {
	std::error_code ec;
	std::string got;
	start_recv(ec, got);
	EXPECT_TRUE(got.empty()) << "nothing was sent yet";
	ASSERT_EQ(3, ::write(own.fd[1], "abc", 3));
	ctx().run();
	EXPECT_EQ("abc", got);
	EXPECT_FALSE(ec);
}

// A short recv marks the socket drained: the next one waits for an edge
// without trying. Bytes written after the short read — at once, or after
// the wait began — must all arrive, in order.
TEST_P(CoroSocket, AfterAShortRecvEveryLaterArrivalIsStillReceived) {
	coro::socket &s = sock();
	std::string got;
	std::error_code ec;
	std::thread writer([&] {
		for (int i = 0; i < pieces; i++) {
			ASSERT_EQ(3, ::write(own.fd[1], piece(i).data(), 3));
			if (i % 7 == 0)
				std::this_thread::sleep_for(100us);
		}
	});
	coro::sync_wait(ctx(), read_pieces(s, got, ec));
	writer.join();
	ASSERT_FALSE(ec) << ec.message();
	ASSERT_EQ(pieces * 3u, got.size());
	for (int i = 0; i < pieces; i++)
		ASSERT_EQ(piece(i), got.substr(size_t(i) * 3, 3)) << "piece " << i;
}

// A send that fills the socket's buffer waits for room, and every byte
// arrives.
TEST_P(CoroSocket, SendsWaitForRoomAndDeliverEveryByte) {
	socket_pair sp;
	coro::socket a(ctx(), sp.fd[0]);
	coro::socket b(ctx(), sp.fd[1]);
	sp.fd[0] = sp.fd[1] = -1;
	const size_t total = 4u << 20;
	size_t received = 0;
	bool order_ok = true;
	coro::sync_wait(ctx(), coro::when_all(send_pattern(a, total),
					      recv_pattern(b, total, received, order_ok)));
	EXPECT_EQ(total, received);
	EXPECT_TRUE(order_ok);
}

TEST_P(CoroSocket, EndOfFileIsZeroAndASendToAClosedPeerIsEpipe) {
	coro::socket &s = sock();
	std::error_code ec;
	std::string got = "x";
	start_recv(ec, got);
	::close(own.fd[1]);
	own.fd[1] = -1;
	ctx().run();
	EXPECT_FALSE(ec) << ec.message();
	EXPECT_EQ("", got);
	std::error_code sec;
	coro::sync_wait(ctx(), send_text(s, "late", sec));
	EXPECT_EQ(std::errc::broken_pipe, sec) << "EPIPE, and no SIGPIPE killed the test";
}

TEST_P(CoroSocket, StopWhileWaitingResumesWithCanceledAndKeepsTheWatch) {
	coro::socket &s = sock();
	std::stop_source src;
	std::error_code ec;
	coro::spawn(ctx(), recv_stoppable(s, src.get_token(), ec));
	ctx().poll();
	src.request_stop();
	ctx().run();
	EXPECT_EQ(std::errc::operation_canceled, ec);
	EXPECT_EQ(1u + socket_kevents(), q.stats().registered)
		<< "the socket still watched (epoll), for its next call";
	ASSERT_EQ(2, ::write(own.fd[1], "ok", 2));
	std::error_code ec2;
	EXPECT_EQ("ok", coro::sync_wait(ctx(), recv_text(s, ec2)));
}

// A stop request and an arrival race: the coroutine resumes exactly once,
// and a byte is either received or still in the socket — never lost, never
// both.
TEST_P(CoroSocket, StopRacingAnArrivalResumesOnceAndLosesNoData) {
	socket_pair sp;
	coro::socket s(ctx(), sp.fd[0]);
	int peer = sp.fd[1];
	std::atomic<int> resumed{0};
	long received = 0, left = 0;
	const int n = race_rounds / 5;
	for (int i = 0; i < n; ++i) {
		std::stop_source src;
		coro::spawn(ctx(), recv_counted(s, src.get_token(), resumed, received));
		ctx().restart();
		ctx().poll(); // waits in the slot
		std::thread stopper([&] { src.request_stop(); });
		ASSERT_EQ(1, ::write(peer, "z", 1));
		stopper.join();
		ctx().restart();
		ctx().run();
		ASSERT_EQ(i + 1, resumed.load()) << "round " << i;
		char c;
		while (::recv(s.native_handle(), &c, 1, MSG_DONTWAIT) == 1)
			++left;
	}
	EXPECT_EQ(n, received + left) << "every byte received once or left in the socket";
	sp.fd[0] = -1; // the socket closes it
}

TEST_P(CoroSocket, CloseEndsAWaitingRecvWithCanceledAndClosesTheDescriptor) {
	socket_pair sp;
	auto s = std::make_unique<coro::socket>(ctx(), sp.fd[0]);
	int fd = sp.fd[0];
	sp.fd[0] = -1;
	std::error_code ec;
	bool resumed = false;
	coro::spawn(ctx(), recv_then_mark(*s, ec, resumed));
	ctx().poll();
	s->close();
	EXPECT_FALSE(s->is_open());
	EXPECT_EQ(-1, ::fcntl(fd, F_GETFD));
	EXPECT_EQ(EBADF, errno);
	ctx().run();
	EXPECT_TRUE(resumed);
	EXPECT_EQ(std::errc::operation_canceled, ec);
	EXPECT_EQ(1u, q.stats().registered) << "only the context's wake kevent is left";
	std::error_code ec2;
	(void)coro::sync_wait(ctx(), recv_text(*s, ec2));
	EXPECT_EQ(std::errc::bad_file_descriptor, ec2) << "a closed socket's calls fail EBADF";
}

// Awaits an operation made elsewhere (its error goes where it was told).
coro::task<void> await_recv(coro::socket_recv_op op) { (void)co_await std::move(op); }

// An operation made before its socket was closed fails EBADF when awaited,
// even once the socket's slot serves a new socket; so does any call of a
// socket that was never opened.
TEST_P(CoroSocket, AnOperationOfAClosedSocketFailsEbadfEvenWhenItsSlotIsReused) {
	char b[4];
	std::error_code ec;
	auto old = sock().recv(std::as_writable_bytes(std::span(b)), 0, ec);
	sock().close();
	socket_pair next;
	coro::socket fresh(ctx(), next.fd[0]); // takes the recycled slot
	next.fd[0] = -1;
	ASSERT_EQ(1, ::write(next.fd[1], "n", 1));
	coro::sync_wait(ctx(), await_recv(std::move(old)));
	ASSERT_EQ(std::errc::bad_file_descriptor, ec) << "it must not read the new socket";
	std::error_code ec2;
	EXPECT_EQ("n", coro::sync_wait(ctx(), recv_text(fresh, ec2)));
	coro::socket never;
	std::error_code ec3;
	(void)coro::sync_wait(ctx(), recv_text(never, ec3));
	EXPECT_EQ(std::errc::bad_file_descriptor, ec3);
	std::stop_source stopped;
	stopped.request_stop();
	std::error_code ec4;
	coro::sync_wait(ctx(), recv_stoppable(never, stopped.get_token(), ec4));
	EXPECT_EQ(std::errc::operation_canceled, ec4) << "a stop before the call wins, even here";
}

TEST_P(CoroSocket, ReleaseHandsTheDescriptorBackOpenAndUnwatched) {
	socket_pair sp;
	coro::socket s(ctx(), sp.fd[0]);
	int fd = s.release();
	EXPECT_EQ(sp.fd[0], fd);
	EXPECT_GE(::fcntl(fd, F_GETFD), 0);
	EXPECT_EQ(1u, q.stats().registered);
	EXPECT_EQ(-1, s.release());
}

TEST_P(CoroSocket, ASecondRecvWhileOneWaitsFailsEbusy) {
	coro::socket &s = sock();
	std::error_code first, second;
	coro::spawn(ctx(), recv_text(s, first));
	ctx().poll();
	(void)coro::sync_wait(ctx(), recv_text(s, second));
	EXPECT_EQ(std::errc::device_or_resource_busy, second);
	ASSERT_EQ(1, ::write(own.fd[1], "!", 1));
	ctx().run();
	EXPECT_FALSE(first);
}

TEST_P(CoroSocket, ADescriptorThatIsNoSocketIsRefusedAndLeftOpen) {
	int p[2];
	ASSERT_EQ(0, ::pipe2(p, O_CLOEXEC));
	std::error_code ec;
	coro::socket s(ctx(), p[0], ec);
	EXPECT_EQ(std::errc::invalid_argument, ec);
	EXPECT_FALSE(s.is_open());
	EXPECT_GE(::fcntl(p[0], F_GETFD), 0);
	coro::socket bad(ctx(), 100000, ec);
	EXPECT_EQ(std::errc::bad_file_descriptor, ec);
	EXPECT_THROW(coro::socket(ctx(), p[1]), std::system_error);
	EXPECT_EQ(1u, q.stats().registered) << "nothing stays registered";
	::close(p[0]);
	::close(p[1]);
}

// The task of a waiting recv is destroyed: its awaiter leaves the slot,
// and data arriving later finds nobody waiting.
TEST_P(CoroSocket, DestroyingASuspendedTaskLeavesTheSocketUsable) {
	coro::socket &s = sock();
	{
		std::error_code ec;
		auto t = recv_text(s, ec);
		auto h = t.handle();
		h.resume(); // runs to the suspension in recv
		EXPECT_FALSE(h.done());
	} // destroyed suspended
	ASSERT_EQ(2, ::write(own.fd[1], "hi", 2));
	ctx().poll();
	std::error_code ec;
	EXPECT_EQ("hi", coro::sync_wait(ctx(), recv_text(s, ec)));
}

// One edge finishes a waiting recv and a waiting send at once; the recv's
// coroutine, resumed first, destroys the send's suspended task. The send's
// resumption was posted before (its awaiter withdraws it); it must not wait
// for a finisher that is the very thread running the recv's coroutine.
struct both_ways {
	std::optional<coro::task<void>> sender;
	bool recv_done = false;
};

coro::task<void> send_block(coro::socket &s, std::error_code &ec) {
	std::byte b[4096] = {};
	(void)co_await s.send(b, 0, ec);
}

coro::task<void> recv_then_destroy_sender(coro::socket &s, both_ways &st) {
	std::byte b[8];
	std::error_code ec;
	(void)co_await s.recv(b, 0, ec);
	st.recv_done = !ec;
	st.sender.reset(); // destroys the suspended send
}

TEST_P(CoroSocket, AnEdgeForBothWaysLetsTheFirstCoroutineDestroyTheOther) {
	coro::socket &s = sock();
	std::byte fill[65536] = {};
	while (::send(s.native_handle(), fill, sizeof fill, MSG_DONTWAIT) > 0) {
	}
	both_ways st;
	std::error_code sec;
	st.sender.emplace(send_block(s, sec));
	st.sender->handle().resume(); // waits for room
	ASSERT_FALSE(st.sender->handle().done());
	coro::spawn(ctx(), recv_then_destroy_sender(s, st));
	ctx().poll(); // the recv waits too
	ASSERT_FALSE(st.recv_done);
	char sink[65536];
	while (::read(own.fd[1], sink, sizeof sink) > 0) { // room: a SEND edge
	}
	ASSERT_EQ(1, ::write(own.fd[1], "r", 1)); // a RECV edge, one harvest
	ctx().run();
	EXPECT_TRUE(st.recv_done);
	EXPECT_FALSE(st.sender.has_value());
	// The socket goes on working both ways.
	ASSERT_EQ(2, ::write(own.fd[1], "ok", 2));
	std::error_code ec;
	EXPECT_EQ("ok", coro::sync_wait(ctx(), recv_text(s, ec)));
}

// Two sockets' edges harvested in one batch; the first coroutine resumed
// closes the other socket and opens a new one, which gets the same number
// and the recycled slot, before the other's edge is dispatched. That late
// edge costs the new socket one failed try at most: the closed socket's
// recv ends canceled, and the new socket's own data still arrives.
struct swap_state {
	std::unique_ptr<coro::socket> s[2];
	int peer[2] = {-1, -1};
	int first = -1;    // whose recv resumed first
	int new_peer = -1; // the new socket's peer
	std::error_code ec[2];
	size_t got[2] = {0, 0};
};

coro::task<void> recv_and_swap(coro::io_context &c, swap_state &st, int me) {
	char b[8];
	st.got[me] = co_await st.s[me]->recv(std::as_writable_bytes(std::span(b)), 0, st.ec[me]);
	if (st.first >= 0)
		co_return; // the other came first and closed this one
	st.first = me;
	int other = 1 - me;
	int number = st.s[other]->native_handle();
	st.s[other]->close(); // its edge waits in this batch
	int sv[2];
	if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0 ||
	    sv[0] != number)
		co_return; // the test sees first_number_reused false
	st.s[other] = std::make_unique<coro::socket>(c, sv[0]);
	st.new_peer = sv[1];
}

TEST_P(CoroSocket, ALateEdgeOfAClosedSocketDoesNotConfuseItsSuccessor) {
	for (int round = 0; round < 20; round++) {
		swap_state st;
		for (int i = 0; i < 2; i++) {
			int sv[2];
			ASSERT_EQ(0,
				  ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
					       0, sv));
			st.s[i] = std::make_unique<coro::socket>(ctx(), sv[0]);
			st.peer[i] = sv[1];
		}
		coro::spawn(ctx(), recv_and_swap(ctx(), st, 0));
		coro::spawn(ctx(), recv_and_swap(ctx(), st, 1));
		ctx().restart();
		ctx().poll(); // both wait
		ASSERT_EQ(1, ::write(st.peer[0], "a", 1));
		ASSERT_EQ(1, ::write(st.peer[1], "b", 1));
		ctx().restart();
		ctx().run(); // one batch: both edges
		ASSERT_GE(st.first, 0) << "round " << round;
		int other = 1 - st.first;
		ASSERT_GE(st.new_peer, 0) << "round " << round << ": the number was not reused";
		// On io_uring the other's recv is the ring's own: its completion,
		// harvested in the same batch, may already hold the byte when
		// close() comes (then it ends with it); a readiness wait is always
		// cancelled.
		if (socket_kevents() == 0 && !st.ec[other])
			EXPECT_EQ(1u, st.got[other]) << "round " << round;
		else
			EXPECT_EQ(std::errc::operation_canceled, st.ec[other]) << "round " << round;
		// The successor works: a recv waits, and its data arrives.
		std::error_code ec;
		std::string got;
		coro::spawn(ctx(), recv_into(*st.s[other], ec, got));
		ctx().restart();
		ctx().poll();
		EXPECT_TRUE(got.empty()) << "round " << round << ": nothing was sent to it yet";
		ASSERT_EQ(2, ::write(st.new_peer, "ok", 2));
		ctx().restart();
		ctx().run();
		ASSERT_EQ("ok", got) << "round " << round;
		ASSERT_FALSE(ec);
		st.s[0].reset();
		st.s[1].reset();
		for (int f : {st.peer[0], st.peer[1], st.new_peer})
			::close(f);
	}
}

// Four runners, many connections echoing at once (TSan runs this).
TEST_P(CoroSocket, FourRunnersEchoOnManySockets) {
	constexpr int conns = 32;
	std::vector<std::unique_ptr<socket_pair>> pairs;
	std::vector<std::unique_ptr<coro::socket>> servers, clients;
	for (int i = 0; i < conns; i++) {
		pairs.push_back(std::make_unique<socket_pair>());
		servers.push_back(std::make_unique<coro::socket>(ctx(), pairs.back()->fd[0]));
		clients.push_back(std::make_unique<coro::socket>(ctx(), pairs.back()->fd[1]));
		pairs.back()->fd[0] = pairs.back()->fd[1] = -1;
	}
	std::atomic<int> ok{0};
	for (int i = 0; i < conns; i++) {
		coro::spawn(ctx(), echo(*servers[size_t(i)]));
		coro::spawn(ctx(), echo_client(*clients[size_t(i)], i, ok));
	}
	std::vector<std::thread> runners;
	for (int r = 0; r < 4; r++)
		runners.emplace_back([this] { ctx().run(); });
	for (auto &t : runners)
		t.join();
	EXPECT_EQ(conns, ok.load());
}

KEVENT_INSTANTIATE_BACKENDS(CoroSocket);

} // namespace
