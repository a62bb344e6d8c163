// SPDX-License-Identifier: MIT
// origin_contract.hpp — the common contract every origin passes (DESIGN.md
// "Tests"), written once and instantiated by each tests/origin/<origin>_test.cpp.
//
// An origin file describes its watched object as a *Target* class and then
// expands the case lists below for a fixture `Contract<Target>`:
//
//   using SocketContract = kevent_origin::Contract<SocketTarget>;
//   KEVENT_ORIGIN_CONTRACT(SocketContract)            // every origin
//   KEVENT_ORIGIN_CONTRACT_CONDITION(SocketContract)  // readiness is a state
//   KEVENT_ORIGIN_CONTRACT_BROKEN(SocketContract)     // the origin can break
//   KEVENT_ORIGIN_CONTRACT_FD(SocketContract)         // id.raw[0] is an fd
//   KEVENT_INSTANTIATE_BACKENDS(SocketContract);
//
// The case bodies are member templates of Contract<Target>; the macros only
// give each one a TEST_P named after the rule it checks.
//
// A Target provides:
//   static constexpr unsigned type;         // KEVENT_SOCKET ...
//   explicit Target(int n);                  // the n-th object: distinct keys for distinct n
//   uint64_t id() const; unsigned event() const;
//   void on_added();                         // called after a successful ADD
//   void trigger(int q);                     // new activity, visible once it returns
//                                            // (q: the queue, for origins triggered through it)
//   void check_fired(const ukevent &) const; // ret_data of a delivery after trigger()
//   void make_ready_before_add(ukevent &);   // the origin's own "ready at ADD"
//   void check_ready_at_add(const ukevent &) const;
// and, by group:
//   CONDITION: void consume();               // make it not ready any more (read the data)
//   BROKEN:    void break_it(); void check_broken(const ukevent &) const;
//   FD:        int fd() const; void close_watched(); void take_number(int n);
//              (take_number: move this target's watched fd onto number n)
#pragma once

#include "kevent_test.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace kevent_origin {

using namespace kevent_test;

// ---- small helpers shared by the origin files -------------------------------

