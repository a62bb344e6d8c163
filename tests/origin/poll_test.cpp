// SPDX-License-Identifier: MIT
// poll_test — the POLL origin: the common contract (origin_contract.hpp) on an
// eventfd and on a pipe, and kevent_poll(7): any pollable fd (eventfd,
// pipe, socket, timerfd, another kevent queue), every POLL* bit,
// ret_data[0] = fired ∩ requested, POLLHUP/POLLERR only if requested and
// never BROKEN from revents, a regular file is EINVAL.
#include "origin_contract.hpp"

#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>

namespace {

using namespace kevent_origin;

// Watches an eventfd for POLLIN.
class EventfdTarget {
public:
	static constexpr unsigned type = KEVENT_POLL;

	explicit EventfdTarget(int) : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
		EXPECT_GE(fd_.get(), 0) << std::strerror(errno);
		number_ = fd_.get();
	}
	uint64_t id() const { return static_cast<uint32_t>(number_); }
	unsigned event() const { return POLLIN; }
	void on_added() {}
	void trigger(int) { EXPECT_EQ(0, ::eventfd_write(fd_.get(), 1)) << std::strerror(errno); }
	void consume() {
		eventfd_t v;
		::eventfd_read(fd_.get(), &v);
	}
	void check_fired(const ukevent &e) const {
		EXPECT_EQ(unsigned(POLLIN), e.ret_data[0]) << describe(e);
	}
	void make_ready_before_add(ukevent &) { trigger(-1); }
	void check_ready_at_add(const ukevent &e) const { check_fired(e); }
	int fd() const { return number_; }
	void close_watched() { fd_.reset(); }
	void take_number(int n) {
		number_ = move_fd(fd_.release(), n);
		fd_.reset(number_);
	}

private:
	unique_fd fd_;
	int number_ = -1;
};

// Watches the read end of a pipe for POLLIN (pipes have an inode each, eventfds
// share one: the reuse cases run on both kinds).
class PollPipeTarget {
public:
	static constexpr unsigned type = KEVENT_POLL;

	explicit PollPipeTarget(int) {
		int p[2];
		EXPECT_EQ(0, ::pipe2(p, O_NONBLOCK | O_CLOEXEC)) << std::strerror(errno);
		r_.reset(p[0]);
		w_.reset(p[1]);
		number_ = p[0];
	}
	uint64_t id() const { return static_cast<uint32_t>(number_); }
	unsigned event() const { return POLLIN; }
	void on_added() {}
	void trigger(int) { EXPECT_EQ(1, put(w_.get())) << std::strerror(errno); }
	void consume() { drain(r_.get()); }
	void check_fired(const ukevent &e) const {
		EXPECT_EQ(unsigned(POLLIN), e.ret_data[0]) << describe(e);
	}
	void make_ready_before_add(ukevent &) { trigger(-1); }
	void check_ready_at_add(const ukevent &e) const { check_fired(e); }
	int fd() const { return number_; }
	void close_watched() { r_.reset(); }
	void take_number(int n) {
		vacate(w_, n);
		number_ = move_fd(r_.release(), n);
		r_.reset(number_);
	}

private:
	unique_fd r_, w_;
	int number_ = -1;
};

using PollContract = Contract<EventfdTarget>;
KEVENT_ORIGIN_CONTRACT(PollContract)
KEVENT_ORIGIN_CONTRACT_CONDITION(PollContract)
KEVENT_ORIGIN_CONTRACT_FD(PollContract)
KEVENT_INSTANTIATE_BACKENDS(PollContract);

using PollPipeContract = Contract<PollPipeTarget>;
KEVENT_ORIGIN_CONTRACT(PollPipeContract)
KEVENT_ORIGIN_CONTRACT_CONDITION(PollPipeContract)
KEVENT_ORIGIN_CONTRACT_FD(PollPipeContract)
KEVENT_INSTANTIATE_BACKENDS(PollPipeContract);

// ---- kevent_poll(7), the POLL origin's own rules -------------------------------

