// SPDX-License-Identifier: MIT
// thread_safety_test.cpp — the rules of kevent(7) "Threads" and
// docs/semantics.md "Threads": kevent_get_events from several threads at once
// and kevent_ctl from any thread at any time; each ready event goes to
// exactly one caller and none is lost. Baseline checks with the C ABI only
// (the heavier stress is stress_test.cpp beside it).
//
// Waiters block with a NULL timeout, so a lost wake-up is not papered over
// by a timeout retry: it shows as a stall and the test fails at its deadline.
// At the end the waiters are released with READY num=0.
#include "kevent_test.hpp"
#include "threads_support.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

using kevent_test::get;
using kevent_test::make;
using kevent_test::queue_stats;
using kevent_threads::release_waiters;
using kevent_threads::wait_until;
using std::chrono::milliseconds;

namespace {

constexpr uint64_t kCookieXor = 0xc0c0c0c0c0c0ull;

} // namespace

class ThreadSafety : public kevent_test::QueueTest {};

// 4 waiters harvest 10,000 ONESHOT user events that 2 adders register ready
// (REQ_READY|ALWAYS_QUEUE: queued, never copied back). Every id must arrive
// exactly once, flagged DONE, with its own cookie; nothing stays registered.
//
//   adder A (ids 0..4999)      adder B (ids 5000..9999)
//     ADD batches of 1/7/32/64   ADD batches of 1/7/32/64
//            \                       /
//             v                     v
//          +-------------------------+
//          |        queue kfd        |
//          +-------------------------+
//           |      |       |       |
//           v      v       v       v
//        waiter0 waiter1 waiter2 waiter3   get_events(min 1, max 32, NULL timeout)
//                                          count[id]++ per delivered event
//   main: wait until 10,000 delivered (30 s), then READY num=0 releases the waiters
TEST_P(ThreadSafety, ConcurrentWaitersAndAddersDeliverEveryIdExactlyOnce) {
	constexpr unsigned kAdders = 2, kWaiters = 4, kTotal = 10000, kPerAdder = kTotal / kAdders;
	auto count = std::make_unique<std::atomic<int>[]>(kTotal);
	for (unsigned i = 0; i < kTotal; i++)
		count[i] = 0;
	std::atomic<unsigned> delivered{0}, bad_events{0}, bad_adds{0};
	std::atomic<bool> stop{false};
	std::atomic<int> running{static_cast<int>(kWaiters)};

	std::vector<std::thread> waiters;
	for (unsigned w = 0; w < kWaiters; w++) {
		waiters.emplace_back([&] {
			ukevent buf[32];
			while (!stop.load()) {
				int n = kevent_get_events(kfd, 1, 32, nullptr, buf, 0);
				if (n < 0) {
					bad_events++;
					break;
				}
				for (int i = 0; i < n; i++) {
					const ukevent &e = buf[i];
					uint64_t id = e.id.raw_u64;
					if (id >= kTotal || e.type != KEVENT_UNOTIFY ||
					    e.ret_flags != KEVENT_RET_DONE ||
					    kevent_test::cookie_of(e) != (id ^ kCookieXor)) {
						bad_events++;
						continue;
					}
					count[id]++;
					delivered++;
				}
			}
			running--;
		});
	}

	std::vector<std::thread> adders;
	for (unsigned a = 0; a < kAdders; a++) {
		adders.emplace_back([&, a] {
			const unsigned sizes[] = {1, 7, 32, 64};
			unsigned next = a * kPerAdder, end = next + kPerAdder, round = 0;
			std::vector<ukevent> batch;
			while (next < end) {
				unsigned n = std::min(sizes[round++ % 4], end - next);
				batch.clear();
				for (unsigned i = 0; i < n; i++, next++)
					batch.push_back(make(KEVENT_UNOTIFY, next, 0,
							     KEVENT_REQ_ONESHOT | KEVENT_REQ_READY |
								     KEVENT_REQ_ALWAYS_QUEUE,
							     next ^ kCookieXor));
				if (kevent_ctl(kfd, KEVENT_CTL_ADD, n, batch.data()) != 0)
					bad_adds++;
			}
		});
	}
	for (auto &t : adders)
		t.join();

	bool all = wait_until([&] { return delivered.load() >= kTotal; }, std::chrono::seconds(30));
	stop = true;
	release_waiters(kfd, running);
	for (auto &t : waiters)
		t.join();

	EXPECT_TRUE(all) << "only " << delivered.load() << " of " << kTotal << " delivered in 30 s";
	EXPECT_EQ(0u, bad_adds.load()) << "an ADD copied entries back or failed";
	EXPECT_EQ(0u, bad_events.load()) << "wrong entries delivered, or get_events failed";
	unsigned missing = 0, duplicated = 0;
	for (unsigned i = 0; i < kTotal; i++) {
		int c = count[i].load();
		missing += c == 0;
		duplicated += c > 1;
	}
	EXPECT_EQ(0u, missing);
	EXPECT_EQ(0u, duplicated);
	EXPECT_EQ(kTotal, delivered.load());
	kevent_stats st = queue_stats(kfd);
	EXPECT_EQ(0u, st.registered);
	EXPECT_EQ(0u, st.ready);
	EXPECT_EQ(0u, get(kfd, 0, 8, 0).size());
}