// An owned file descriptor.
class unique_fd {
public:
	unique_fd() = default;
	explicit unique_fd(int f) : fd_(f) {}
	unique_fd(unique_fd &&o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
	unique_fd &operator=(unique_fd &&o) noexcept {
		if (this != &o)
			reset(std::exchange(o.fd_, -1));
		return *this;
	}
	unique_fd(const unique_fd &) = delete;
	unique_fd &operator=(const unique_fd &) = delete;
	~unique_fd() { reset(); }

	int get() const { return fd_; }
	int release() { return std::exchange(fd_, -1); }
	void reset(int f = -1) {
		if (fd_ >= 0)
			::close(fd_);
		fd_ = f;
	}

private:
	int fd_ = -1;
};

// An owned kevent queue (closed with kevent_close, never a raw close).
class owned_queue {
public:
	explicit owned_queue(int q) : q_(q) {}
	owned_queue(const owned_queue &) = delete;
	owned_queue &operator=(const owned_queue &) = delete;
	~owned_queue() {
		if (q_ >= 0)
			kevent_close(q_);
	}
	int get() const { return q_; }
	int release() { return std::exchange(q_, -1); }

private:
	int q_;
};

inline int32_t err_of(const ukevent &uk) { return static_cast<int32_t>(uk.ret_data[1]); }

inline std::string describe(const ukevent &uk) {
	std::ostringstream os;
	os << "{id=0x" << std::hex << uk.id.raw_u64 << std::dec << " type=" << uk.type
	   << " event=0x" << std::hex << uk.event << " req=0x" << uk.req_flags << " ret=0x"
	   << uk.ret_flags << std::dec << " ret_data=[" << uk.ret_data[0] << ","
	   << static_cast<int32_t>(uk.ret_data[1]) << "] cookie=0x" << std::hex << cookie_of(uk)
	   << std::dec << "}";
	return os.str();
}

inline std::string describe(const std::vector<ukevent> &v) {
	std::string s = "[";
	for (const auto &uk : v)
		s += describe(uk) + " ";
	return s + "]";
}

// Writes all of `n` bytes of 'x' (non-blocking fd: stops at EAGAIN).
inline ssize_t put(int fd, size_t n = 1) {
	std::vector<char> buf(n, 'x');
	return ::write(fd, buf.data(), n);
}

// Reads everything that is there now (non-blocking fd); returns bytes read.
inline size_t drain(int fd) {
	char buf[65536];
	size_t total = 0;
	for (;;) {
		ssize_t r = ::read(fd, buf, sizeof buf);
		if (r <= 0)
			break;
		total += static_cast<size_t>(r);
	}
	return total;
}

// Fills a non-blocking pipe or socket until the kernel says EAGAIN.
inline void fill(int fd) {
	std::vector<char> buf(65536, 'f');
	for (;;) {
		ssize_t r = ::send(fd, buf.data(), buf.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r < 0 && errno == ENOTSOCK)
			r = ::write(fd, buf.data(), buf.size());
		if (r <= 0)
			break;
	}
}

// Makes number `n` free when `other` holds it (moves `other` elsewhere), so
// that a target can take the number over with take_number().
inline void vacate(unique_fd &other, int n) {
	if (other.get() == n) {
		int d = ::fcntl(n, F_DUPFD_CLOEXEC, n + 1);
		EXPECT_GE(d, 0) << std::strerror(errno);
		other.reset(d);
	}
}

inline bool fd_is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

// A connected AF_UNIX stream pair, both ends non-blocking.
inline void socket_pair(unique_fd &a, unique_fd &b) {
	int sv[2];
	ASSERT_EQ(0, ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
	a.reset(sv[0]);
	b.reset(sv[1]);
}

// A blocking TCP socket bound to 127.0.0.1 on an ephemeral port, listening
// with `backlog` (or not listening when backlog < 0); `addr` is where it is.
inline unique_fd loopback_tcp(sockaddr_in &addr, int backlog) {
	unique_fd l(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
	EXPECT_GE(l.get(), 0) << std::strerror(errno);
	addr = sockaddr_in{};
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	EXPECT_EQ(0, ::bind(l.get(), reinterpret_cast<sockaddr *>(&addr), sizeof addr))
		<< std::strerror(errno);
	if (backlog >= 0) {
		EXPECT_EQ(0, ::listen(l.get(), backlog)) << std::strerror(errno);
	}
	socklen_t len = sizeof addr;
	EXPECT_EQ(0, ::getsockname(l.get(), reinterpret_cast<sockaddr *>(&addr), &len));
	return l;
}

// Moves the open file `from` onto number `to` (dup2) and returns `to`.
inline int move_fd(int from, int to) {
	if (from == to)
		return to;
	EXPECT_EQ(to, ::dup2(from, to)) << std::strerror(errno);
	::close(from);
	return to;
}

// ---- the fixture --------------------------------------------------------------

template <class T> class Contract : public QueueTest {
protected:
	static constexpr uint64_t cookie_a = 0x0123456789abcdefull;
	static constexpr uint64_t cookie_b = 0xfedcba9876543210ull;
	static constexpr unsigned bad_req_flag = 0x80u; // outside KEVENT_REQ_MASK

	ukevent entry(const T &t, unsigned req = 0, uint64_t cookie = cookie_a) const {
		return make(T::type, t.id(), t.event(), req, cookie);
	}

	static int ctl(int q, unsigned cmd, ukevent &e) { return kevent_ctl(q, cmd, 1, &e); }

	// ADD a target that is not ready: nothing may be copied back.
	void add_armed(int q, T &t, unsigned req = 0, uint64_t cookie = cookie_a) {
		ukevent e = entry(t, req, cookie);
		EXPECT_EQ(0, ctl(q, KEVENT_CTL_ADD, e)) << describe(e);
		t.on_added();
	}

	// REMOVE / MODIFY by key; returns the written-back entry.
	ukevent remove(int q, const T &t) {
		ukevent e = entry(t);
		EXPECT_EQ(0, ctl(q, KEVENT_CTL_REMOVE, e)) << std::strerror(errno);
		return e;
	}
	ukevent modify(int q, const T &t, unsigned req, uint64_t cookie) {
		ukevent e = entry(t, req, cookie);
		EXPECT_EQ(0, ctl(q, KEVENT_CTL_MODIFY, e)) << std::strerror(errno);
		return e;
	}

	// Up to 8 events, waiting generously for the first one.
	static std::vector<ukevent> wait(int q) { return get(q, 1, 8, 2000); }
	// What is ready right now (zero timeout).
	static std::vector<ukevent> now(int q) { return get(q, 1, 8, 0); }
	static void expect_nothing(int q, long wait_ms = 0) {
		auto ev = get(q, 1, 8, wait_ms);
		EXPECT_TRUE(ev.empty()) << "unexpected delivery " << describe(ev);
	}

	static uint64_t registered(int q) { return queue_stats(q).registered; }

	static void expect_delivery(const ukevent &ev, const T &t, unsigned req, uint64_t cookie,
				    unsigned ret_flags) {
		EXPECT_EQ(t.id(), ev.id.raw_u64) << describe(ev);
		EXPECT_EQ(T::type, ev.type) << describe(ev);
		EXPECT_EQ(t.event(), ev.event) << describe(ev);
		EXPECT_EQ(req, ev.req_flags) << describe(ev);
		EXPECT_EQ(cookie, cookie_of(ev)) << describe(ev);
		EXPECT_EQ(ret_flags, ev.ret_flags) << describe(ev);
	}

	static void expect_written_back(const ukevent &e, unsigned ret_flags, int32_t err = 0) {
		EXPECT_EQ(ret_flags, e.ret_flags) << describe(e);
		if (ret_flags & KEVENT_RET_BROKEN) {
			EXPECT_EQ(err, err_of(e))
				<< describe(e) << " errno " << std::strerror(-err_of(e));
		}
	}

	// ---- common cases (every origin) --------------------------------------

	void add_keeps_unready_kevent_registered() {
		T t(0);
		add_armed(kfd, t);
		kevent_stats st = queue_stats(kfd);
		EXPECT_EQ(1u, st.registered);
		EXPECT_EQ(1u, st.registered_by_type[T::type]);
		EXPECT_EQ(0u, st.ready);
		expect_nothing(kfd);
		t.trigger(kfd);
		auto ev = wait(kfd);
		ASSERT_EQ(1u, ev.size()) << describe(ev);
		expect_delivery(ev[0], t, 0, cookie_a, 0);
		t.check_fired(ev[0]);
		EXPECT_EQ(1u, registered(kfd));
	}

	void add_same_key_twice_is_eexist() {
		T t(0);
		add_armed(kfd, t);
		ukevent e = entry(t, 0, cookie_b);
		ASSERT_EQ(1, ctl(kfd, KEVENT_CTL_ADD, e));
		expect_written_back(e, KEVENT_RET_BROKEN | KEVENT_RET_DONE, -EEXIST);
		EXPECT_EQ(cookie_b, cookie_of(e));
		EXPECT_EQ(1u, registered(kfd));
	}

	void add_with_bad_req_flags_is_einval() {
		T t(0);
		for (unsigned req : {bad_req_flag, KEVENT_REQ_ET | KEVENT_REQ_LEVEL, 0x80000000u}) {
			ukevent e = entry(t, req);
			ASSERT_EQ(1, ctl(kfd, KEVENT_CTL_ADD, e))
				<< "req_flags 0x" << std::hex << req;
			expect_written_back(e, KEVENT_RET_BROKEN | KEVENT_RET_DONE, -EINVAL);
		}
		EXPECT_EQ(0u, registered(kfd));
	}

	void remove_deletes_and_stops_delivery() {
		T t(0);
		add_armed(kfd, t);
		uint64_t removed_before = queue_stats(kfd).removed;
		ukevent r = remove(kfd, t);
		expect_written_back(r, KEVENT_RET_DONE);
		kevent_stats st = queue_stats(kfd);
		EXPECT_EQ(0u, st.registered);
		EXPECT_EQ(0u, st.registered_by_type[T::type]);
		EXPECT_EQ(removed_before + 1, st.removed);
		t.trigger(kfd);
		expect_nothing(kfd, 50);
	}

	void remove_drops_a_queued_kevent() {
		T t(0);
		ukevent e = entry(t, KEVENT_REQ_ALWAYS_QUEUE);
		t.make_ready_before_add(e);
		ASSERT_EQ(0, ctl(kfd, KEVENT_CTL_ADD, e)) << describe(e);
		t.on_added();
		EXPECT_EQ(1u, queue_stats(kfd).ready);
		ukevent r = e;
		r.ret_flags = 0;
		ASSERT_EQ(0, ctl(kfd, KEVENT_CTL_REMOVE, r));
		expect_written_back(r, KEVENT_RET_DONE);
		EXPECT_EQ(0u, queue_stats(kfd).ready);
		expect_nothing(kfd, 50);
		EXPECT_EQ(0u, registered(kfd));
	}

	void remove_missing_is_broken_enoent() {
		T t(0);
		ukevent r = entry(t);
		ASSERT_EQ(0, ctl(kfd, KEVENT_CTL_REMOVE, r));
		expect_written_back(r, KEVENT_RET_BROKEN | KEVENT_RET_DONE, -ENOENT);
		// And removing twice: the second one finds nothing.
		add_armed(kfd, t);
		expect_written_back(remove(kfd, t), KEVENT_RET_DONE);
		expect_written_back(remove(kfd, t), KEVENT_RET_BROKEN | KEVENT_RET_DONE, -ENOENT);
	}

	void modify_missing_is_broken_enoent() {
		T t(0);
		ukevent m = modify(kfd, t, 0, cookie_b);
		expect_written_back(m, KEVENT_RET_BROKEN | KEVENT_RET_DONE, -ENOENT);
		EXPECT_EQ(0u, registered(kfd));
	}

	void modify_replaces_cookie_and_req_flags() {
		T t(0);
		add_armed(kfd, t, 0, cookie_a);
		expect_written_back(modify(kfd, t, KEVENT_REQ_ONESHOT, cookie_b), KEVENT_RET_DONE);
		EXPECT_EQ(1u, registered(kfd));
		t.trigger(kfd);
		auto ev = wait(kfd);
		ASSERT_EQ(1u, ev.size()) << describe(ev);
		expect_delivery(ev[0], t, KEVENT_REQ_ONESHOT, cookie_b, KEVENT_RET_DONE);
		EXPECT_EQ(0u, registered(kfd));
	}

	void modify_with_bad_flags_changes_nothing() {
		T t(0);
		add_armed(kfd, t, 0, cookie_a);
		ukevent m = entry(t, bad_req_flag, cookie_b);
		ASSERT_EQ(0, ctl(kfd, KEVENT_CTL_MODIFY, m));
		expect_written_back(m, KEVENT_RET_BROKEN | KEVENT_RET_DONE, -EINVAL);
		t.trigger(kfd);
		auto ev = wait(kfd);
		ASSERT_EQ(1u, ev.size()) << describe(ev);
		expect_delivery(ev[0], t, 0, cookie_a, 0);
	}

	void modify_of_unready_kevent_queues_nothing() {
		T t(0);
		add_armed(kfd, t);
		expect_written_back(modify(kfd, t, KEVENT_REQ_ET, cookie_b), KEVENT_RET_DONE);
		expect_nothing(kfd);
		EXPECT_EQ(1u, registered(kfd));
	}

	void oneshot_is_delivered_once_done_and_removed() {
		T t(0);
		add_armed(kfd, t, KEVENT_REQ_ONESHOT);
		t.trigger(kfd);
		auto ev = wait(kfd);
		ASSERT_EQ(1u, ev.size()) << describe(ev);
		expect_delivery(ev[0], t, KEVENT_REQ_ONESHOT, cookie_a, KEVENT_RET_DONE);
		t.check_fired(ev[0]);
		EXPECT_EQ(0u, registered(kfd));
		t.trigger(kfd);
		expect_nothing(kfd, 50);
		expect_written_back(remove(kfd, t), KEVENT_RET_BROKEN | KEVENT_RET_DONE, -ENOENT);
	}

	// default / ET: after a delivery, nothing comes back until new activity.
	void mode_does_not_come_back_without_new_activity(unsigned mode) {
		T t(0);
		add_armed(kfd, t, mode);
		t.trigger(kfd);
		auto ev = wait(kfd);
		ASSERT_EQ(1u, ev.size()) << describe(ev);
		expect_delivery(ev[0], t, mode, cookie_a, 0);
		// The activity is left unconsumed (data unread) on purpose.
		expect_nothing(kfd);
		expect_nothing(kfd, 100);
		EXPECT_EQ(1u, registered(kfd));
	}

	// default / ET / LEVEL: a new activity brings the kevent back, even
	// when the earlier one was left unconsumed.
	void mode_comes_back_on_new_activity(unsigned mode, bool consume_between) {
		T t(0);
		add_armed(kfd, t, mode);
		for (int round = 0; round < 3; round++) {
			t.trigger(kfd);
			auto ev = wait(kfd);
			ASSERT_EQ(1u, ev.size()) << "round " << round << " " << describe(ev);
			expect_delivery(ev[0], t, mode, cookie_a, 0);
			t.check_fired(ev[0]);
			if constexpr (requires(T & x) { x.consume(); }) {
				if (consume_between)
					t.consume();
			}
		}
		EXPECT_EQ(1u, registered(kfd));
	}

	void last_check_delivers_a_kevent_still_ready() {
		T t(0);
		add_armed(kfd, t, KEVENT_REQ_LAST_CHECK);
		t.trigger(kfd);
		auto ev = wait(kfd);
		ASSERT_EQ(1u, ev.size()) << describe(ev);
		expect_delivery(ev[0], t, KEVENT_REQ_LAST_CHECK, cookie_a, 0);
		t.check_fired(ev[0]);
	}

	void always_queue_keeps_a_ready_at_add_kevent_queued() {
		T t(0);
		ukevent e = entry(t, KEVENT_REQ_ALWAYS_QUEUE, cookie_a);
		t.make_ready_before_add(e);
		const ukevent sent = e;
		ASSERT_EQ(0, ctl(kfd, KEVENT_CTL_ADD, e))
			<< "ALWAYS_QUEUE entry was copied back: " << describe(e);
		t.on_added();
		EXPECT_EQ(1u, registered(kfd));
		auto ev = wait(kfd);
		ASSERT_EQ(1u, ev.size()) << describe(ev);
		const bool oneshot = sent.req_flags & KEVENT_REQ_ONESHOT;
		EXPECT_EQ(sent.id.raw_u64, ev[0].id.raw_u64);
		EXPECT_EQ(sent.req_flags, ev[0].req_flags);
		EXPECT_EQ(cookie_a, cookie_of(ev[0]));
		EXPECT_EQ(oneshot ? KEVENT_RET_DONE : 0u, ev[0].ret_flags) << describe(ev[0]);
		t.check_ready_at_add(ev[0]);
		// Delivered once: the ADD's own readiness check must not queue it twice.
		expect_nothing(kfd);
		EXPECT_EQ(oneshot ? 0u : 1u, registered(kfd));
	}

	void req_ready_with_always_queue_queues_an_unready_kevent() {
		T t(0);
		ukevent e = entry(t, KEVENT_REQ_READY | KEVENT_REQ_ALWAYS_QUEUE, cookie_a);
		ASSERT_EQ(0, ctl(kfd, KEVENT_CTL_ADD, e)) << describe(e);
		t.on_added();
		auto ev = wait(kfd);
		ASSERT_EQ(1u, ev.size()) << describe(ev);
		expect_delivery(ev[0], t, KEVENT_REQ_READY | KEVENT_REQ_ALWAYS_QUEUE, cookie_a, 0);
		EXPECT_EQ(1u, registered(kfd));
	}

	void ready_at_add_is_copied_back_done_and_not_kept() {
		T t(0);
		ukevent e = entry(t, 0, cookie_a);
		t.make_ready_before_add(e);
		const ukevent sent = e;
		ASSERT_EQ(1, ctl(kfd, KEVENT_CTL_ADD, e)) << describe(e);
		EXPECT_EQ(KEVENT_RET_DONE, e.ret_flags) << describe(e);
		EXPECT_EQ(sent.id.raw_u64, e.id.raw_u64);
		EXPECT_EQ(sent.type, e.type);
		EXPECT_EQ(sent.event, e.event);
		EXPECT_EQ(sent.req_flags, e.req_flags);
		EXPECT_EQ(cookie_a, cookie_of(e));
		t.check_ready_at_add(e);
		EXPECT_EQ(0u, registered(kfd));
		expect_nothing(kfd, 50);
		// Not kept: the same key can be added again.
		ukevent again = sent;
		int n = ctl(kfd, KEVENT_CTL_ADD, again);
		EXPECT_TRUE(n == 0 || (n == 1 && again.ret_flags == KEVENT_RET_DONE))
			<< describe(again);
	}

	void req_ready_at_add_is_copied_back_done_and_not_kept() {
		T t(0);
		ukevent e = entry(t, KEVENT_REQ_READY, cookie_a);
		ASSERT_EQ(1, ctl(kfd, KEVENT_CTL_ADD, e)) << describe(e);
		EXPECT_EQ(KEVENT_RET_DONE, e.ret_flags) << describe(e);
		EXPECT_EQ(cookie_a, cookie_of(e));
		EXPECT_EQ(0u, registered(kfd));
		expect_nothing(kfd, 50);
	}

	void copied_back_entries_are_compacted_in_input_order() {
		T t0(0), t1(1), t2(2), t3(3);
		ukevent in[4] = {entry(t0, 0, 1), entry(t1, 0, 2), entry(t2, bad_req_flag, 3),
				 entry(t3, 0, 4)};
		t1.make_ready_before_add(in[1]);
		ASSERT_EQ(2, kevent_ctl(kfd, KEVENT_CTL_ADD, 4, in)) << std::strerror(errno);
		t0.on_added();
		t3.on_added();
		EXPECT_EQ(2u, cookie_of(in[0])) << describe(in[0]);
		EXPECT_EQ(KEVENT_RET_DONE, in[0].ret_flags) << describe(in[0]);
		EXPECT_EQ(3u, cookie_of(in[1])) << describe(in[1]);
		expect_written_back(in[1], KEVENT_RET_BROKEN | KEVENT_RET_DONE, -EINVAL);
		EXPECT_EQ(2u, registered(kfd));
	}

	void cookie_round_trips_untouched() {
		static int object_a, object_b;
		T t(0), r(1);
		// A pointer cookie on a delivery ...
		ukevent e = entry(t);
		e.ptr = &object_a;
		ASSERT_EQ(0, ctl(kfd, KEVENT_CTL_ADD, e));
		t.on_added();
		t.trigger(kfd);
		auto ev = wait(kfd);
		ASSERT_EQ(1u, ev.size()) << describe(ev);
		EXPECT_EQ(static_cast<void *>(&object_a), ev[0].ptr);
		// ... all 64 bits of a number on a ready-at-add copy-back.
		ukevent c = entry(r, 0, 0xffffffff00000001ull);
		r.make_ready_before_add(c);
		ASSERT_EQ(1, ctl(kfd, KEVENT_CTL_ADD, c));
		EXPECT_EQ(0xffffffff00000001ull, cookie_of(c));
		// ... and on a ready-at-add copy-back with a pointer.
		T s(2);
		ukevent p = entry(s);
		p.ptr = &object_b;
		s.make_ready_before_add(p);
		ASSERT_EQ(1, ctl(kfd, KEVENT_CTL_ADD, p));
		EXPECT_EQ(static_cast<void *>(&object_b), p.ptr);
	}

	void two_queues_are_independent() {
		owned_queue other(kevent_init(nullptr, 0, GetParam().flags));
		ASSERT_GE(other.get(), 0) << std::strerror(errno);
		const int a = kfd, b = other.get();
		T t(0);
		add_armed(a, t, 0, cookie_a);
		add_armed(b, t, 0, cookie_b);
		t.trigger(a);
		t.trigger(b);
		auto ea = wait(a);
		auto eb = wait(b);
		ASSERT_EQ(1u, ea.size()) << describe(ea);
		ASSERT_EQ(1u, eb.size()) << describe(eb);
		EXPECT_EQ(cookie_a, cookie_of(ea[0]));
		EXPECT_EQ(cookie_b, cookie_of(eb[0]));
		// Removing from one queue leaves the other watching.
		expect_written_back(remove(a, t), KEVENT_RET_DONE);
		EXPECT_EQ(0u, registered(a));
		EXPECT_EQ(1u, registered(b));
		t.trigger(b);
		eb = wait(b);
		ASSERT_EQ(1u, eb.size()) << describe(eb);
		EXPECT_EQ(cookie_b, cookie_of(eb[0]));
		expect_nothing(a);
		EXPECT_EQ(0, kevent_close(other.release())) << std::strerror(errno);
	}

	void close_with_registrations_frees_them() {
		T armed(0), queued(1), fired(2);
		add_armed(kfd, armed);
		ukevent q = entry(queued, KEVENT_REQ_ALWAYS_QUEUE);
		queued.make_ready_before_add(q);
		ASSERT_EQ(0, ctl(kfd, KEVENT_CTL_ADD, q)) << describe(q);
		queued.on_added();
		add_armed(kfd, fired);
		fired.trigger(kfd);
		EXPECT_EQ(3u, registered(kfd));
		const int old = kfd;
		kfd = -1;
		ASSERT_EQ(0, kevent_close(old)) << std::strerror(errno);
		kevent_stats st = global_stats();
		EXPECT_EQ(0u, st.queues);
		EXPECT_EQ(0u, st.registered);
		timespec zero{};
		ukevent buf[1];
		errno = 0;
		EXPECT_EQ(-1, kevent_get_events(old, 1, 1, &zero, buf, 0));
		EXPECT_EQ(EBADF, errno);
		if constexpr (requires(const T &x) { x.fd(); }) {
			EXPECT_TRUE(fd_is_open(armed.fd())) << "kevent_close closed a watched fd";
			EXPECT_TRUE(fd_is_open(fired.fd())) << "kevent_close closed a watched fd";
		}
		// A new queue starts empty and can watch the same object again.
		kfd = kevent_init(nullptr, 0, GetParam().flags);
		ASSERT_GE(kfd, 0) << std::strerror(errno);
		add_armed(kfd, armed, 0, cookie_b);
		armed.trigger(kfd);
		auto ev = wait(kfd);
		ASSERT_EQ(1u, ev.size()) << describe(ev);
		EXPECT_EQ(cookie_b, cookie_of(ev[0]));
	}

	// ---- CONDITION: readiness is a state that lasts until consumed ----------

	void level_repeats_while_ready_and_stops_once_consumed() {
		T t(0);
		add_armed(kfd, t, KEVENT_REQ_LEVEL);
		t.trigger(kfd);
		for (int round = 0; round < 3; round++) {
			auto ev = round == 0 ? wait(kfd) : now(kfd);
			ASSERT_EQ(1u, ev.size()) << "round " << round << " " << describe(ev);
			expect_delivery(ev[0], t, KEVENT_REQ_LEVEL, cookie_a, 0);
			t.check_fired(ev[0]);
		}
		t.consume();
		expect_nothing(kfd);
		expect_nothing(kfd, 50);
		EXPECT_EQ(1u, registered(kfd));
		t.trigger(kfd);
		auto ev = wait(kfd);
		ASSERT_EQ(1u, ev.size()) << describe(ev);
	}

	// The brief's flow: write, read the data, get_events with zero timeout.
	void last_check_skips_an_event_consumed_before_delivery() {
		T t(0);
		add_armed(kfd, t, KEVENT_REQ_LAST_CHECK);
		t.trigger(kfd);
		t.consume();
		expect_nothing(kfd);
		EXPECT_EQ(1u, registered(kfd)) << "a skipped LAST_CHECK kevent must stay "
						  "registered";
		t.trigger(kfd);
		auto ev = wait(kfd);
		ASSERT_EQ(1u, ev.size()) << describe(ev);
		expect_delivery(ev[0], t, KEVENT_REQ_LAST_CHECK, cookie_a, 0);
	}

	// Same rule, with the kevent certainly on the library's own ready list
	// (ALWAYS_QUEUE at ADD), so the kernel cannot have filtered it.
	void last_check_skips_a_queued_kevent_no_longer_ready() {
		T t(0);
		ukevent e = entry(t, KEVENT_REQ_LAST_CHECK | KEVENT_REQ_ALWAYS_QUEUE);
		t.make_ready_before_add(e);
		ASSERT_EQ(0, ctl(kfd, KEVENT_CTL_ADD, e)) << describe(e);
		t.on_added();
		t.consume();
		expect_nothing(kfd);
		EXPECT_EQ(1u, registered(kfd)) << "a skipped LAST_CHECK kevent must stay "
						  "registered";
		t.trigger(kfd);
		auto ev = wait(kfd);
		ASSERT_EQ(1u, ev.size()) << describe(ev);
		expect_delivery(ev[0], t, KEVENT_REQ_LAST_CHECK | KEVENT_REQ_ALWAYS_QUEUE, cookie_a,
				0);
	}

	void modify_queues_a_kevent_that_is_ready_now() {
		T t(0);
		add_armed(kfd, t, KEVENT_REQ_ET, cookie_a);
		t.trigger(kfd);
		auto ev = wait(kfd);
		ASSERT_EQ(1u, ev.size()) << describe(ev);
		expect_nothing(kfd); // ET: no new activity, nothing
		// The data is still unread: MODIFY re-checks and finds it ready.
		expect_written_back(modify(kfd, t, KEVENT_REQ_ET, cookie_b), KEVENT_RET_DONE);
		ev = now(kfd);
		ASSERT_EQ(1u, ev.size()) << "MODIFY did not queue a ready kevent";
		expect_delivery(ev[0], t, KEVENT_REQ_ET, cookie_b, 0);
		t.check_fired(ev[0]);
	}

	// MODIFY changes the delivery mode of a live kevent (on epoll: the fd's
	// level/edge watch must follow).
	void modify_from_level_to_default_stops_repeating() {
		T t(0);
		add_armed(kfd, t, KEVENT_REQ_LEVEL);
		t.trigger(kfd);
		ASSERT_EQ(1u, wait(kfd).size());
		ASSERT_EQ(1u, now(kfd).size()) << "LEVEL did not repeat";
		expect_written_back(modify(kfd, t, 0, cookie_b), KEVENT_RET_DONE);
		// Still ready (data unread): MODIFY may queue it once more ...
		auto ev = now(kfd);
		ASSERT_LE(ev.size(), 1u) << describe(ev);
		if (!ev.empty())
			expect_delivery(ev[0], t, 0, cookie_b, 0);
		// ... but it no longer comes back without new activity.
		expect_nothing(kfd);
		expect_nothing(kfd, 50);
		t.trigger(kfd);
		ev = wait(kfd);
		ASSERT_EQ(1u, ev.size()) << describe(ev);
		expect_delivery(ev[0], t, 0, cookie_b, 0);
	}

	void modify_from_default_to_level_repeats() {
		T t(0);
		add_armed(kfd, t, 0);
		t.trigger(kfd);
		ASSERT_EQ(1u, wait(kfd).size());
		expect_nothing(kfd);
		expect_written_back(modify(kfd, t, KEVENT_REQ_LEVEL, cookie_b), KEVENT_RET_DONE);
		for (int round = 0; round < 3; round++) {
			auto ev = now(kfd);
			ASSERT_EQ(1u, ev.size())
				<< "round " << round << ": LEVEL after MODIFY did not repeat";
			expect_delivery(ev[0], t, KEVENT_REQ_LEVEL, cookie_b, 0);
		}
		t.consume();
		expect_nothing(kfd);
	}

	// ---- BROKEN: the origin can stop being servable --------------------------

	void broken_is_delivered_once(unsigned mode) {
		T t(0);
		add_armed(kfd, t, mode);
		uint64_t broken_before = queue_stats(kfd).broken;
		t.break_it();
		auto ev = wait(kfd);
		ASSERT_EQ(1u, ev.size()) << describe(ev);
		expect_delivery(ev[0], t, mode, cookie_a, KEVENT_RET_BROKEN | KEVENT_RET_DONE);
		t.check_broken(ev[0]);
		expect_nothing(kfd);
		expect_nothing(kfd, 100);
		EXPECT_EQ(0u, registered(kfd));
		EXPECT_EQ(broken_before + 1, queue_stats(kfd).broken);
		expect_written_back(remove(kfd, t), KEVENT_RET_BROKEN | KEVENT_RET_DONE, -ENOENT);
	}

	void broken_at_add_is_copied_back_broken_done() {
		T t(0);
		t.break_it();
		ukevent e = entry(t);
		ASSERT_EQ(1, ctl(kfd, KEVENT_CTL_ADD, e)) << describe(e);
		EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, e.ret_flags) << describe(e);
		t.check_broken(e);
		EXPECT_EQ(0u, registered(kfd));
		expect_nothing(kfd, 50);
	}

	// ---- FD: id.raw[0] is a file descriptor ------------------------------------

	void add_on_closed_fd_is_ebadf() {
		T t(0);
		t.close_watched();
		ukevent e = entry(t);
		ASSERT_EQ(1, ctl(kfd, KEVENT_CTL_ADD, e));
		expect_written_back(e, KEVENT_RET_BROKEN | KEVENT_RET_DONE, -EBADF);
		EXPECT_EQ(0u, registered(kfd));
	}

	void fd_closed_under_registration_then_remove_succeeds() {
		T t(0);
		add_armed(kfd, t);
		t.close_watched();
		expect_nothing(kfd, 50);
		expect_written_back(remove(kfd, t), KEVENT_RET_DONE);
		EXPECT_EQ(0u, registered(kfd));
	}

	void fd_closed_under_registration_then_modify_is_broken_once() {
		T t(0);
		add_armed(kfd, t);
		t.close_watched();
		ukevent m = modify(kfd, t, 0, cookie_b);
		expect_written_back(m, KEVENT_RET_BROKEN | KEVENT_RET_DONE, -EBADF);
		auto ev = wait(kfd);
		ASSERT_EQ(1u, ev.size()) << "the BROKEN kevent was not delivered";
		EXPECT_EQ(t.id(), ev[0].id.raw_u64);
		EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, ev[0].ret_flags) << describe(ev[0]);
		EXPECT_EQ(-EBADF, err_of(ev[0])) << describe(ev[0]);
		expect_nothing(kfd, 50);
		EXPECT_EQ(0u, registered(kfd));
		expect_written_back(remove(kfd, t), KEVENT_RET_BROKEN | KEVENT_RET_DONE, -ENOENT);
	}

	void fd_closed_under_a_queued_last_check_kevent_is_broken_once() {
		T t(0);
		ukevent e = entry(t, KEVENT_REQ_LAST_CHECK | KEVENT_REQ_ALWAYS_QUEUE);
		t.make_ready_before_add(e);
		ASSERT_EQ(0, ctl(kfd, KEVENT_CTL_ADD, e)) << describe(e);
		t.on_added();
		t.close_watched();
		auto ev = wait(kfd);
		ASSERT_EQ(1u, ev.size()) << "LAST_CHECK on a closed fd must deliver BROKEN once";
		EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, ev[0].ret_flags) << describe(ev[0]);
		EXPECT_EQ(-EBADF, err_of(ev[0])) << describe(ev[0]);
		EXPECT_EQ(cookie_a, cookie_of(ev[0]));
		expect_nothing(kfd, 50);
		EXPECT_EQ(0u, registered(kfd));
	}

