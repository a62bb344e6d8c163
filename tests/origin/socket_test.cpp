// SPDX-License-Identifier: MIT
// socket_test — the SOCKET origin: the common contract (origin_contract.hpp)
// on AF_UNIX stream pairs and on real TCP over 127.0.0.1, and the rules of
// kevent_socket(7): RECV on data and on EOF, ACCEPT, SEND, ret_data[0] = the
// bits that fired, BROKEN on hang-up/error, EINVAL/EBADF on the wrong fd.
#include "origin_contract.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <cstdlib>

namespace {

using namespace kevent_origin;

// ---- TCP on 127.0.0.1 with an ephemeral port --------------------------------

unique_fd tcp_listener(uint16_t &port) {
	unique_fd l(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
	EXPECT_GE(l.get(), 0) << std::strerror(errno);
	sockaddr_in a{};
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = 0;
	EXPECT_EQ(0, ::bind(l.get(), reinterpret_cast<sockaddr *>(&a), sizeof a))
		<< std::strerror(errno);
	EXPECT_EQ(0, ::listen(l.get(), 16)) << std::strerror(errno);
	socklen_t len = sizeof a;
	EXPECT_EQ(0, ::getsockname(l.get(), reinterpret_cast<sockaddr *>(&a), &len));
	port = ntohs(a.sin_port);
	return l;
}

unique_fd tcp_connect(uint16_t port) {
	unique_fd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
	EXPECT_GE(c.get(), 0) << std::strerror(errno);
	sockaddr_in a{};
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	EXPECT_EQ(0, ::connect(c.get(), reinterpret_cast<sockaddr *>(&a), sizeof a))
		<< std::strerror(errno);
	::fcntl(c.get(), F_SETFL, ::fcntl(c.get(), F_GETFL) | O_NONBLOCK);
	return c;
}

unique_fd tcp_accept(int listener) {
	for (int i = 0; i < 2000; i++) {
		int s = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (s >= 0)
			return unique_fd(s);
		std::this_thread::sleep_for(std::chrono::milliseconds(1));
	}
	ADD_FAILURE() << "accept: " << std::strerror(errno);
	return unique_fd();
}

// Closing with SO_LINGER {1, 0} sends a RST: the other end gets ECONNRESET.
void reset_close(unique_fd &s) {
	linger lg{1, 0};
	::setsockopt(s.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	s.reset();
}

// ---- targets for the common contract ------------------------------------------

// Watches one end of an AF_UNIX stream pair for RECV; the test drives the peer.
class UnixSocketTarget {
public:
	static constexpr unsigned type = KEVENT_SOCKET;

	explicit UnixSocketTarget(int) {
		int sv[2];
		EXPECT_EQ(0,
			  ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv))
			<< std::strerror(errno);
		mine_.reset(sv[0]);
		peer_.reset(sv[1]);
		number_ = sv[0];
	}
	uint64_t id() const { return static_cast<uint32_t>(number_); }
	unsigned event() const { return KEVENT_SOCKET_RECV; }
	void on_added() {}
	void trigger(int) { EXPECT_EQ(1, put(peer_.get())) << std::strerror(errno); }
	void consume() { drain(mine_.get()); }
	void check_fired(const ukevent &e) const {
		EXPECT_EQ(KEVENT_SOCKET_RECV, e.ret_data[0]) << describe(e);
	}
	void make_ready_before_add(ukevent &) { trigger(-1); }
	void check_ready_at_add(const ukevent &e) const { check_fired(e); }
	void break_it() { peer_.reset(); }
	void check_broken(const ukevent &e) const { EXPECT_LT(err_of(e), 0) << describe(e); }
	int fd() const { return number_; }
	void close_watched() { mine_.reset(); }
	void take_number(int n) {
		vacate(peer_, n);
		number_ = move_fd(mine_.release(), n);
		mine_.reset(number_);
	}

private:
	unique_fd mine_, peer_;
	int number_ = -1;
};

// Watches the accepted end of a TCP connection on 127.0.0.1 for RECV.
class TcpSocketTarget {
public:
	static constexpr unsigned type = KEVENT_SOCKET;

	explicit TcpSocketTarget(int) {
		uint16_t port = 0;
		unique_fd l = tcp_listener(port);
		peer_ = tcp_connect(port);
		mine_ = tcp_accept(l.get());
		number_ = mine_.get();
	}
	uint64_t id() const { return static_cast<uint32_t>(number_); }
	unsigned event() const { return KEVENT_SOCKET_RECV; }
	void on_added() {}
	void trigger(int) {
		EXPECT_EQ(1, put(peer_.get())) << std::strerror(errno);
		// Loopback delivers in the sender's context; wait until it is there.
		pollfd p{mine_.get(), POLLIN, 0};
		EXPECT_EQ(1, ::poll(&p, 1, 2000));
	}
	void consume() { drain(mine_.get()); }
	void check_fired(const ukevent &e) const {
		EXPECT_EQ(KEVENT_SOCKET_RECV, e.ret_data[0]) << describe(e);
	}
	void make_ready_before_add(ukevent &) { trigger(-1); }
	void check_ready_at_add(const ukevent &e) const { check_fired(e); }
	void break_it() {
		reset_close(peer_);
		pollfd p{mine_.get(), POLLIN, 0};
		EXPECT_EQ(1, ::poll(&p, 1, 2000));
	}
	void check_broken(const ukevent &e) const { EXPECT_LT(err_of(e), 0) << describe(e); }
	int fd() const { return number_; }
	void close_watched() { mine_.reset(); }
	void take_number(int n) {
		vacate(peer_, n);
		number_ = move_fd(mine_.release(), n);
		mine_.reset(number_);
	}

private:
	unique_fd mine_, peer_;
	int number_ = -1;
};

using SocketContract = Contract<UnixSocketTarget>;
KEVENT_ORIGIN_CONTRACT(SocketContract)
KEVENT_ORIGIN_CONTRACT_CONDITION(SocketContract)
KEVENT_ORIGIN_CONTRACT_BROKEN(SocketContract)
KEVENT_ORIGIN_CONTRACT_FD(SocketContract)
KEVENT_INSTANTIATE_BACKENDS(SocketContract);

using TcpSocketContract = Contract<TcpSocketTarget>;
KEVENT_ORIGIN_CONTRACT(TcpSocketContract)
KEVENT_ORIGIN_CONTRACT_CONDITION(TcpSocketContract)
KEVENT_ORIGIN_CONTRACT_BROKEN(TcpSocketContract)
KEVENT_ORIGIN_CONTRACT_FD(TcpSocketContract)
KEVENT_INSTANTIATE_BACKENDS(TcpSocketContract);

// ---- kevent_socket(7), the SOCKET origin's own rules ---------------------------

class Socket : public QueueTest {
protected:
	unique_fd a_, b_; // an AF_UNIX stream pair; the tests watch a_

	void SetUp() override {
		QueueTest::SetUp();
		if (IsSkipped() || HasFatalFailure())
			return;
		int sv[2];
		ASSERT_EQ(0,
			  ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
		a_.reset(sv[0]);
		b_.reset(sv[1]);
	}

	ukevent sock(int fd, unsigned bits, unsigned req = 0, uint64_t cookie = 7) {
		return make(KEVENT_SOCKET, static_cast<uint32_t>(fd), bits, req, cookie);
	}

	// ADD expecting the entry to be queued (not ready, no error).
	void add_armed(ukevent e) { ASSERT_EQ(0, add(e)) << describe(e); }

	// Waits for exactly one event on the queue.
	ukevent one() {
		auto ev = get(kfd, 1, 8, 2000);
		EXPECT_EQ(1u, ev.size()) << describe(ev);
		return ev.empty() ? ukevent{} : ev[0];
	}

	void expect_add_fails(ukevent e, int err) {
		ASSERT_EQ(1, add(e)) << describe(e);
		EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, e.ret_flags) << describe(e);
		EXPECT_EQ(-err, err_of(e)) << describe(e);
		EXPECT_EQ(0u, queue_stats(kfd).registered);
	}
};

TEST_P(Socket, RecvFiresOnData) {
	add_armed(sock(a_.get(), KEVENT_SOCKET_RECV));
	EXPECT_TRUE(get(kfd, 1, 8, 0).empty());
	ASSERT_EQ(3, put(b_.get(), 3));
	ukevent ev = one();
	EXPECT_EQ(static_cast<uint32_t>(a_.get()), ev.id.raw[0]);
	EXPECT_EQ(KEVENT_SOCKET_RECV, ev.ret_data[0]) << describe(ev);
	EXPECT_EQ(0u, ev.ret_flags) << describe(ev);
}

TEST_P(Socket, RecvFiresOnEofAfterPeerShutdownWr) {
	add_armed(sock(a_.get(), KEVENT_SOCKET_RECV));
	ASSERT_EQ(0, ::shutdown(b_.get(), SHUT_WR));
	ukevent ev = one();
	EXPECT_EQ(KEVENT_SOCKET_RECV, ev.ret_data[0]) << describe(ev);
	EXPECT_EQ(0u, ev.ret_flags) << "EOF to read is RECV, not BROKEN: " << describe(ev);
	char c;
	EXPECT_EQ(0, ::read(a_.get(), &c, 1)); // it really is EOF
}

TEST_P(Socket, TcpRecvFiresOnData) {
	uint16_t port = 0;
	unique_fd l = tcp_listener(port);
	unique_fd c = tcp_connect(port);
	unique_fd s = tcp_accept(l.get());
	add_armed(sock(s.get(), KEVENT_SOCKET_RECV));
	ASSERT_EQ(5, ::send(c.get(), "hello", 5, MSG_NOSIGNAL));
	ukevent ev = one();
	EXPECT_EQ(static_cast<uint32_t>(s.get()), ev.id.raw[0]);
	EXPECT_EQ(KEVENT_SOCKET_RECV, ev.ret_data[0]) << describe(ev);
	EXPECT_EQ(0u, ev.ret_flags) << describe(ev);
}

TEST_P(Socket, TcpRecvFiresOnEofAfterPeerShutdownWr) {
	uint16_t port = 0;
	unique_fd l = tcp_listener(port);
	unique_fd c = tcp_connect(port);
	unique_fd s = tcp_accept(l.get());
	add_armed(sock(s.get(), KEVENT_SOCKET_RECV));
	ASSERT_EQ(0, ::shutdown(c.get(), SHUT_WR));
	ukevent ev = one();
	EXPECT_EQ(KEVENT_SOCKET_RECV, ev.ret_data[0]) << describe(ev);
	EXPECT_EQ(0u, ev.ret_flags) << "EOF to read is RECV, not BROKEN: " << describe(ev);
}

TEST_P(Socket, TcpPeerCloseIsEofToReadNotBroken) {
	uint16_t port = 0;
	unique_fd l = tcp_listener(port);
	unique_fd c = tcp_connect(port);
	unique_fd s = tcp_accept(l.get());
	add_armed(sock(s.get(), KEVENT_SOCKET_RECV));
	c.reset(); // FIN: our side can still write, so this is EOF, not a hang-up
	ukevent ev = one();
	EXPECT_EQ(KEVENT_SOCKET_RECV, ev.ret_data[0]) << describe(ev);
	EXPECT_EQ(0u, ev.ret_flags) << describe(ev);
}

TEST_P(Socket, AcceptFiresOnAPendingConnection) {
	uint16_t port = 0;
	unique_fd l = tcp_listener(port);
	add_armed(sock(l.get(), KEVENT_SOCKET_ACCEPT));
	EXPECT_TRUE(get(kfd, 1, 8, 0).empty());
	unique_fd c = tcp_connect(port);
	ukevent ev = one();
	EXPECT_EQ(static_cast<uint32_t>(l.get()), ev.id.raw[0]);
	EXPECT_EQ(KEVENT_SOCKET_ACCEPT, ev.ret_data[0]) << describe(ev);
	EXPECT_EQ(0u, ev.ret_flags) << describe(ev);
	unique_fd s = tcp_accept(l.get());
	EXPECT_GE(s.get(), 0);
}

TEST_P(Socket, AcceptIsReadyAtAddWithAConnectionWaiting) {
	uint16_t port = 0;
	unique_fd l = tcp_listener(port);
	unique_fd c = tcp_connect(port);
	ukevent e = sock(l.get(), KEVENT_SOCKET_ACCEPT);
	ASSERT_EQ(1, add(e)) << describe(e);
	EXPECT_EQ(KEVENT_RET_DONE, e.ret_flags) << describe(e);
	EXPECT_EQ(KEVENT_SOCKET_ACCEPT, e.ret_data[0]) << describe(e);
}

TEST_P(Socket, SendIsReadyAtAddWhenThereIsRoom) {
	ukevent e = sock(a_.get(), KEVENT_SOCKET_SEND);
	ASSERT_EQ(1, add(e)) << describe(e);
	EXPECT_EQ(KEVENT_RET_DONE, e.ret_flags) << describe(e);
	EXPECT_EQ(KEVENT_SOCKET_SEND, e.ret_data[0]) << describe(e);
	EXPECT_EQ(0u, queue_stats(kfd).registered);
}

TEST_P(Socket, SendFiresWhenRoomComesBack) {
	fill(a_.get());
	add_armed(sock(a_.get(), KEVENT_SOCKET_SEND));
	EXPECT_TRUE(get(kfd, 1, 8, 0).empty()) << "SEND fired on a full socket";
	drain(b_.get());
	ukevent ev = one();
	EXPECT_EQ(KEVENT_SOCKET_SEND, ev.ret_data[0]) << describe(ev);
	EXPECT_EQ(0u, ev.ret_flags) << describe(ev);
}

TEST_P(Socket, TcpSendFiresWhenRoomComesBack) {
	uint16_t port = 0;
	unique_fd l = tcp_listener(port);
	unique_fd c = tcp_connect(port);
	unique_fd s = tcp_accept(l.get());
	fill(c.get());
	add_armed(sock(c.get(), KEVENT_SOCKET_SEND));
	// Read until the sender has room again (TCP frees it as ACKs arrive).
	std::vector<ukevent> ev;
	for (int i = 0; i < 200 && ev.empty(); i++) {
		drain(s.get());
		ev = get(kfd, 1, 8, 10);
	}
	ASSERT_EQ(1u, ev.size()) << describe(ev);
	EXPECT_EQ(KEVENT_SOCKET_SEND, ev[0].ret_data[0]) << describe(ev[0]);
}

TEST_P(Socket, RetDataIsTheRequestedBitsThatFired) {
	// Room but no data: of RECV|SEND only SEND fired.
	ukevent e = sock(a_.get(), KEVENT_SOCKET_RECV | KEVENT_SOCKET_SEND);
	ASSERT_EQ(1, add(e)) << describe(e);
	EXPECT_EQ(KEVENT_SOCKET_SEND, e.ret_data[0]) << describe(e);
	// Room and data: both.
	ASSERT_EQ(1, put(b_.get()));
	e = sock(a_.get(), KEVENT_SOCKET_RECV | KEVENT_SOCKET_SEND);
	ASSERT_EQ(1, add(e)) << describe(e);
	EXPECT_EQ(KEVENT_SOCKET_RECV | KEVENT_SOCKET_SEND, e.ret_data[0]) << describe(e);
	// Room and data, only RECV requested: SEND is not reported.
	e = sock(a_.get(), KEVENT_SOCKET_RECV);
	ASSERT_EQ(1, add(e)) << describe(e);
	EXPECT_EQ(KEVENT_SOCKET_RECV, e.ret_data[0]) << describe(e);
}

TEST_P(Socket, ModifyReplacesEventBitsAndRechecks) {
	add_armed(sock(a_.get(), KEVENT_SOCKET_RECV)); // no data: not ready
	ukevent m = sock(a_.get(), KEVENT_SOCKET_SEND, 0, 9);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_MODIFY, 1, &m));
	EXPECT_EQ(KEVENT_RET_DONE, m.ret_flags) << describe(m);
	auto ev = get(kfd, 1, 8, 0); // room: ready now, queued by MODIFY
	ASSERT_EQ(1u, ev.size()) << "MODIFY to SEND on a socket with room did not queue it";
	EXPECT_EQ(KEVENT_SOCKET_SEND, ev[0].event);
	EXPECT_EQ(KEVENT_SOCKET_SEND, ev[0].ret_data[0]) << describe(ev[0]);
	EXPECT_EQ(9u, cookie_of(ev[0]));
}

