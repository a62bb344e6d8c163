// SPDX-License-Identifier: MIT
// waiters_test.cpp — issue 6, items 1 and 3: many threads waiting on one
// queue. One new ready event wakes one waiter, each event goes to exactly
// one caller, min_nr is each caller's own, a forced wake-up returns every
// waiter, and kevent_close returns them all with EBADF.
#include "threads_support.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

using kevent_test::make;
using kevent_test::queue_stats;
using namespace kevent_threads;

namespace {

constexpr uint64_t kCookieXor = 0x5a5a5a5a00000000ull;

class Waiters : public kevent_test::QueueTest {
protected:
	// N waiters x M producers, see the picture at the Grid tests below.
	void grid(unsigned n_waiters, unsigned n_producers);
};

//   producer0 (ids 0..K-1)     ...     producerM-1 (ids (M-1)K..MK-1)
//     READY id, one per call             READY id, one per call
//     (every 16th: yield, so that          |
//      waiters get to sleep)               |
//            \                             /
//             v                           v
//          +-----------------------------------+
//          | queue: M*K ONESHOT UNOTIFY kevents |  (registered up front)
//          +-----------------------------------+
//           |       |               |
//           v       v               v
//        waiter0  waiter1  ...  waiterN-1    get_events(min 1, max 1|4, NULL)
//                                            count[id]++
//   main: until M*K delivered (30 s); READY num=0 releases the waiters;
//         every id exactly once (DONE); wake-ups <= 2*delivered + 4N
//         (a thundering herd would give about N per event).
void Waiters::grid(unsigned n_waiters, unsigned n_producers) {
	constexpr unsigned kPerProducer = 3000;
	const unsigned total = kPerProducer * n_producers;
	{
		std::vector<ukevent> adds;
		for (unsigned id = 0; id < total; id++)
			adds.push_back(
				make(KEVENT_UNOTIFY, id, 0, KEVENT_REQ_ONESHOT, id ^ kCookieXor));
		ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, total, adds.data()))
			<< std::strerror(errno);
	}
	auto count = std::make_unique<std::atomic<unsigned>[]>(total);
	for (unsigned i = 0; i < total; i++)
		count[i] = 0;
	std::atomic<unsigned> delivered{0}, bad{0}, bad_ready{0};
	std::atomic<bool> stop{false};
	std::atomic<int> running{static_cast<int>(n_waiters)};

	std::vector<std::thread> waiters;
	for (unsigned w = 0; w < n_waiters; w++) {
		waiters.emplace_back([&, w] {
			ukevent buf[4];
			const unsigned max = w % 2 ? 4 : 1; // single takers and batch takers
			while (!stop.load()) {
				int n = kevent_get_events(kfd, 1, max, nullptr, buf, 0);
				if (n < 0) {
					bad++;
					break;
				}
				for (int i = 0; i < n; i++) {
					uint64_t id = buf[i].id.raw_u64;
					if (id >= total || buf[i].ret_flags != KEVENT_RET_DONE ||
					    kevent_test::cookie_of(buf[i]) != (id ^ kCookieXor)) {
						bad++;
						continue;
					}
					count[id]++;
					delivered++;
				}
			}
			running--;
		});
	}
	std::this_thread::sleep_for(settle());

	std::vector<std::thread> producers;
	for (unsigned p = 0; p < n_producers; p++) {
		producers.emplace_back([&, p] {
			for (unsigned i = 0; i < kPerProducer; i++) {
				ukevent r = make(KEVENT_UNOTIFY, p * kPerProducer + i, 0);
				if (kevent_ctl(kfd, KEVENT_CTL_READY, 1, &r) != 1)
					bad_ready++;
				if (i % 16 == 15)
					std::this_thread::yield();
			}
		});
	}
	for (auto &t : producers)
		t.join();
	bool all = wait_until([&] { return delivered.load() >= total; }, milliseconds(30000));
	kevent_stats st = queue_stats(kfd);
	stop = true;
	release_waiters(kfd, running);
	for (auto &t : waiters)
		t.join();

	EXPECT_TRUE(all) << delivered.load() << " of " << total << " delivered in 30 s";
	EXPECT_EQ(0u, bad.load());
	EXPECT_EQ(0u, bad_ready.load()) << "a READY did not find its (undelivered) kevent";
	unsigned missing = 0, dup = 0;
	for (unsigned i = 0; i < total; i++) {
		missing += count[i].load() == 0;
		dup += count[i].load() > 1;
	}
	EXPECT_EQ(0u, missing);
	EXPECT_EQ(0u, dup);
	EXPECT_EQ(total, st.delivered);
	std::printf("[ stats    ] %u waiters x %u producers: %llu delivered, %llu wake-ups, "
		    "%.3f wake-ups per delivered event, %llu backend calls\n",
		    n_waiters, n_producers, static_cast<unsigned long long>(st.delivered),
		    static_cast<unsigned long long>(st.wakeups),
		    st.delivered ? double(st.wakeups) / double(st.delivered) : 0.0,
		    static_cast<unsigned long long>(st.backend_calls));
	RecordProperty("wakeups", static_cast<int>(st.wakeups));
	RecordProperty("delivered", static_cast<int>(st.delivered));
	EXPECT_LE(st.wakeups, st.delivered * 2 + n_waiters * 4) << "more than two wake-ups per "
								   "event: a thundering herd?";
	EXPECT_EQ(0u, queue_stats(kfd).registered);
}