	void fd_number_reused_by_add_breaks_old_kevent_once() {
		T old_t(0);
		add_armed(kfd, old_t, 0, cookie_a);
		const int number = old_t.fd();
		old_t.close_watched();
		T new_t(1);
		new_t.take_number(number);
		ASSERT_EQ(old_t.id(), new_t.id());
		ukevent e = entry(new_t, 0, cookie_b);
		ASSERT_EQ(0, ctl(kfd, KEVENT_CTL_ADD, e))
			<< "ADD on a reused number: " << describe(e);
		new_t.on_added();
		auto ev = wait(kfd);
		ASSERT_EQ(1u, ev.size())
			<< "the old kevent must be delivered BROKEN once " << describe(ev);
		EXPECT_EQ(cookie_a, cookie_of(ev[0])) << describe(ev[0]);
		EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, ev[0].ret_flags) << describe(ev[0]);
		EXPECT_EQ(-EBADF, err_of(ev[0])) << describe(ev[0]);
		expect_nothing(kfd, 50);
		EXPECT_EQ(1u, registered(kfd));
		// The new registration serves the new file.
		new_t.trigger(kfd);
		ev = wait(kfd);
		ASSERT_EQ(1u, ev.size()) << describe(ev);
		expect_delivery(ev[0], new_t, 0, cookie_b, 0);
		expect_written_back(remove(kfd, new_t), KEVENT_RET_DONE);
		EXPECT_EQ(0u, registered(kfd));
	}

	void fd_number_reused_new_file_never_reaches_old_kevent(unsigned mode) {
		T old_t(0);
		add_armed(kfd, old_t, mode, cookie_a);
		const int number = old_t.fd();
		old_t.close_watched();
		T new_t(1);
		new_t.take_number(number);
		new_t.trigger(kfd);
		auto ev = get(kfd, 1, 8, 100);
		for (const auto &uk : ev)
			EXPECT_NE(0u, uk.ret_flags & KEVENT_RET_BROKEN) << "an event of the new "
									   "file reached the old "
									   "kevent: "
									<< describe(uk);
		if (ev.empty())
			expect_written_back(remove(kfd, old_t), KEVENT_RET_DONE);
		EXPECT_EQ(0u, registered(kfd));
	}

	void fd_number_reused_then_modify_breaks_old_kevent() {
		T old_t(0);
		add_armed(kfd, old_t, 0, cookie_a);
		const int number = old_t.fd();
		old_t.close_watched();
		T new_t(1);
		new_t.take_number(number);
		new_t.trigger(kfd); // the new file is ready: it must not be mistaken for the old
				    // one
		ukevent m = modify(kfd, old_t, 0, cookie_b);
		expect_written_back(m, KEVENT_RET_BROKEN | KEVENT_RET_DONE, -EBADF);
		auto ev = wait(kfd);
		ASSERT_EQ(1u, ev.size()) << describe(ev);
		EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, ev[0].ret_flags) << describe(ev[0]);
		EXPECT_EQ(-EBADF, err_of(ev[0])) << describe(ev[0]);
		expect_nothing(kfd, 50);
		EXPECT_EQ(0u, registered(kfd));
	}

	void fd_number_reused_under_a_queued_last_check_kevent_is_broken_once() {
		T old_t(0);
		ukevent e = entry(old_t, KEVENT_REQ_LAST_CHECK | KEVENT_REQ_ALWAYS_QUEUE, cookie_a);
		old_t.make_ready_before_add(e);
		ASSERT_EQ(0, ctl(kfd, KEVENT_CTL_ADD, e)) << describe(e);
		old_t.on_added();
		const int number = old_t.fd();
		old_t.close_watched();
		T new_t(1);
		new_t.take_number(number);
		new_t.trigger(kfd); // ready, so a poll(2) on the number alone would say "ready"
		auto ev = wait(kfd);
		ASSERT_EQ(1u, ev.size()) << describe(ev);
		EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, ev[0].ret_flags)
			<< "LAST_CHECK took the new file behind a reused number for the old one: "
			<< describe(ev[0]);
		EXPECT_EQ(-EBADF, err_of(ev[0])) << describe(ev[0]);
		expect_nothing(kfd, 50);
		EXPECT_EQ(0u, registered(kfd));
	}
};

} // namespace kevent_origin