TEST_P(Socket, PeerCloseIsBrokenDeliveredOnce) {
	add_armed(sock(a_.get(), KEVENT_SOCKET_RECV));
	b_.reset();
	ukevent ev = one();
	EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, ev.ret_flags) << describe(ev);
	EXPECT_LT(err_of(ev), 0) << describe(ev);
	EXPECT_EQ(-EPIPE, err_of(ev)) << "a hang-up without SO_ERROR is -EPIPE (docs/semantics.md)";
	EXPECT_EQ(KEVENT_SOCKET_RECV, ev.ret_data[0]) << "EOF still fires RECV: " << describe(ev);
	EXPECT_TRUE(get(kfd, 1, 8, 100).empty());
	EXPECT_EQ(0u, queue_stats(kfd).registered);
}

TEST_P(Socket, TcpPeerResetIsBrokenDeliveredOnceWithConnReset) {
	uint16_t port = 0;
	unique_fd l = tcp_listener(port);
	unique_fd c = tcp_connect(port);
	unique_fd s = tcp_accept(l.get());
	// LEVEL: after a reset the socket polls readable for ever, so only
	// BROKEN ends the reports.
	add_armed(sock(s.get(), KEVENT_SOCKET_RECV, KEVENT_REQ_LEVEL));
	reset_close(c);
	std::vector<ukevent> ev = get(kfd, 1, 8, 2000);
	ASSERT_EQ(1u, ev.size()) << describe(ev);
	EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, ev[0].ret_flags) << describe(ev[0]);
	EXPECT_EQ(-ECONNRESET, err_of(ev[0])) << describe(ev[0]);
	EXPECT_TRUE(get(kfd, 1, 8, 100).empty());
	EXPECT_EQ(0u, queue_stats(kfd).registered);
}

