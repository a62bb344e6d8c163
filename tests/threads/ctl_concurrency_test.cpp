// SPDX-License-Identifier: MIT
// ctl_concurrency_test.cpp — issue 6, item 2: kevent_ctl (ADD, REMOVE,
// MODIFY, READY) from any thread while others wait, without waiting for the
// waiters to wake; and the outcome of a REMOVE racing a delivery: the event
// is either delivered once before the REMOVE returns, or never.
#include "threads_support.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

using kevent_test::make;
using kevent_test::queue_stats;
using namespace kevent_threads;

namespace {

class CtlConcurrency : public kevent_test::QueueTest {};

// Waiters are blocked with no timeout on kevents that never become ready;
// 3 threads run ADD/MODIFY/REMOVE (user events, pipe read ends, timers) and
// must never wait for the waiters: every call is timed.
//
//   waiter0..3: get_events(min 1, NULL)      (nothing ever ready: they stay)
//        ^
//        | (no wake-up needed)
//   ctl0: ADD/MODIFY/REMOVE UNOTIFY ids       ─┐
//   ctl1: ADD/MODIFY/REMOVE POLL on pipe reads ├─▶ 600 rounds each, each call timed
//   ctl2: ADD/REMOVE 1 h timers                ─┘
//   main: then READY one user event ──▶ exactly one waiter takes it;
//         READY num=0 releases the rest
TEST_P(CtlConcurrency, CtlNeverWaitsForBlockedWaiters) {
	constexpr int kWaiters = 4, kRounds = 600;
	std::atomic<int> running{kWaiters}, got_events{0}, bad{0};
	std::atomic<bool> stop{false};
	std::vector<std::thread> waiters;
	for (int w = 0; w < kWaiters; w++) {
		waiters.emplace_back([&] {
			ukevent buf[4];
			while (!stop.load()) {
				int n = kevent_get_events(kfd, 1, 4, nullptr, buf, 0);
				if (n < 0) {
					bad++;
					break;
				}
				got_events += n;
			}
			running--;
		});
	}
	std::this_thread::sleep_for(settle());

	int p[2];
	ASSERT_EQ(0, ::pipe2(p, O_CLOEXEC));
	std::atomic<int> ctl_fail{0};
	std::vector<double> worst(3, 0);
	auto timed = [&](int who, unsigned cmd, ukevent &e, int expect) {
		auto t0 = clock_type::now();
		int r = kevent_ctl(kfd, cmd, 1, &e);
		worst[who] = std::max(worst[who], ms_since(t0));
		if (r != expect || (cmd != KEVENT_CTL_ADD && e.ret_flags != KEVENT_RET_DONE))
			ctl_fail++;
	};
	std::vector<std::thread> ctls;
	ctls.emplace_back([&] {
		for (int i = 0; i < kRounds; i++) {
			ukevent a = make(KEVENT_UNOTIFY, 100000 + i, 1, 0, i);
			timed(0, KEVENT_CTL_ADD, a, 0);
			ukevent m = make(KEVENT_UNOTIFY, 100000 + i, 2, KEVENT_REQ_ONESHOT, i);
			timed(0, KEVENT_CTL_MODIFY, m, 0);
			ukevent r = make(KEVENT_UNOTIFY, 100000 + i, 0);
			timed(0, KEVENT_CTL_REMOVE, r, 0);
		}
	});
	ctls.emplace_back([&] {
		for (int i = 0; i < kRounds; i++) {
			ukevent a = make(KEVENT_POLL, static_cast<uint32_t>(p[0]), POLLIN, 0, i);
			timed(1, KEVENT_CTL_ADD, a, 0);
			ukevent m = make(KEVENT_POLL, static_cast<uint32_t>(p[0]), POLLIN | POLLPRI,
					 KEVENT_REQ_LEVEL, i);
			timed(1, KEVENT_CTL_MODIFY, m, 0);
			ukevent r = make(KEVENT_POLL, static_cast<uint32_t>(p[0]), 0);
			timed(1, KEVENT_CTL_REMOVE, r, 0);
		}
	});
	ctls.emplace_back([&] {
		for (int i = 0; i < kRounds; i++) {
			ukevent a = make(KEVENT_TIMER, kevent_test::timer_id(3600000) + (i % 7),
					 KEVENT_TIMER_FIRED, 0, i);
			timed(2, KEVENT_CTL_ADD, a, 0);
			ukevent r = make(KEVENT_TIMER, a.id.raw_u64, 0);
			timed(2, KEVENT_CTL_REMOVE, r, 0);
		}
	});
	for (auto &t : ctls)
		t.join();
	EXPECT_EQ(0, ctl_fail.load()) << "a ctl call failed";
	std::printf("[ stats    ] slowest ctl call with 4 blocked waiters: user %.2f ms, pipe "
		    "%.2f ms, timer %.2f ms\n",
		    worst[0], worst[1], worst[2]);
	for (int i = 0; i < 3; i++)
		EXPECT_LT(worst[i], 1000.0) << "ctl thread " << i << " waited";
	EXPECT_EQ(0, got_events.load()) << "nothing was ready";
	EXPECT_EQ(kWaiters, running.load()) << "a waiter returned without an event";

	// Now one event: one waiter takes it, the rest stay blocked.
	ukevent u = make(KEVENT_UNOTIFY, 1, 0,
			 KEVENT_REQ_ONESHOT | KEVENT_REQ_READY | KEVENT_REQ_ALWAYS_QUEUE, 1);
	ASSERT_EQ(0, add(u));
	EXPECT_TRUE(wait_until([&] { return got_events.load() == 1; }, milliseconds(5000)));
	stop = true;
	release_waiters(kfd, running);
	for (auto &t : waiters)
		t.join();
	EXPECT_EQ(1, got_events.load());
	EXPECT_EQ(0, bad.load());
	EXPECT_EQ(0u, queue_stats(kfd).registered);
	::close(p[0]);
	::close(p[1]);
}

// REMOVE racing delivery. Every registration has a unique cookie; it ends
// exactly once, either by a delivery flagged DONE (ONESHOT) or by a REMOVE
// that found it (DONE) — never both, never neither. Persistent ones are
// always found by their REMOVE and delivered at most once per READY.
//
//   maker: for each cookie c:                       remover: pop c (FIFO),
//     user c (ONESHOT or persistent):                 sometimes MODIFY first,
//       ADD, READY                          ──push──▶ REMOVE c
//     or pipe c (ONESHOT POLLIN on a free                removed[c]++ if found
//       pipe of 16): ADD, write 1 byte                   (pipe: drain, back to
//                                                         the free list)
//          \ READY / write                              /  REMOVE
//           v                                          v
//        +-----------------------------------------------+
//        |                   queue                       |
//        +-----------------------------------------------+
//           |            |             |
//        waiter0      waiter1      waiter2    get_events(min 1, max 8, NULL)
//                                              delivered[c]++, done[c]++ if DONE
//   end: ONESHOT: done[c] + removed[c] == 1; persistent: removed[c] == 1,
//        delivered[c] <= 1; nothing registered, nothing ready.
TEST_P(CtlConcurrency, RemoveRacingDeliveryIsDeliveredOnceBeforeOrNever) {
	constexpr unsigned kRegs = 6000, kPipes = 16, kWaiters = 3;
	std::vector<int> rd(kPipes), wr(kPipes);
	for (unsigned i = 0; i < kPipes; i++) {
		int p[2];
		ASSERT_EQ(0, ::pipe2(p, O_CLOEXEC | O_NONBLOCK));
		rd[i] = p[0];
		wr[i] = p[1];
	}
	auto delivered = std::make_unique<std::atomic<unsigned>[]>(kRegs);
	auto done = std::make_unique<std::atomic<unsigned>[]>(kRegs);
	auto removed = std::make_unique<std::atomic<unsigned>[]>(kRegs);
	for (unsigned i = 0; i < kRegs; i++)
		delivered[i] = done[i] = removed[i] = 0;
	// cookie -> what it is: 0 user ONESHOT, 1 user persistent, 2 + pipe index
	std::vector<unsigned> kind(kRegs);
	for (unsigned c = 0; c < kRegs; c++)
		kind[c] = c % 3 == 0 ? 1 : (c % 3 == 1 ? 0 : 2);

	std::atomic<int> running{kWaiters};
	std::atomic<unsigned> bad{0}, ctl_bad{0};
	std::atomic<bool> stop{false};
	std::vector<std::thread> waiters;
	for (unsigned w = 0; w < kWaiters; w++) {
		waiters.emplace_back([&] {
			ukevent buf[8];
			while (!stop.load()) {
				int n = kevent_get_events(kfd, 1, 8, nullptr, buf, 0);
				if (n < 0) {
					bad++;
					break;
				}
				for (int i = 0; i < n; i++) {
					uint64_t c = kevent_test::cookie_of(buf[i]);
					if (c >= kRegs || (buf[i].ret_flags & KEVENT_RET_BROKEN)) {
						bad++;
						continue;
					}
					delivered[c]++;
					if (buf[i].ret_flags & KEVENT_RET_DONE)
						done[c]++;
				}
			}
			running--;
		});
	}

	std::mutex mu;
	std::deque<std::pair<unsigned, int>> handed; // cookie, pipe index or -1
	std::vector<int> free_pipes;
	for (unsigned i = 0; i < kPipes; i++)
		free_pipes.push_back(static_cast<int>(i));
	std::atomic<bool> made_all{false};

	std::thread maker([&] {
		for (unsigned c = 0; c < kRegs; c++) {
			int pi = -1;
			if (kind[c] == 2) {
				for (;;) {
					{
						std::lock_guard lk(mu);
						if (!free_pipes.empty()) {
							pi = free_pipes.back();
							free_pipes.pop_back();
							break;
						}
					}
					std::this_thread::yield();
				}
				ukevent a = make(KEVENT_POLL, static_cast<uint32_t>(rd[pi]), POLLIN,
						 KEVENT_REQ_ONESHOT, c);
				if (kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &a) != 0)
					ctl_bad++;
				char x = 'x';
				if (::write(wr[pi], &x, 1) != 1)
					ctl_bad++;
			} else {
				unsigned rf = kind[c] == 0 ? KEVENT_REQ_ONESHOT : 0;
				ukevent a = make(KEVENT_UNOTIFY, c, 0, rf, c);
				if (kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &a) != 0)
					ctl_bad++;
				ukevent r = make(KEVENT_UNOTIFY, c, 0);
				if (kevent_ctl(kfd, KEVENT_CTL_READY, 1, &r) != 1)
					ctl_bad++; // not delivered yet: still registered
			}
			std::lock_guard lk(mu);
			handed.emplace_back(c, pi);
		}
		made_all = true;
	});

	std::thread remover([&] {
		rng r(7);
		for (unsigned count = 0; count < kRegs;) {
			std::pair<unsigned, int> item;
			{
				std::unique_lock lk(mu);
				if (handed.empty()) {
					lk.unlock();
					std::this_thread::yield();
					continue;
				}
				item = handed.front();
				handed.pop_front();
			}
			count++;
			auto [c, pi] = item;
			// A short, varying head start for the waiters.
			for (unsigned spin = r.below(64); spin; spin--)
				std::atomic_signal_fence(std::memory_order_seq_cst);
			ukevent e;
			if (pi >= 0) {
				e = make(KEVENT_POLL, static_cast<uint32_t>(rd[pi]), 0);
			} else {
				e = make(KEVENT_UNOTIFY, c, 0);
				if (r.below(4) == 0) { // MODIFY first: same cookie
					ukevent m = make(KEVENT_UNOTIFY, c, 5,
							 kind[c] == 0 ? KEVENT_REQ_ONESHOT : 0, c);
					kevent_ctl(kfd, KEVENT_CTL_MODIFY, 1, &m);
				}
			}
			if (kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &e) != 0) {
				ctl_bad++;
			} else if (e.ret_flags == KEVENT_RET_DONE) {
				removed[c]++;
			} else if (e.ret_flags != (KEVENT_RET_BROKEN | KEVENT_RET_DONE) ||
				   e.ret_data[1] != static_cast<uint32_t>(-ENOENT)) {
				ctl_bad++;
			}
			if (pi >= 0) {
				char buf[16];
				while (::read(rd[pi], buf, sizeof buf) > 0) {
				}
				std::lock_guard lk(mu);
				free_pipes.push_back(pi);
			}
		}
	});
	maker.join();
	remover.join();

	// Each ONESHOT registration ends once; wait for late deliveries.
	auto settled = [&] {
		for (unsigned c = 0; c < kRegs; c++)
			if (kind[c] != 1 && done[c].load() + removed[c].load() == 0)
				return false;
		return true;
	};
	EXPECT_TRUE(wait_until(settled, milliseconds(10000)));
	std::this_thread::sleep_for(milliseconds(20));
	stop = true;
	release_waiters(kfd, running);
	for (auto &t : waiters)
		t.join();

	EXPECT_EQ(0u, bad.load()) << "unknown or BROKEN delivery";
	EXPECT_EQ(0u, ctl_bad.load()) << "a ctl call failed unexpectedly";
	unsigned before = 0, never = 0, wrong = 0;
	for (unsigned c = 0; c < kRegs; c++) {
		if (kind[c] == 1) {
			if (removed[c] != 1 || delivered[c] > 1 || done[c] != 0) {
				ADD_FAILURE() << "persistent cookie " << c << ": removed "
					      << removed[c] << ", delivered " << delivered[c]
					      << " (DONE " << done[c] << ")";
				if (++wrong > 10)
					break;
			}
			continue;
		}
		if (done[c] + removed[c] != 1 || delivered[c] != done[c]) {
			ADD_FAILURE() << (kind[c] == 0 ? "user" : "pipe") << " ONESHOT cookie " << c
				      << ": delivered " << delivered[c] << " (DONE " << done[c]
				      << "), REMOVE found it " << removed[c] << " times";
			if (++wrong > 10)
				break;
		}
		before += done[c] == 1;
		never += removed[c] == 1;
	}
	std::printf("[ stats    ] ONESHOT: %u delivered before their REMOVE, %u removed "
		    "undelivered\n",
		    before, never);
	kevent_stats st = queue_stats(kfd);
	EXPECT_EQ(0u, st.registered);
	EXPECT_EQ(0u, st.ready);
	for (unsigned i = 0; i < kPipes; i++) {
		::close(rd[i]);
		::close(wr[i]);
	}
}