class Poll : public QueueTest {
protected:
	static ukevent poll_ev(int fd, unsigned bits, unsigned req = 0, uint64_t cookie = 3) {
		return make(KEVENT_POLL, static_cast<uint32_t>(fd), bits, req, cookie);
	}

	void add_armed(ukevent e) { ASSERT_EQ(0, add(e)) << describe(e); }

	// ADD expecting a ready-at-add copy-back; returns it.
	ukevent add_ready(ukevent e) {
		EXPECT_EQ(1, add(e)) << describe(e);
		EXPECT_EQ(KEVENT_RET_DONE, e.ret_flags) << describe(e);
		return e;
	}

	void expect_add_fails(ukevent e, int err) {
		ASSERT_EQ(1, add(e)) << describe(e);
		EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, e.ret_flags) << describe(e);
		EXPECT_EQ(-err, err_of(e)) << describe(e);
		EXPECT_EQ(0u, queue_stats(kfd).registered);
	}

	ukevent one() {
		auto ev = get(kfd, 1, 8, 2000);
		EXPECT_EQ(1u, ev.size()) << describe(ev);
		return ev.empty() ? ukevent{} : ev[0];
	}

	void pipe_pair(unique_fd &r, unique_fd &w) {
		int p[2];
		ASSERT_EQ(0, ::pipe2(p, O_NONBLOCK | O_CLOEXEC));
		r.reset(p[0]);
		w.reset(p[1]);
	}
};