#define WAITERS_GRID(n, m) \
	TEST_P(Waiters, Grid_##n##Waiters_##m##Producers) { grid(n, m); }
WAITERS_GRID(1, 1)
WAITERS_GRID(1, 2)
WAITERS_GRID(2, 1)
WAITERS_GRID(2, 2)
WAITERS_GRID(4, 1)
WAITERS_GRID(4, 2)
WAITERS_GRID(8, 1)
WAITERS_GRID(8, 2)

// min_nr belongs to each caller: a waiter that asked for 4 is not returned
// with 1 while another that asked for 1 takes single events.
//
//   waiter A: get_events(min 4, max 8, 20 s)      waiter B: get_events(min 1, max 1)
//   (blocked throughout phase 1 and 2)            x5, then leaves
//
//   main, phase 1: READY s0 .. s4 one at a time,  ──▶ B takes each alone
//                  each after B took the previous
//   main, phase 2: READY a0, a1, a2 one at a time ──▶ nobody returns (3 < 4)
//                  READY a3                       ──▶ A returns a0..a3
TEST_P(Waiters, MinNrIsHonouredPerCaller) {
	std::vector<ukevent> adds;
	for (uint64_t id = 0; id < 9; id++)
		adds.push_back(make(KEVENT_UNOTIFY, id, 0, KEVENT_REQ_ONESHOT, id));
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 9, adds.data()));

	std::atomic<int> a_result{-2}, b_taken{0}, b_bad{0};
	std::vector<ukevent> a_got(8);
	std::thread a([&] {
		timespec t = kevent_test::ms(20000);
		a_result = kevent_get_events(kfd, 4, 8, &t, a_got.data(), 0);
	});
	std::thread b([&] {
		for (int i = 0; i < 5; i++) {
			ukevent e;
			timespec t = kevent_test::ms(20000);
			int n = kevent_get_events(kfd, 1, 1, &t, &e, 0);
			if (n != 1 || e.id.raw_u64 != static_cast<uint64_t>(i))
				b_bad++;
			b_taken++;
		}
	});
	std::this_thread::sleep_for(settle());
	for (uint64_t id = 0; id < 5; id++) {
		ukevent r = make(KEVENT_UNOTIFY, id, 0);
		ASSERT_EQ(1, kevent_ctl(kfd, KEVENT_CTL_READY, 1, &r));
		EXPECT_TRUE(
			wait_until([&] { return b_taken.load() > int(id); }, milliseconds(5000)))
			<< "B (min_nr 1) did not take event " << id;
		EXPECT_EQ(-2, a_result.load()) << "A (min_nr 4) returned after event " << id;
	}
	b.join();
	EXPECT_EQ(0, b_bad.load());
	for (uint64_t id = 5; id < 8; id++) {
		ukevent r = make(KEVENT_UNOTIFY, id, 0);
		ASSERT_EQ(1, kevent_ctl(kfd, KEVENT_CTL_READY, 1, &r));
		std::this_thread::sleep_for(milliseconds(30));
		EXPECT_EQ(-2, a_result.load()) << "A (min_nr 4) returned with " << (id - 4);
	}
	ukevent r = make(KEVENT_UNOTIFY, 8, 0);
	ASSERT_EQ(1, kevent_ctl(kfd, KEVENT_CTL_READY, 1, &r));
	EXPECT_TRUE(wait_until([&] { return a_result.load() != -2; }, milliseconds(5000)));
	if (a_result.load() == -2)
		kevent_ctl(kfd, KEVENT_CTL_READY, 0, nullptr);
	a.join();
	ASSERT_EQ(4, a_result.load());
	for (int i = 0; i < 4; i++)
		EXPECT_EQ(uint64_t(5 + i), a_got[i].id.raw_u64) << "FIFO order";
	EXPECT_EQ(0u, queue_stats(kfd).registered);
}