// ---- case lists ---------------------------------------------------------------

#define KEVENT_ORIGIN_CONTRACT(S)                                                                \
	TEST_P(S, AddKeepsUnreadyKeventRegisteredAndDeliversOnActivity) {                        \
		add_keeps_unready_kevent_registered();                                           \
	}                                                                                        \
	TEST_P(S, AddSameKeyTwiceIsEexist) { add_same_key_twice_is_eexist(); }                   \
	TEST_P(S, AddWithBadReqFlagsIsEinval) { add_with_bad_req_flags_is_einval(); }            \
	TEST_P(S, RemoveDeletesAndStopsDelivery) { remove_deletes_and_stops_delivery(); }        \
	TEST_P(S, RemoveDropsAQueuedKevent) { remove_drops_a_queued_kevent(); }                  \
	TEST_P(S, RemoveMissingIsBrokenEnoent) { remove_missing_is_broken_enoent(); }            \
	TEST_P(S, ModifyMissingIsBrokenEnoent) { modify_missing_is_broken_enoent(); }            \
	TEST_P(S, ModifyReplacesCookieAndReqFlags) { modify_replaces_cookie_and_req_flags(); }   \
	TEST_P(S, ModifyWithBadFlagsChangesNothing) { modify_with_bad_flags_changes_nothing(); } \
	TEST_P(S, ModifyOfUnreadyKeventQueuesNothing) {                                          \
		modify_of_unready_kevent_queues_nothing();                                       \
	}                                                                                        \
	TEST_P(S, OneshotIsDeliveredOnceDoneAndRemoved) {                                        \
		oneshot_is_delivered_once_done_and_removed();                                    \
	}                                                                                        \
	TEST_P(S, DefaultDoesNotComeBackWithoutNewActivity) {                                    \
		mode_does_not_come_back_without_new_activity(0);                                 \
	}                                                                                        \
	TEST_P(S, EtDoesNotComeBackWithoutNewActivity) {                                         \
		mode_does_not_come_back_without_new_activity(KEVENT_REQ_ET);                     \
	}                                                                                        \
	TEST_P(S, DefaultComesBackOnNewActivityEvenIfNotConsumed) {                              \
		mode_comes_back_on_new_activity(0, false);                                       \
	}                                                                                        \
	TEST_P(S, EtComesBackOnNewActivityEvenIfNotConsumed) {                                   \
		mode_comes_back_on_new_activity(KEVENT_REQ_ET, false);                           \
	}                                                                                        \
	TEST_P(S, LevelComesBackOnNewActivity) {                                                 \
		mode_comes_back_on_new_activity(KEVENT_REQ_LEVEL, true);                         \
	}                                                                                        \
	TEST_P(S, LastCheckDeliversAKeventStillReady) {                                          \
		last_check_delivers_a_kevent_still_ready();                                      \
	}                                                                                        \
	TEST_P(S, AlwaysQueueKeepsAReadyAtAddKeventQueued) {                                     \
		always_queue_keeps_a_ready_at_add_kevent_queued();                               \
	}                                                                                        \
	TEST_P(S, ReqReadyWithAlwaysQueueQueuesAnUnreadyKevent) {                                \
		req_ready_with_always_queue_queues_an_unready_kevent();                          \
	}                                                                                        \
	TEST_P(S, ReadyAtAddIsCopiedBackDoneAndNotKept) {                                        \
		ready_at_add_is_copied_back_done_and_not_kept();                                 \
	}                                                                                        \
	TEST_P(S, ReqReadyAtAddIsCopiedBackDoneAndNotKept) {                                     \
		req_ready_at_add_is_copied_back_done_and_not_kept();                             \
	}                                                                                        \
	TEST_P(S, CopiedBackEntriesAreCompactedInInputOrder) {                                   \
		copied_back_entries_are_compacted_in_input_order();                              \
	}                                                                                        \
	TEST_P(S, CookieRoundTripsUntouched) { cookie_round_trips_untouched(); }                 \
	TEST_P(S, TwoQueuesAreIndependent) { two_queues_are_independent(); }                     \
	TEST_P(S, CloseWithRegistrationsFreesThem) { close_with_registrations_frees_them(); }