// One thread READYs 64 persistent user events, 100 rounds; 3 waiters with no
// timeout take them. The readier starts a round only when the previous one
// was fully delivered, so nothing coalesces and every READY must come out:
// exactly 100 deliveries per id. A wake-up lost on the way stalls a round.
//
//   readier                                waiter0  waiter1  waiter2
//   -------                                (get_events(min 1, max 8, NULL timeout))
//   for round in 0..99:
//     READY id 0, READY id 1, ... id 63  ──▶  take events, seen[id]++
//     wait until 64*(round+1) delivered  ◀──  delivered++
//   main: join readier; READY num=0 releases the waiters
TEST_P(ThreadSafety, OneReadierManyWaitersLoseNoEvent) {
	constexpr unsigned kIds = 64, kRounds = 100, kWaiters = 3;
	std::vector<ukevent> adds;
	for (unsigned id = 0; id < kIds; id++)
		adds.push_back(make(KEVENT_UNOTIFY, id, 0, 0, id ^ kCookieXor));
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, kIds, adds.data()));

	auto seen = std::make_unique<std::atomic<unsigned>[]>(kIds);
	for (unsigned i = 0; i < kIds; i++)
		seen[i] = 0;
	std::atomic<unsigned> delivered{0}, bad_events{0}, bad_ready{0};
	std::atomic<bool> stop{false};
	std::atomic<int> running{static_cast<int>(kWaiters)};
	std::atomic<int> stalled_round{-1};

	std::vector<std::thread> waiters;
	for (unsigned w = 0; w < kWaiters; w++) {
		waiters.emplace_back([&] {
			ukevent buf[8];
			while (!stop.load()) {
				int n = kevent_get_events(kfd, 1, 8, nullptr, buf, 0);
				if (n < 0) {
					bad_events++;
					break;
				}
				for (int i = 0; i < n; i++) {
					uint64_t id = buf[i].id.raw_u64;
					if (id >= kIds || buf[i].ret_flags != 0 ||
					    kevent_test::cookie_of(buf[i]) != (id ^ kCookieXor)) {
						bad_events++;
						continue;
					}
					seen[id]++;
					delivered++;
				}
			}
			running--;
		});
	}

	std::thread readier([&] {
		for (unsigned round = 0; round < kRounds; round++) {
			for (unsigned id = 0; id < kIds; id++) {
				ukevent r = make(KEVENT_UNOTIFY, id, 0);
				if (kevent_ctl(kfd, KEVENT_CTL_READY, 1, &r) != 1)
					bad_ready++;
			}
			const unsigned want = kIds * (round + 1);
			if (!wait_until([&] { return delivered.load() >= want; },
					std::chrono::seconds(10))) {
				stalled_round = static_cast<int>(round);
				return;
			}
		}
	});
	readier.join();
	stop = true;
	release_waiters(kfd, running);
	for (auto &t : waiters)
		t.join();

	EXPECT_EQ(-1, stalled_round.load())
		<< "round " << stalled_round.load()
		<< " stalled: ready events not delivered for 10 s (" << delivered.load()
		<< " delivered, " << queue_stats(kfd).ready << " still ready)";
	EXPECT_EQ(0u, bad_ready.load()) << "a READY did not find its kevent";
	EXPECT_EQ(0u, bad_events.load());
	EXPECT_EQ(kIds * kRounds, delivered.load());
	for (unsigned id = 0; id < kIds; id++)
		EXPECT_EQ(kRounds, seen[id].load()) << "id " << id;
	kevent_stats st = queue_stats(kfd);
	EXPECT_EQ(kIds, st.registered) << "persistent kevents must stay registered";
	EXPECT_EQ(0u, st.ready);
}