TEST_P(Poll, EventfdFiresPollin) {
	unique_fd e(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
	add_armed(poll_ev(e.get(), POLLIN));
	EXPECT_TRUE(get(kfd, 1, 8, 0).empty());
	ASSERT_EQ(0, ::eventfd_write(e.get(), 7));
	ukevent ev = one();
	EXPECT_EQ(static_cast<uint32_t>(e.get()), ev.id.raw[0]);
	EXPECT_EQ(unsigned(POLLIN), ev.ret_data[0]) << describe(ev);
	EXPECT_EQ(0u, ev.ret_flags) << describe(ev);
}

TEST_P(Poll, PipeFiresPollin) {
	unique_fd r, w;
	pipe_pair(r, w);
	add_armed(poll_ev(r.get(), POLLIN | POLLRDNORM));
	ASSERT_EQ(1, put(w.get()));
	ukevent ev = one();
	EXPECT_EQ(unsigned(POLLIN | POLLRDNORM), ev.ret_data[0]) << describe(ev);
}

TEST_P(Poll, SocketFiresPollin) {
	unique_fd a, b;
	socket_pair(a, b);
	add_armed(poll_ev(a.get(), POLLIN));
	ASSERT_EQ(1, put(b.get()));
	ukevent ev = one();
	EXPECT_EQ(unsigned(POLLIN), ev.ret_data[0]) << describe(ev);
}

TEST_P(Poll, TimerfdFiresPollin) {
	unique_fd t(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
	ASSERT_GE(t.get(), 0) << std::strerror(errno);
	add_armed(poll_ev(t.get(), POLLIN));
	itimerspec its{};
	its.it_value.tv_nsec = 10 * 1000 * 1000;
	ASSERT_EQ(0, ::timerfd_settime(t.get(), 0, &its, nullptr));
	ukevent ev = one();
	EXPECT_EQ(unsigned(POLLIN), ev.ret_data[0]) << describe(ev);
}

TEST_P(Poll, AnotherKeventQueueFiresPollin) {
	owned_queue inner(kevent_init(nullptr, 0, GetParam().flags));
	ASSERT_GE(inner.get(), 0) << std::strerror(errno);
	ukevent u = make(KEVENT_UNOTIFY, 42, 1);
	ASSERT_EQ(0, kevent_ctl(inner.get(), KEVENT_CTL_ADD, 1, &u));
	add_armed(poll_ev(inner.get(), POLLIN));
	EXPECT_TRUE(get(kfd, 1, 8, 0).empty());
	ASSERT_EQ(1, kevent_ctl(inner.get(), KEVENT_CTL_READY, 1, &u));
	ukevent ev = one();
	EXPECT_EQ(static_cast<uint32_t>(inner.get()), ev.id.raw[0]);
	EXPECT_EQ(unsigned(POLLIN), ev.ret_data[0]) << describe(ev);
	EXPECT_EQ(1u, get(inner.get(), 1, 8, 0).size());
	EXPECT_EQ(0, kevent_close(inner.release()));
}

TEST_P(Poll, RetDataIsFiredIntersectRequested) {
	unique_fd a, b;
	socket_pair(a, b);
	// Room but no data: of POLLIN|POLLOUT only POLLOUT.
	ukevent e = add_ready(poll_ev(a.get(), POLLIN | POLLOUT));
	EXPECT_EQ(unsigned(POLLOUT), e.ret_data[0]) << describe(e);
	// POLLWRNORM fires too, but only when requested.
	e = add_ready(poll_ev(a.get(), POLLOUT | POLLWRNORM));
	EXPECT_EQ(unsigned(POLLOUT | POLLWRNORM), e.ret_data[0]) << describe(e);
	// With data.
	ASSERT_EQ(1, put(b.get()));
	e = add_ready(poll_ev(a.get(), POLLIN | POLLRDNORM | POLLOUT | POLLPRI));
	EXPECT_EQ(unsigned(POLLIN | POLLRDNORM | POLLOUT), e.ret_data[0]) << describe(e);
	e = add_ready(poll_ev(a.get(), POLLRDNORM));
	EXPECT_EQ(unsigned(POLLRDNORM), e.ret_data[0]) << describe(e);
}

TEST_P(Poll, RetDataOfADeliveryIsFiredIntersectRequested) {
	unique_fd a, b;
	socket_pair(a, b);
	fill(a.get()); // no room
	add_armed(poll_ev(a.get(), POLLIN | POLLOUT | POLLRDHUP));
	ASSERT_EQ(1, put(b.get()));
	ukevent ev = one();
	EXPECT_EQ(unsigned(POLLIN), ev.ret_data[0]) << describe(ev);
}

TEST_P(Poll, EveryPollBitIsAccepted) {
	unique_fd a, b;
	socket_pair(a, b);
	for (unsigned bit : {POLLIN, POLLPRI, POLLOUT, POLLERR, POLLHUP, POLLNVAL, POLLRDNORM,
			     POLLRDBAND, POLLWRNORM, POLLWRBAND, POLLMSG, POLLRDHUP}) {
		ukevent e = poll_ev(a.get(), bit);
		int n = add(e);
		ASSERT_GE(n, 0) << std::strerror(errno);
		EXPECT_EQ(0u, e.ret_flags & KEVENT_RET_BROKEN)
			<< "bit 0x" << std::hex << bit << " " << describe(e);
		if (n == 0) {
			ukevent r = poll_ev(a.get(), bit);
			ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &r));
			EXPECT_EQ(KEVENT_RET_DONE, r.ret_flags) << describe(r);
		}
	}
	// All of them at once.
	ukevent all = poll_ev(a.get(), POLLIN | POLLPRI | POLLOUT | POLLERR | POLLHUP | POLLNVAL |
					       POLLRDNORM | POLLRDBAND | POLLWRNORM | POLLWRBAND |
					       POLLMSG | POLLRDHUP);
	ASSERT_EQ(1, add(all)); // room: POLLOUT
	EXPECT_EQ(KEVENT_RET_DONE, all.ret_flags) << describe(all);
	EXPECT_EQ(unsigned(POLLOUT | POLLWRNORM), all.ret_data[0] & unsigned(POLLOUT | POLLWRNORM))
		<< describe(all);
}

TEST_P(Poll, UnknownPollBitsAreEinval) {
	unique_fd a, b;
	socket_pair(a, b);
	expect_add_fails(poll_ev(a.get(), 0x800), EINVAL);
	expect_add_fails(poll_ev(a.get(), POLLIN | 0x10000), EINVAL);
	expect_add_fails(poll_ev(a.get(), 0), EINVAL);
}

