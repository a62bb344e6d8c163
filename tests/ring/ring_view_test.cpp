// SPDX-License-Identifier: MIT
// ring_view_test.cpp — the C++ ring view of kevent.hpp: kevent::ring_view on
// a ring in the caller's memory and on a shared ring, and
// kevent::ring_consumers with two consumer threads over 100,000 events.
#include "ring_fixture.hpp"

#include <kevent/kevent.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <system_error>
#include <thread>

namespace {

using namespace kevent_ring_test;

// ---- the C++ ring view --------------------------------------------------------

TEST_P(RingTest, RingViewSingleConsumer) {
	use_ring(5);
	add_users(8);
	kevent::ring_view rv(kfd, ring, size);
	EXPECT_TRUE(rv.entries().empty());
	for (unsigned i = 0; i < 7; i++)
		ready(i + 1, i);
	EXPECT_EQ(5u, rv.wait(100, std::chrono::nanoseconds(0))); // num clamped to size
	auto e = rv.entries();
	ASSERT_EQ(5u, e.size()); // full (kidx == uidx) is told from empty
	uint32_t want = 0;
	for (const ukevent &ev : e)
		EXPECT_EQ(want++, ev.ret_data[0]);
	EXPECT_EQ(5u, rv.commit_all()); // two commits inside
	EXPECT_EQ(1u, rv.over());
	EXPECT_EQ(1u, rv.published_over());
	EXPECT_EQ(0u, rv.uidx());
	std::error_code ec;
	EXPECT_EQ(0u, rv.commit(1, ec));
	EXPECT_EQ(std::errc::invalid_argument, ec);
	EXPECT_THROW(rv.commit(1), std::system_error);

	// Many laps with random commit sizes.
	std::deque<uint64_t> idle;
	for (const ukevent &ev : e)
		idle.push_back(ev.id.raw_u64);
	idle.push_back(8);
	std::mt19937 rng(7);
	uint64_t readied = 7, seen = 5;
	while (rv.position() < 5000) {
		while (!idle.empty()) {
			ASSERT_NO_FATAL_FAILURE(ready(idle.front(), uint32_t(readied++)));
			idle.pop_front();
		}
		rv.wait(1 + unsigned(rng() % 5), std::chrono::nanoseconds(0));
		auto r = rv.entries();
		for (auto it = r.begin(); it != r.end(); ++it) {
			ASSERT_EQ(it.position(), it->ret_data[0]);
			if (it.position() >= seen) {
				idle.push_back(it->id.raw_u64);
				seen = it.position() + 1;
			}
		}
		if (!r.empty())
			rv.commit(rng() % 3 == 0 ? r.size() : 1 + rng() % r.size());
		ASSERT_EQ(rv.over(), rv.published_over());
		ASSERT_EQ(rv.over(), over());
	}
}

TEST_P(RingTest, RingViewOfASharedRing) {
	ASSERT_EQ(0, kevent_close(kfd));
	kfd = kevent_init(nullptr, 6, GetParam().flags | KEVENT_INIT_SHARED_RING);
	ASSERT_GE(kfd, 0);
	add_users(3);
	auto rv = kevent::ring_view::map_shared(kfd);
	EXPECT_EQ(6u, rv.size());
	for (unsigned i = 0; i < 3; i++)
		ready(i + 1, i);
	EXPECT_EQ(3u, rv.wait(6, std::nullopt));
	EXPECT_EQ(3u, rv.entries().size());
	EXPECT_EQ(2u, rv.entries()[2].ret_data[0]);
	EXPECT_EQ(3u, rv.commit_all());
	std::error_code ec;
	auto none = kevent::ring_view::map_shared(-1, ec);
	EXPECT_EQ(std::errc::bad_file_descriptor, ec);
}

// Two consumer threads, 100,000 events, kevent::ring_consumers: every event
// seen exactly once, at the position it was made ready in.
TEST_P(RingTest, TwoConsumersHundredThousandEvents) {
	constexpr uint64_t total = 100000;
	constexpr unsigned users = 64;
	use_ring(16);
	add_users(users);
	kevent::ring_consumers rc(kfd, ring, size);

	std::mutex mu;
	std::condition_variable cv;
	std::deque<uint64_t> idle;
	for (unsigned i = 1; i <= users; i++)
		idle.push_back(i);
	std::atomic<uint64_t> consumed{0};
	std::atomic<bool> bad{false};

	std::thread producer([&] {
		for (uint64_t seq = 0; seq < total; seq++) {
			uint64_t id;
			{
				std::unique_lock lk(mu);
				cv.wait(lk, [&] { return !idle.empty() || bad; });
				if (bad)
					return;
				id = idle.front();
				idle.pop_front();
			}
			ukevent uk = make(KEVENT_UNOTIFY, id, 0);
			uk.ret_data[0] = uint32_t(seq);
			if (kevent_ctl(kfd, KEVENT_CTL_READY, 1, &uk) != 1)
				bad = true;
		}
	});
	std::vector<uint64_t> seen[2];
	std::string why[2];
	auto consumer = [&](int me) {
		std::mt19937 rng(me);
		std::vector<uint64_t> ids;
		while (consumed.load() < total && !bad) {
			auto r = rc.claim(1 + rng() % 6);
			if (r.empty()) {
				std::error_code ec;
				rc.wait(8, std::chrono::milliseconds(20), ec);
				if (ec) {
					why[me] = "wait: " + ec.message();
					bad = true;
				}
				continue;
			}
			ids.clear();
			for (auto it = r.begin(); it != r.end(); ++it) {
				if (it->ret_data[0] != uint32_t(it.position())) {
					why[me] = "position " + std::to_string(it.position()) +
						  " holds " + std::to_string(it->ret_data[0]);
					bad = true;
				}
				seen[me].push_back(it->ret_data[0]);
				ids.push_back(it->id.raw_u64);
			}
			std::error_code ec;
			rc.release(r, ec);
			if (ec) {
				why[me] = "release: " + ec.message();
				bad = true;
			}
			{
				std::lock_guard lk(mu);
				idle.insert(idle.end(), ids.begin(), ids.end());
			}
			cv.notify_one();
			consumed += r.size();
		}
		cv.notify_all();
	};
	std::thread c0(consumer, 0), c1(consumer, 1);
	c0.join();
	c1.join();
	{
		std::lock_guard lk(mu);
		bad = bad || consumed != total;
	}
	cv.notify_all();
	producer.join();
	ASSERT_FALSE(bad) << why[0] << why[1] << " consumed " << consumed;

	std::vector<uint64_t> all(seen[0]);
	all.insert(all.end(), seen[1].begin(), seen[1].end());
	std::sort(all.begin(), all.end());
	ASSERT_EQ(total, all.size());
	for (uint64_t i = 0; i < total; i++)
		ASSERT_EQ(i, all[i]) << "seen twice or never";
	EXPECT_GT(seen[0].size(), 0u);
	EXPECT_GT(seen[1].size(), 0u);
	EXPECT_EQ(total, rc.released());
	EXPECT_EQ(total / 16, over());
	EXPECT_EQ(total % 16, kidx());
	std::printf("consumer 0 took %zu events, consumer 1 %zu\n", seen[0].size(), seen[1].size());
}

KEVENT_INSTANTIATE_BACKENDS(RingTest);

} // namespace