// Several threads READY one ONESHOT kevent at once: it is on the ready list
// at most once, so it is delivered once, and afterwards READY no longer
// finds it. 100 rounds, each with a fresh kevent.
//
//   readier0  readier1  readier2  readier3     (all released together)
//     READY k   READY k   READY k   READY k  ──▶  queue: k ready once
//   main: get_events → exactly one k (DONE); get_events(0) → nothing;
//         READY k → not found
TEST_P(ThreadSafety, ConcurrentReadyOfOneOneshotKeventDeliversItOnce) {
	constexpr int kReadiers = 4, kRounds = 100;
	for (int round = 0; round < kRounds; round++) {
		const uint64_t id = 1000 + round;
		ukevent uk = make(KEVENT_UNOTIFY, id, 0, KEVENT_REQ_ONESHOT, id);
		ASSERT_EQ(0, add(uk));
		std::atomic<int> go{0}, marked{0};
		std::vector<std::thread> readiers;
		for (int r = 0; r < kReadiers; r++) {
			readiers.emplace_back([&] {
				go++;
				while (go.load() < kReadiers)
					std::this_thread::yield();
				ukevent rd = make(KEVENT_UNOTIFY, id, 0);
				int n = kevent_ctl(kfd, KEVENT_CTL_READY, 1, &rd);
				if (n > 0)
					marked += n;
			});
		}
		for (auto &t : readiers)
			t.join();
		ASSERT_EQ(kReadiers, marked.load()) << "round " << round;
		auto got = get(kfd, 1, 8, 0);
		ASSERT_EQ(1u, got.size()) << "round " << round;
		EXPECT_EQ(id, got[0].id.raw_u64);
		EXPECT_EQ(KEVENT_RET_DONE, got[0].ret_flags);
		ASSERT_EQ(0u, get(kfd, 0, 8, 0).size()) << "round " << round << ": delivered twice";
		ukevent again = make(KEVENT_UNOTIFY, id, 0);
		ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_READY, 1, &again)) << "round " << round;
	}
	EXPECT_EQ(0u, queue_stats(kfd).registered);
}