TEST_P(Poll, PriFiresOnTcpUrgentData) {
	// io_uring: a poll for POLLPRI alone was never woken (io_poll_wake()
	// matches the wake-up's key without EPOLLPRI); the backend lets the
	// wake-up in with RDBAND and asks the file (issue 17).
	sockaddr_in sa;
	unique_fd l = loopback_tcp(sa, 1);
	unique_fd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
	ASSERT_EQ(0, ::connect(c.get(), reinterpret_cast<sockaddr *>(&sa), sizeof sa));
	unique_fd s(::accept4(l.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
	ASSERT_GE(s.get(), 0);
	add_armed(poll_ev(s.get(), POLLPRI));
	ASSERT_EQ(1, ::send(c.get(), "!", 1, MSG_OOB));
	ukevent ev = one();
	EXPECT_EQ(unsigned(POLLPRI), ev.ret_data[0]) << describe(ev);
}

// io_uring reports the key of the wake-up that completed a poll, and a TCP
// socket's data wakes with IN|PRI|RDNORM|RDBAND: plain data must not come
// out as urgent (issue 17).
TEST_P(Poll, PlainTcpDataIsNotPri) {
	sockaddr_in sa;
	unique_fd l = loopback_tcp(sa, 1);
	unique_fd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
	ASSERT_EQ(0, ::connect(c.get(), reinterpret_cast<sockaddr *>(&sa), sizeof sa));
	unique_fd s(::accept4(l.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
	ASSERT_GE(s.get(), 0);
	add_armed(poll_ev(s.get(), POLLIN | POLLPRI));
	ASSERT_EQ(1, ::send(c.get(), "x", 1, 0));
	ukevent ev = one();
	EXPECT_EQ(unsigned(POLLIN), ev.ret_data[0]) << describe(ev);
	// Urgent data afterwards is reported as such.
	ASSERT_EQ(1, ::send(c.get(), "!", 1, MSG_OOB));
	ev = one();
	EXPECT_TRUE(ev.ret_data[0] & POLLPRI) << describe(ev);
}

TEST_P(Poll, RdhupFiresOnPeerShutdown) {
	unique_fd a, b;
	socket_pair(a, b);
	add_armed(poll_ev(a.get(), POLLRDHUP));
	ASSERT_EQ(0, ::shutdown(b.get(), SHUT_WR));
	ukevent ev = one();
	EXPECT_EQ(unsigned(POLLRDHUP), ev.ret_data[0]) << describe(ev);
	EXPECT_EQ(0u, ev.ret_flags) << describe(ev);
}

TEST_P(Poll, HupIsNotReportedUnlessRequested) {
	unique_fd r, w;
	pipe_pair(r, w);
	add_armed(poll_ev(r.get(), POLLIN));
	w.reset(); // the read end now polls POLLHUP only
	EXPECT_TRUE(get(kfd, 1, 8, 100).empty()) << "POLLHUP delivered without being requested";
	EXPECT_EQ(1u, queue_stats(kfd).registered) << "POLL must never go BROKEN from revents";
	// Also not at ADD, and not under LEVEL.
	unique_fd r2, w2;
	pipe_pair(r2, w2);
	w2.reset();
	ukevent e = poll_ev(r2.get(), POLLIN, KEVENT_REQ_LEVEL);
	ASSERT_EQ(0, add(e)) << "hung-up pipe ready for POLLIN at ADD: " << describe(e);
	EXPECT_TRUE(get(kfd, 1, 8, 50).empty());
	EXPECT_TRUE(get(kfd, 1, 8, 0).empty());
}

TEST_P(Poll, HupIsReportedWhenRequestedAndIsNotBroken) {
	unique_fd r, w;
	pipe_pair(r, w);
	add_armed(poll_ev(r.get(), POLLIN | POLLHUP));
	w.reset();
	ukevent ev = one();
	EXPECT_EQ(unsigned(POLLHUP), ev.ret_data[0]) << describe(ev);
	EXPECT_EQ(0u, ev.ret_flags) << "POLL is never BROKEN from revents: " << describe(ev);
	EXPECT_EQ(1u, queue_stats(kfd).registered);
	// And at ADD.
	unique_fd r2, w2;
	pipe_pair(r2, w2);
	w2.reset();
	ukevent e = add_ready(poll_ev(r2.get(), POLLHUP));
	EXPECT_EQ(unsigned(POLLHUP), e.ret_data[0]) << describe(e);
}

TEST_P(Poll, ErrIsReportedOnlyIfRequested) {
	unique_fd r, w;
	pipe_pair(r, w);
	r.reset(); // the write end now polls POLLOUT|POLLERR
	ukevent e = add_ready(poll_ev(w.get(), POLLOUT));
	EXPECT_EQ(unsigned(POLLOUT), e.ret_data[0]) << describe(e);
	e = add_ready(poll_ev(w.get(), POLLOUT | POLLERR));
	EXPECT_EQ(unsigned(POLLOUT | POLLERR), e.ret_data[0]) << describe(e);
	e = add_ready(poll_ev(w.get(), POLLERR));
	EXPECT_EQ(unsigned(POLLERR), e.ret_data[0]) << describe(e);
}

TEST_P(Poll, PollOnARegularFileIsEinval) {
	char path[] = "/tmp/kevent-poll-test-XXXXXX";
	unique_fd f(::mkstemp(path));
	ASSERT_GE(f.get(), 0) << std::strerror(errno);
	::unlink(path);
	expect_add_fails(poll_ev(f.get(), POLLIN), EINVAL);
}

TEST_P(Poll, PollOnADirectoryIsEinval) {
	unique_fd d(::open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	ASSERT_GE(d.get(), 0) << std::strerror(errno);
	expect_add_fails(poll_ev(d.get(), POLLIN), EINVAL);
}

TEST_P(Poll, PollOnAClosedFdIsEbadf) {
	int n = ::eventfd(0, EFD_CLOEXEC);
	::close(n);
	expect_add_fails(poll_ev(n, POLLIN), EBADF);
}

// One fd, two origins: two keys, two kevents, each served and removed on
// its own (epoll itself allows one watch per fd per queue).
TEST_P(Poll, PollAndSocketKeventsOnOneFdAreIndependent) {
	unique_fd a, b;
	socket_pair(a, b);
	add_armed(poll_ev(a.get(), POLLIN, 0, 1));
	ukevent s = make(KEVENT_SOCKET, static_cast<uint32_t>(a.get()), KEVENT_SOCKET_RECV, 0, 2);
	ASSERT_EQ(0, add(s)) << describe(s);
	EXPECT_EQ(2u, queue_stats(kfd).registered);
	ASSERT_EQ(1, put(b.get()));
	auto ev = get(kfd, 2, 8, 2000);
	ASSERT_EQ(2u, ev.size()) << describe(ev);
	EXPECT_EQ(3u, cookie_of(ev[0]) + cookie_of(ev[1])) << describe(ev);
	// Removing the SOCKET kevent leaves the POLL one watching.
	ukevent r = make(KEVENT_SOCKET, static_cast<uint32_t>(a.get()), KEVENT_SOCKET_RECV);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &r));
	EXPECT_EQ(KEVENT_RET_DONE, r.ret_flags) << describe(r);
	ASSERT_EQ(1, put(b.get()));
	ev = get(kfd, 1, 8, 2000);
	ASSERT_EQ(1u, ev.size()) << describe(ev);
	EXPECT_EQ(1u, cookie_of(ev[0]));
	EXPECT_EQ(unsigned(POLLIN), ev[0].ret_data[0]);
	// And the other way round.
	drain(a.get());
	s = make(KEVENT_SOCKET, static_cast<uint32_t>(a.get()), KEVENT_SOCKET_RECV, 0, 2);
	ASSERT_EQ(0, add(s)) << describe(s);
	r = poll_ev(a.get(), POLLIN);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &r));
	ASSERT_EQ(1, put(b.get()));
	ev = get(kfd, 1, 8, 2000);
	ASSERT_EQ(1u, ev.size()) << describe(ev);
	EXPECT_EQ(2u, cookie_of(ev[0]));
}

KEVENT_INSTANTIATE_BACKENDS(Poll);

} // namespace