#define KEVENT_ORIGIN_CONTRACT_CONDITION(S)                           \
	TEST_P(S, LevelRepeatsWhileReadyAndStopsOnceConsumed) {       \
		level_repeats_while_ready_and_stops_once_consumed();  \
	}                                                             \
	TEST_P(S, LastCheckSkipsAnEventConsumedBeforeDelivery) {      \
		last_check_skips_an_event_consumed_before_delivery(); \
	}                                                             \
	TEST_P(S, LastCheckSkipsAQueuedKeventNoLongerReady) {         \
		last_check_skips_a_queued_kevent_no_longer_ready();   \
	}                                                             \
	TEST_P(S, ModifyQueuesAKeventThatIsReadyNow) {                \
		modify_queues_a_kevent_that_is_ready_now();           \
	}                                                             \
	TEST_P(S, ModifyFromLevelToDefaultStopsRepeating) {           \
		modify_from_level_to_default_stops_repeating();       \
	}                                                             \
	TEST_P(S, ModifyFromDefaultToLevelRepeats) { modify_from_default_to_level_repeats(); }

#define KEVENT_ORIGIN_CONTRACT_BROKEN(S)                                                           \
	TEST_P(S, BrokenIsDeliveredOnce) { broken_is_delivered_once(0); }                          \
	TEST_P(S, BrokenIsDeliveredOnceUnderLevel) { broken_is_delivered_once(KEVENT_REQ_LEVEL); } \
	TEST_P(S, BrokenIsDeliveredOnceUnderEt) { broken_is_delivered_once(KEVENT_REQ_ET); }       \
	TEST_P(S, BrokenAtAddIsCopiedBackBrokenDone) { broken_at_add_is_copied_back_broken_done(); }