// semantics.md "ADD — ready at add", the race: while waiters are blocked in
// the queue, an entry that is ready at ADD is either copied back by the ADD
// or delivered to a waiter — never both, never neither. POLL(POLLOUT) on the
// write ends of empty pipes is ready at once.
//
//   main (adder)                                waiter0  waiter1  waiter2
//   ------------                                (get_events(min 1, NULL timeout))
//   for round in 0..19:
//     ADD POLL/POLLOUT on 64 write ends,  ──▶   delivered[fd]++
//       batches of 8; copied[fd]++ for
//       each entry copied back DONE
//     wait until copied + delivered == 64
//     check copied[fd] + delivered[fd] == 1 for each fd
//     REMOVE all 64 (the copied-back ones are gone already)
//   main: READY num=0 releases the waiters
TEST_P(ThreadSafety, ReadyAtAddIsCopiedBackOrDeliveredNeverBothNeverNeither) {
	constexpr int kPipes = 64, kRounds = 20, kWaiters = 3, kBatch = 8;
	std::vector<int> rd(kPipes), wr(kPipes);
	int maxfd = 0;
	for (int i = 0; i < kPipes; i++) {
		int p[2];
		ASSERT_EQ(0, ::pipe2(p, O_CLOEXEC)) << std::strerror(errno);
		rd[i] = p[0];
		wr[i] = p[1];
		maxfd = std::max(maxfd, p[1]);
	}
	auto delivered = std::make_unique<std::atomic<int>[]>(maxfd + 1);
	for (int i = 0; i <= maxfd; i++)
		delivered[i] = 0;
	std::atomic<int> delivered_total{0}, bad_events{0};
	std::atomic<bool> stop{false};
	std::atomic<int> running{kWaiters};
	std::vector<std::thread> waiters;
	for (int w = 0; w < kWaiters; w++) {
		waiters.emplace_back([&] {
			ukevent buf[16];
			while (!stop.load()) {
				int n = kevent_get_events(kfd, 1, 16, nullptr, buf, 0);
				if (n < 0) {
					bad_events++;
					break;
				}
				for (int i = 0; i < n; i++) {
					uint32_t fd = buf[i].id.raw[0];
					if (buf[i].type != KEVENT_POLL ||
					    fd > static_cast<uint32_t>(maxfd) ||
					    (buf[i].ret_flags & KEVENT_RET_BROKEN)) {
						bad_events++;
						continue;
					}
					delivered[fd]++;
					delivered_total++;
				}
			}
			running--;
		});
	}

	int failures = 0, via_waiters = 0;
	for (int round = 0; round < kRounds && failures == 0; round++) {
		for (int i = 0; i <= maxfd; i++)
			delivered[i] = 0;
		delivered_total = 0;
		std::vector<int> copied(maxfd + 1, 0);
		int copied_total = 0;
		for (int b = 0; b < kPipes; b += kBatch) {
			std::vector<ukevent> v;
			for (int i = b; i < b + kBatch; i++)
				v.push_back(make(KEVENT_POLL, static_cast<uint32_t>(wr[i]), POLLOUT,
						 0, i));
			int n = kevent_ctl(kfd, KEVENT_CTL_ADD, kBatch, v.data());
			ASSERT_GE(n, 0) << std::strerror(errno);
			for (int i = 0; i < n; i++) {
				EXPECT_EQ(KEVENT_RET_DONE, v[i].ret_flags) << "round " << round;
				copied[v[i].id.raw[0]]++;
				copied_total++;
			}
		}
		bool all =
			wait_until([&] { return copied_total + delivered_total.load() >= kPipes; },
				   std::chrono::seconds(5));
		if (!all) {
			ADD_FAILURE() << "round " << round << ": " << copied_total
				      << " copied back + " << delivered_total.load()
				      << " delivered < " << kPipes << " (an entry was neither)";
			failures++;
		}
		via_waiters += delivered_total.load();
		// Give a late duplicate delivery a moment to show.
		std::this_thread::sleep_for(milliseconds(5));
		for (int i = 0; i < kPipes; i++) {
			int fd = wr[i];
			int both = copied[fd] + delivered[fd].load();
			if (both != 1) {
				ADD_FAILURE()
					<< "round " << round << " fd " << fd << ": copied back "
					<< copied[fd] << " times, delivered "
					<< delivered[fd].load() << " times";
				failures++;
			}
		}
		std::vector<ukevent> rms;
		for (int i = 0; i < kPipes; i++)
			rms.push_back(make(KEVENT_POLL, static_cast<uint32_t>(wr[i]), 0));
		ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, kPipes, rms.data()));
		ASSERT_EQ(0u, queue_stats(kfd).registered) << "round " << round;
	}
	stop = true;
	release_waiters(kfd, running);
	for (auto &t : waiters)
		t.join();
	RecordProperty("delivered_to_waiters", via_waiters);
	EXPECT_EQ(0, bad_events.load());
	for (int i = 0; i < kPipes; i++) {
		::close(rd[i]);
		::close(wr[i]);
	}
}

KEVENT_INSTANTIATE_BACKENDS(ThreadSafety);
