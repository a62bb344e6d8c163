// SPDX-License-Identifier: MIT
// alloc_test.cpp — a co_await allocates nothing: the operation's state lives
// in the awaiter inside the coroutine frame. The global operator new is
// replaced by one that counts. The library itself may allocate per
// registration (its own bookkeeping, under src/), so each loop of awaits is
// compared with the same C calls made by hand: the layer must add nothing.
#include "coro_fixture.hpp"

#include <atomic>
#include <cstdlib>
#include <new>
#include <poll.h>

// The replacement pair below frees with free() what it took with malloc();
// GCC sees the replaced operator new inlined into gtest's code in this same
// translation unit and wrongly calls that a mismatch.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace {
std::atomic<long> news{0};
}

void *operator new(std::size_t n) {
	news.fetch_add(1, std::memory_order_relaxed);
	if (void *p = std::malloc(n ? n : 1))
		return p;
	throw std::bad_alloc();
}
void *operator new[](std::size_t n) { return ::operator new(n); }
void operator delete(void *p) noexcept { std::free(p); }
void operator delete[](void *p) noexcept { std::free(p); }
void operator delete(void *p, std::size_t) noexcept { std::free(p); }
void operator delete[](void *p, std::size_t) noexcept { std::free(p); }

using namespace kevent_test;
namespace coro = kevent::coro;
using namespace std::chrono_literals;

namespace {

class Alloc : public CoroTest {};

constexpr int rounds = 1000;

// Ping-pong over a socket pair: every recv suspends until the peer's send.
coro::task<void> pinger(coro::io_context &c, int fd, long &allocs) {
	std::byte b[1] = {std::byte{1}};
	long before = news.load();
	for (int i = 0; i < rounds; ++i) {
		co_await coro::send(c, fd, b);
		co_await coro::recv(c, fd, b);
	}
	allocs = news.load() - before;
}
coro::task<void> ponger(coro::io_context &c, int fd) {
	std::byte b[1];
	for (int i = 0; i < rounds; ++i) {
		co_await coro::recv(c, fd, b);
		co_await coro::send(c, fd, b);
	}
}

// The same round trips with the C calls: the ponger's recv is posted before
// the pinger's send, as in the coroutine version.
long raw_round_trips(int kfd, int a, int b) {
	char x = 1, y = 0;
	ukevent evs[2];
	long before = news.load();
	for (int i = 0; i < rounds; ++i) {
		EXPECT_GT(kevent_aio_recv(kfd, b, &y, 1, 0, 1), 0);
		EXPECT_GT(kevent_aio_send(kfd, a, &x, 1, 0, 2), 0);
		for (int got = 0; got < 2;)
			got += std::max(0, kevent_get_events(kfd, 1, 2, nullptr, evs, 0));
		EXPECT_GT(kevent_aio_recv(kfd, a, &x, 1, 0, 3), 0);
		EXPECT_GT(kevent_aio_send(kfd, b, &y, 1, 0, 4), 0);
		for (int got = 0; got < 2;)
			got += std::max(0, kevent_get_events(kfd, 1, 2, nullptr, evs, 0));
	}
	return news.load() - before;
}

TEST_P(Alloc, AioRoundTripsAllocateNothingInTheLayer) {
	socket_pair sp;
	long raw = raw_round_trips(kfd, sp.fd[0], sp.fd[1]); // first: warms the library up
	long allocs = -1;
	coro::sync_wait(ctx(),
			coro::when_all(pinger(ctx(), sp.fd[0], allocs), ponger(ctx(), sp.fd[1])));
	EXPECT_LE(allocs, raw)
		<< "operator new calls during " << rounds << " round trips, coroutines vs C calls";
}

// The same ping-pong on coro::socket. On epoll a recv or send is its system
// call and a wait is the persistent kevent's next edge, so nothing is
// allocated anywhere, library included; on io_uring its calls are the
// queue's asynchronous ones, which the layer adds nothing to.
coro::task<void> socket_pinger(coro::socket &s, long &allocs) {
	std::byte b[1] = {std::byte{1}};
	co_await s.send(b); // warms up: the first edges and the runner
	co_await s.recv(b);
	long before = news.load();
	for (int i = 0; i < rounds; ++i) {
		co_await s.send(b);
		co_await s.recv(b);
	}
	allocs = news.load() - before;
}
coro::task<void> socket_ponger(coro::socket &s) {
	std::byte b[1];
	for (int i = 0; i < rounds + 1; ++i) {
		co_await s.recv(b);
		co_await s.send(b);
	}
}

TEST_P(Alloc, SocketRoundTripsAllocateNothing) {
	socket_pair sp;
	coro::socket a(ctx(), sp.fd[0]), b(ctx(), sp.fd[1]);
	sp.fd[0] = sp.fd[1] = -1;
	long allocs = -1;
	if (ctx().backend() == KEVENT_BACKEND_URING) {
		socket_pair raw;
		long c_calls = raw_round_trips(kfd, raw.fd[0], raw.fd[1]);
		coro::sync_wait(ctx(), coro::when_all(socket_pinger(a, allocs), socket_ponger(b)));
		EXPECT_LE(allocs, c_calls) << "operator new calls during " << rounds
					   << " round trips, coroutines vs C calls";
		return;
	}
	coro::sync_wait(ctx(), coro::when_all(socket_pinger(a, allocs), socket_ponger(b)));
	EXPECT_EQ(0, allocs) << "operator new calls during " << rounds << " round trips";
}

coro::task<long> ready_awaits(coro::io_context &c, int fd) {
	long before = news.load();
	for (int i = 0; i < rounds; ++i) {
		co_await coro::readable(c, fd); // ready at ADD
		co_await coro::sleep_until(c, std::chrono::steady_clock::now() - 1s); // due at ADD
		co_await c.schedule();                                                // posted
	}
	co_return news.load() - before;
}

long raw_ready_adds(int kfd, int fd) {
	long before = news.load();
	for (int i = 0; i < rounds; ++i) {
		ukevent r = make(KEVENT_POLL, static_cast<uint32_t>(fd), POLLIN | POLLRDHUP,
				 KEVENT_REQ_ONESHOT);
		EXPECT_EQ(1, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &r));
		ukevent t = make(KEVENT_TIMER, timer_id(1),
				 KEVENT_TIMER_FIRED | KEVENT_TIMER_ABSTIME, KEVENT_REQ_ONESHOT);
		t.ret_data[0] = 1; // 1 s after boot: passed
		EXPECT_EQ(1, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &t));
	}
	return news.load() - before;
}