#define KEVENT_ORIGIN_CONTRACT_FD(S)                                                  \
	TEST_P(S, AddOnClosedFdIsEbadf) { add_on_closed_fd_is_ebadf(); }              \
	TEST_P(S, FdClosedUnderRegistrationThenRemoveSucceeds) {                      \
		fd_closed_under_registration_then_remove_succeeds();                  \
	}                                                                             \
	TEST_P(S, FdClosedUnderRegistrationThenModifyIsBrokenOnce) {                  \
		fd_closed_under_registration_then_modify_is_broken_once();            \
	}                                                                             \
	TEST_P(S, FdClosedUnderAQueuedLastCheckKeventIsBrokenOnce) {                  \
		fd_closed_under_a_queued_last_check_kevent_is_broken_once();          \
	}                                                                             \
	TEST_P(S, FdNumberReusedByAddBreaksOldKeventOnce) {                           \
		fd_number_reused_by_add_breaks_old_kevent_once();                     \
	}                                                                             \
	TEST_P(S, FdNumberReusedNewFileNeverReachesOldKevent) {                       \
		fd_number_reused_new_file_never_reaches_old_kevent(0);                \
	}                                                                             \
	TEST_P(S, FdNumberReusedNewFileNeverReachesOldLevelKevent) {                  \
		fd_number_reused_new_file_never_reaches_old_kevent(KEVENT_REQ_LEVEL); \
	}                                                                             \
	TEST_P(S, FdNumberReusedThenModifyBreaksOldKevent) {                          \
		fd_number_reused_then_modify_breaks_old_kevent();                     \
	}                                                                             \
	TEST_P(S, FdNumberReusedUnderAQueuedLastCheckKeventIsBrokenOnce) {            \
		fd_number_reused_under_a_queued_last_check_kevent_is_broken_once();   \
	}