// Several threads READY and MODIFY the same persistent kevents while one
// REMOVEs them and waiters take them: after the REMOVE returns, READY no
// longer finds the kevent and nothing of it is left on the ready list.
//
//   readier0, readier1: READY ids 0..63 in a loop (not-found is fine later)
//   modifier:           MODIFY ids 0..63 in a loop (same cookie)
//   remover:            after 50 ms, REMOVE id 0, 1, ... 63, one per ms;
//                       checks READY of a removed id is "not found"
//   waiter0, waiter1:   get_events(min 1, max 16, NULL)
//   end: registered == 0, ready == 0, every delivery had a known id
TEST_P(CtlConcurrency, ReadyModifyRemoveOnTheSameKevents) {
	constexpr unsigned kIds = 64;
	std::vector<ukevent> adds;
	for (unsigned id = 0; id < kIds; id++)
		adds.push_back(make(KEVENT_UNOTIFY, id, 0, 0, id));
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, kIds, adds.data()));
	std::atomic<int> running{2};
	std::atomic<bool> stop{false}, stop_ctl{false};
	std::atomic<unsigned> bad{0}, delivered{0}, ready_after_remove{0};
	std::vector<std::thread> ts;
	for (int w = 0; w < 2; w++) {
		ts.emplace_back([&] {
			ukevent buf[16];
			while (!stop.load()) {
				int n = kevent_get_events(kfd, 1, 16, nullptr, buf, 0);
				if (n < 0) {
					bad++;
					break;
				}
				for (int i = 0; i < n; i++) {
					if (buf[i].id.raw_u64 >= kIds ||
					    kevent_test::cookie_of(buf[i]) != buf[i].id.raw_u64)
						bad++;
					delivered++;
				}
			}
			running--;
		});
	}
	std::vector<std::thread> ctl;
	for (int r = 0; r < 2; r++) {
		ctl.emplace_back([&, r] {
			for (unsigned i = r; !stop_ctl.load(); i++) {
				ukevent e = make(KEVENT_UNOTIFY, i % kIds, 0);
				e.ret_data[0] = i;
				kevent_ctl(kfd, KEVENT_CTL_READY, 1, &e);
			}
		});
	}
	ctl.emplace_back([&] {
		for (unsigned i = 0; !stop_ctl.load(); i++) {
			ukevent e = make(KEVENT_UNOTIFY, i % kIds, i & 7, 0, i % kIds);
			kevent_ctl(kfd, KEVENT_CTL_MODIFY, 1, &e);
		}
	});
	std::this_thread::sleep_for(milliseconds(50));
	for (unsigned id = 0; id < kIds; id++) {
		ukevent e = make(KEVENT_UNOTIFY, id, 0);
		ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &e));
		EXPECT_EQ(KEVENT_RET_DONE, e.ret_flags) << "id " << id;
		ukevent again = make(KEVENT_UNOTIFY, id, 0);
		if (kevent_ctl(kfd, KEVENT_CTL_READY, 1, &again) != 0)
			ready_after_remove++;
		std::this_thread::sleep_for(milliseconds(1));
	}
	stop_ctl = true;
	for (auto &t : ctl)
		t.join();
	kevent_stats st = queue_stats(kfd);
	EXPECT_EQ(0u, st.registered);
	EXPECT_EQ(0u, st.ready);
	stop = true;
	release_waiters(kfd, running);
	for (auto &t : ts)
		t.join();
	EXPECT_EQ(0u, bad.load());
	EXPECT_EQ(0u, ready_after_remove.load()) << "READY found a removed kevent";
	EXPECT_GT(delivered.load(), 0u);
	std::printf("[ stats    ] %u deliveries while READY/MODIFY/REMOVE raced\n",
		    delivered.load());
}

} // namespace

KEVENT_INSTANTIATE_BACKENDS(CtlConcurrency);