TEST_P(Socket, UnknownEventBitsAreEinval) {
	expect_add_fails(sock(a_.get(), 0x8), EINVAL);
	expect_add_fails(sock(a_.get(), KEVENT_SOCKET_RECV | 0x100), EINVAL);
	expect_add_fails(sock(a_.get(), 0), EINVAL);
}

TEST_P(Socket, SocketOnAPipeIsEinval) {
	int p[2];
	ASSERT_EQ(0, ::pipe2(p, O_NONBLOCK | O_CLOEXEC));
	unique_fd r(p[0]), w(p[1]);
	expect_add_fails(sock(r.get(), KEVENT_SOCKET_RECV), EINVAL);
	expect_add_fails(sock(w.get(), KEVENT_SOCKET_SEND), EINVAL);
}

TEST_P(Socket, SocketOnARegularFileIsEinval) {
	char path[] = "/tmp/kevent-socket-test-XXXXXX";
	unique_fd f(::mkstemp(path));
	ASSERT_GE(f.get(), 0) << std::strerror(errno);
	::unlink(path);
	expect_add_fails(sock(f.get(), KEVENT_SOCKET_RECV), EINVAL);
}

TEST_P(Socket, SocketOnAClosedFdIsEbadf) {
	int n = a_.release();
	::close(n);
	expect_add_fails(sock(n, KEVENT_SOCKET_RECV), EBADF);
	expect_add_fails(sock(1000000, KEVENT_SOCKET_RECV), EBADF);
}

KEVENT_INSTANTIATE_BACKENDS(Socket);

} // namespace