// A forced wake-up (READY num=0) returns every blocked waiter with 0 events,
// whatever its timeout and min_nr; a ready event stays for the next call.
//
//   waiter0..7: get_events(min 1|3, NULL | 60 s timeout), all blocked
//   main: READY num=0 once ──▶ all 8 return 0 within 2 s
//   main: get_events(0) still finds the event readied after they returned
TEST_P(Waiters, ForcedWakeUpReturnsEveryWaiter) {
	constexpr int kWaiters = 8;
	std::atomic<int> entered{0}, returned{0}, nonzero{0};
	std::vector<std::thread> ts;
	for (int w = 0; w < kWaiters; w++) {
		ts.emplace_back([&, w] {
			ukevent buf[4];
			timespec t = kevent_test::ms(60000);
			entered++;
			int n = kevent_get_events(kfd, w % 2 ? 3 : 1, 4, w % 3 ? nullptr : &t, buf,
						  0);
			if (n != 0)
				nonzero++;
			returned++;
		});
	}
	ASSERT_TRUE(wait_until([&] { return entered.load() == kWaiters; }, milliseconds(5000)));
	std::this_thread::sleep_for(settle());
	EXPECT_EQ(0, returned.load()) << "a waiter returned before the forced wake-up";
	auto t0 = clock_type::now();
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_READY, 0, nullptr));
	bool all = wait_until([&] { return returned.load() == kWaiters; }, milliseconds(2000));
	double took = ms_since(t0);
	EXPECT_TRUE(all) << (kWaiters - returned.load())
			 << " waiters not returned 2 s after one forced wake-up";
	while (returned.load() < kWaiters) {
		kevent_ctl(kfd, KEVENT_CTL_READY, 0, nullptr);
		std::this_thread::sleep_for(milliseconds(5));
	}
	for (auto &t : ts)
		t.join();
	EXPECT_EQ(0, nonzero.load()) << "a forced wake-up returns 0 events";
	std::printf("[ stats    ] 8 waiters returned %.1f ms after one READY num=0\n", took);

	ukevent uk = make(KEVENT_UNOTIFY, 1, 0, KEVENT_REQ_READY | KEVENT_REQ_ALWAYS_QUEUE, 1);
	ASSERT_EQ(0, add(uk));
	EXPECT_EQ(1u, kevent_test::get(kfd, 0, 4, 0).size());
}

// kevent_close while 8 threads are blocked: each returns -1/EBADF promptly,
// nothing crashes, and the process-wide statistics are zero afterwards.
//
//   waiter0..7: get_events(min 1|2, NULL | 60 s) on a queue holding a
//               socketpair kevent, a 10 s timer and a user event (none ready)
//   main: kevent_close(kfd) ──▶ all 8 return -1/EBADF within 2 s
//   main: kevent_get_stats(-1): no queue, no registration
TEST_P(Waiters, CloseWhileEightThreadsWaitReturnsEbadf) {
	constexpr int kWaiters = 8;
	int sp[2];
	ASSERT_EQ(0, ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp));
	ukevent regs[3] = {
		make(KEVENT_SOCKET, static_cast<uint32_t>(sp[0]), KEVENT_SOCKET_RECV),
		make(KEVENT_TIMER, kevent_test::timer_id(10000), KEVENT_TIMER_FIRED),
		make(KEVENT_UNOTIFY, 7, 0),
	};
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 3, regs));

	std::atomic<int> entered{0}, returned{0}, ebadf{0};
	std::vector<double> took(kWaiters, -1);
	clock_type::time_point t0;
	std::atomic<bool> closed{false};
	const int kq = kfd; // the member is reset below, under the waiters
	std::vector<std::thread> ts;
	for (int w = 0; w < kWaiters; w++) {
		ts.emplace_back([&, w] {
			ukevent buf[4];
			timespec t = kevent_test::ms(60000);
			entered++;
			int n = kevent_get_events(kq, w % 2 ? 2 : 1, 4, w % 3 ? nullptr : &t, buf,
						  0);
			int err = errno;
			if (closed.load())
				took[w] = ms_since(t0);
			if (n == -1 && err == EBADF)
				ebadf++;
			returned++;
		});
	}
	ASSERT_TRUE(wait_until([&] { return entered.load() == kWaiters; }, milliseconds(5000)));
	std::this_thread::sleep_for(settle());
	EXPECT_EQ(0, returned.load());
	t0 = clock_type::now();
	closed = true;
	kfd = -1; // closed here, not by TearDown
	ASSERT_EQ(0, kevent_close(kq)) << std::strerror(errno);
	bool all = wait_until([&] { return returned.load() == kWaiters; }, milliseconds(2000));
	EXPECT_TRUE(all)
		<< (kWaiters - returned.load()) << " waiters still blocked 2 s after kevent_close";
	if (!all) {
		// The queue is gone: nothing can release them. Do not hang the
		// run until ctest's timeout.
		std::fprintf(stderr, "FAILED: %d waiters still blocked 2 s after kevent_close\n",
			     kWaiters - returned.load());
		std::fflush(stdout);
		std::_Exit(1);
	}
	for (auto &t : ts)
		t.join();
	EXPECT_EQ(kWaiters, ebadf.load()) << "every waiter returns -1/EBADF";
	double worst = 0;
	for (double d : took)
		worst = std::max(worst, d);
	std::printf("[ stats    ] 8 waiters returned at most %.1f ms after kevent_close\n", worst);
	EXPECT_LT(worst, 2000.0);
	kevent_stats g = kevent_test::global_stats();
	EXPECT_EQ(0u, g.queues);
	EXPECT_EQ(0u, g.registered);
	::close(sp[0]);
	::close(sp[1]);
}

} // namespace

KEVENT_INSTANTIATE_BACKENDS(Waiters);