TEST_P(Alloc, ReadinessTimerAndScheduleAllocateNothing) {
	socket_pair sp;
	ASSERT_EQ(1, ::write(sp.fd[1], "x", 1));
	long raw = raw_ready_adds(kfd, sp.fd[0]); // first: warms the library up
	EXPECT_LE(coro::sync_wait(ctx(), ready_awaits(ctx(), sp.fd[0])), raw);
}

coro::task<long> sleeps(coro::io_context &c) {
	long before = news.load();
	for (int i = 0; i < 20; ++i)
		co_await coro::sleep_for(c, 100us); // suspends
	co_return news.load() - before;
}

long raw_sleeps(int kfd) {
	long before = news.load();
	for (int i = 0; i < 20; ++i) {
		ukevent t = make(KEVENT_TIMER, 0, KEVENT_TIMER_FIRED, KEVENT_REQ_ONESHOT);
		t.id.raw[1] = 100000; // 100 us
		EXPECT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &t));
		EXPECT_EQ(1u, get(kfd, 1, 1, -1).size());
	}
	return news.load() - before;
}

TEST_P(Alloc, SuspendingSleepsAllocateNothing) {
	long raw = raw_sleeps(kfd); // first: warms the library up
	EXPECT_LE(coro::sync_wait(ctx(), sleeps(ctx())), raw);
}

KEVENT_INSTANTIATE_BACKENDS(Alloc);

} // namespace
