// SPDX-License-Identifier: MIT
// timer_test — the TIMER origin: the common contract (origin_contract.hpp) and
// kevent_timer(7): a periodic interval from id (raw[0] s, raw[1] ns),
// ONESHOT, coalesced expirations in ret_data[0], argument checks, clocks,
// an absolute first expiry, REMOVE, and 100,000 timers in one queue.
//
// Time is only ever bounded from below: a timer may fire late on a loaded
// machine, never early.
#include "origin_contract.hpp"

#include <algorithm>

namespace {

using namespace kevent_origin;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

uint64_t timer_ns(uint32_t sec, uint32_t nsec) {
	kevent_id id{};
	id.raw[0] = sec;
	id.raw[1] = nsec;
	return id.raw_u64;
}

timespec clock_now(clockid_t c) {
	timespec t{};
	::clock_gettime(c, &t);
	return t;
}

timespec plus_ms(timespec t, long msec) {
	t.tv_nsec += msec * 1000000L;
	t.tv_sec += t.tv_nsec / 1000000000L;
	t.tv_nsec %= 1000000000L;
	return t;
}

bool not_before(const timespec &a, const timespec &b) {
	return a.tv_sec > b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec >= b.tv_nsec);
}

// A periodic monotonic timer of 300 + n ms. trigger() sleeps until just past
// the next expiry, so right after a delivery there is most of an interval in
// which nothing may be reported.
class TimerTarget {
public:
	static constexpr unsigned type = KEVENT_TIMER;

	explicit TimerTarget(int n) : interval_(milliseconds(300 + n)) {}
	uint64_t id() const {
		return timer_ns(0,
				static_cast<uint32_t>(std::chrono::nanoseconds(interval_).count()));
	}
	unsigned event() const { return KEVENT_TIMER_FIRED; }
	void on_added() {
		t0_ = steady_clock::now();
		added_ = true;
	}
	void trigger(int) {
		auto now = steady_clock::now();
		auto next = now + interval_;
		if (added_) {
			auto k = (now - t0_) / interval_ + 1;
			next = t0_ + k * interval_;
		}
		std::this_thread::sleep_until(next + milliseconds(40));
	}
	void check_fired(const ukevent &e) const { EXPECT_GE(e.ret_data[0], 1u) << describe(e); }
	// Interval 0 + ONESHOT fires at once: the TIMER way of being ready at ADD.
	void make_ready_before_add(ukevent &e) {
		e.id.raw_u64 = 0;
		e.req_flags |= KEVENT_REQ_ONESHOT;
	}
	void check_ready_at_add(const ukevent &e) const {
		EXPECT_GE(e.ret_data[0], 1u) << describe(e);
	}

private:
	milliseconds interval_;
	steady_clock::time_point t0_{};
	bool added_ = false;
};

using TimerContract = Contract<TimerTarget>;
KEVENT_ORIGIN_CONTRACT(TimerContract)
KEVENT_INSTANTIATE_BACKENDS(TimerContract);

// ---- kevent_timer(7), the TIMER origin's own rules -----------------------------

class Timer : public QueueTest {
protected:
	static ukevent timer(uint64_t id, unsigned event = KEVENT_TIMER_FIRED, unsigned req = 0,
			     uint64_t cookie = 11) {
		return make(KEVENT_TIMER, id, event, req, cookie);
	}

	void add_armed(ukevent e) { ASSERT_EQ(0, add(e)) << describe(e); }

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
};

TEST_P(Timer, PeriodicTimerFiresEveryIntervalNeverEarly) {
	const auto start = steady_clock::now();
	add_armed(timer(timer_id(20)));
	uint64_t expirations = 0;
	for (int i = 0; i < 3; i++) {
		ukevent ev = one();
		EXPECT_EQ(KEVENT_TIMER_FIRED, ev.event);
		EXPECT_EQ(0u, ev.ret_flags)
			<< "a periodic timer stays registered: " << describe(ev);
		EXPECT_GE(ev.ret_data[0], 1u) << describe(ev);
		expirations += ev.ret_data[0];
		// k expirations cannot have happened before k intervals.
		EXPECT_GE(steady_clock::now() - start, milliseconds(20) * expirations);
	}
	EXPECT_EQ(1u, queue_stats(kfd).registered);
}

TEST_P(Timer, NanosecondIntervalFires) {
	add_armed(timer(timer_ns(0, 15 * 1000 * 1000 + 1)));
	ukevent ev = one();
	EXPECT_GE(ev.ret_data[0], 1u);
	EXPECT_EQ(timer_ns(0, 15 * 1000 * 1000 + 1), ev.id.raw_u64);
}

TEST_P(Timer, OneshotFiresOnceAndIsRemoved) {
	add_armed(timer(timer_id(20), KEVENT_TIMER_FIRED, KEVENT_REQ_ONESHOT));
	ukevent ev = one();
	EXPECT_EQ(KEVENT_RET_DONE, ev.ret_flags) << describe(ev);
	EXPECT_EQ(1u, ev.ret_data[0]) << describe(ev);
	EXPECT_EQ(0u, queue_stats(kfd).registered);
	EXPECT_TRUE(get(kfd, 1, 8, 100).empty());
	ukevent r = timer(timer_id(20));
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &r));
	EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, r.ret_flags) << describe(r);
}

TEST_P(Timer, ExpirationsAreCoalescedIntoOneEvent) {
	add_armed(timer(timer_id(10)));
	std::this_thread::sleep_for(milliseconds(105));
	auto ev = get(kfd, 1, 8, 0);
	ASSERT_EQ(1u, ev.size()) << describe(ev);
	EXPECT_GE(ev[0].ret_data[0], 5u) << "expirations since ADD: " << describe(ev[0]);
	EXPECT_EQ(0u, ev[0].ret_flags);
}

TEST_P(Timer, ExpirationCountRestartsAfterEachDelivery) {
	add_armed(timer(timer_id(10)));
	std::this_thread::sleep_for(milliseconds(105));
	const auto delivered = steady_clock::now(); // taken before the first harvest
	auto ev = get(kfd, 1, 8, 0);
	ASSERT_EQ(1u, ev.size());
	ev = get(kfd, 1, 8, 2000);
	ASSERT_EQ(1u, ev.size());
	// Only what expired since the first delivery is counted again.
	auto since =
		std::chrono::duration_cast<milliseconds>(steady_clock::now() - delivered).count();
	EXPECT_LE(ev[0].ret_data[0], static_cast<uint32_t>(since / 10 + 2)) << describe(ev[0]);
	EXPECT_GE(ev[0].ret_data[0], 1u);
}

TEST_P(Timer, RemoveStopsTheTimer) {
	add_armed(timer(timer_id(20)));
	EXPECT_EQ(0u, one().ret_flags);
	ukevent r = timer(timer_id(20));
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &r));
	EXPECT_EQ(KEVENT_RET_DONE, r.ret_flags) << describe(r);
	EXPECT_TRUE(get(kfd, 1, 8, 150).empty()) << "a removed timer fired";
	EXPECT_EQ(0u, queue_stats(kfd).registered);
}

TEST_P(Timer, NanosecondsOfOneSecondOrMoreAreEinval) {
	expect_add_fails(timer(timer_ns(0, 1000000000u)), EINVAL);
	expect_add_fails(timer(timer_ns(1, 0xffffffffu)), EINVAL);
	expect_add_fails(timer(timer_ns(0, 1000000000u), KEVENT_TIMER_FIRED, KEVENT_REQ_ONESHOT),
			 EINVAL);
}

TEST_P(Timer, ZeroIntervalWithoutOneshotIsEinval) {
	expect_add_fails(timer(0), EINVAL);
	expect_add_fails(timer(0, KEVENT_TIMER_FIRED, KEVENT_REQ_LEVEL), EINVAL);
}

TEST_P(Timer, ZeroIntervalOneshotIsReadyAtAdd) {
	ukevent e = timer(0, KEVENT_TIMER_FIRED, KEVENT_REQ_ONESHOT, 0xabcdef);
	ASSERT_EQ(1, add(e)) << describe(e);
	EXPECT_EQ(KEVENT_RET_DONE, e.ret_flags) << describe(e);
	EXPECT_GE(e.ret_data[0], 1u) << describe(e);
	EXPECT_EQ(0xabcdefu, cookie_of(e));
	EXPECT_EQ(0u, queue_stats(kfd).registered);
	EXPECT_TRUE(get(kfd, 1, 8, 50).empty());
}

TEST_P(Timer, BadEventBitsAreEinval) {
	expect_add_fails(timer(timer_id(20), 0), EINVAL);                           // no FIRED
	expect_add_fails(timer(timer_id(20), KEVENT_TIMER_REALTIME), EINVAL);       // no FIRED
	expect_add_fails(timer(timer_id(20), KEVENT_TIMER_FIRED | 0x2), EINVAL);    // unknown bit
	expect_add_fails(timer(timer_id(20), KEVENT_TIMER_FIRED | 0x1000), EINVAL); // unknown bit
	expect_add_fails(timer(timer_id(20),
			       KEVENT_TIMER_FIRED | KEVENT_TIMER_REALTIME | KEVENT_TIMER_BOOTTIME),
			 EINVAL); // two clocks
}

TEST_P(Timer, RealtimeClockFires) {
	add_armed(timer(timer_id(20), KEVENT_TIMER_FIRED | KEVENT_TIMER_REALTIME));
	ukevent ev = one();
	EXPECT_GE(ev.ret_data[0], 1u);
	EXPECT_EQ(KEVENT_TIMER_FIRED | KEVENT_TIMER_REALTIME, ev.event);
	EXPECT_EQ(0u, ev.ret_flags);
}

TEST_P(Timer, BoottimeClockFires) {
	add_armed(timer(timer_id(20), KEVENT_TIMER_FIRED | KEVENT_TIMER_BOOTTIME));
	ukevent ev = one();
	EXPECT_GE(ev.ret_data[0], 1u);
	EXPECT_EQ(KEVENT_TIMER_FIRED | KEVENT_TIMER_BOOTTIME, ev.event);
	EXPECT_EQ(0u, ev.ret_flags);
}

TEST_P(Timer, TheKeyIsTheIntervalWhateverTheClock) {
	add_armed(timer(timer_id(500)));
	ukevent e = timer(timer_id(500), KEVENT_TIMER_FIRED | KEVENT_TIMER_REALTIME);
	ASSERT_EQ(1, add(e));
	EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, e.ret_flags) << describe(e);
	EXPECT_EQ(-EEXIST, err_of(e));
}

// ABSTIME: the first expiry is { ret_data[0] s, ret_data[1] ns } on the clock.
void abstime_fires_no_earlier(int kfd, unsigned clock_bit, clockid_t clock) {
	const timespec target = plus_ms(clock_now(clock), 50);
	ukevent e = make(KEVENT_TIMER, 0, KEVENT_TIMER_FIRED | KEVENT_TIMER_ABSTIME | clock_bit,
			 KEVENT_REQ_ONESHOT, 1);
	e.ret_data[0] = static_cast<uint32_t>(target.tv_sec);
	e.ret_data[1] = static_cast<uint32_t>(target.tv_nsec);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &e))
		<< "fired at ADD, 50 ms early: " << describe(e);
	auto ev = get(kfd, 1, 8, 2000);
	const timespec now = clock_now(clock);
	ASSERT_EQ(1u, ev.size());
	EXPECT_EQ(KEVENT_RET_DONE, ev[0].ret_flags) << describe(ev[0]);
	EXPECT_TRUE(not_before(now, target))
		<< "fired before the absolute time: now " << now.tv_sec << "." << now.tv_nsec
		<< " < " << target.tv_sec << "." << target.tv_nsec;
	EXPECT_EQ(0u, queue_stats(kfd).registered);
}

TEST_P(Timer, AbstimeMonotonicFiresNoEarlierThanTheGivenTime) {
	abstime_fires_no_earlier(kfd, 0, CLOCK_MONOTONIC);
}

TEST_P(Timer, AbstimeRealtimeFiresNoEarlierThanTheGivenTime) {
	abstime_fires_no_earlier(kfd, KEVENT_TIMER_REALTIME, CLOCK_REALTIME);
}

TEST_P(Timer, AbstimeBoottimeFiresNoEarlierThanTheGivenTime) {
	abstime_fires_no_earlier(kfd, KEVENT_TIMER_BOOTTIME, CLOCK_BOOTTIME);
}

TEST_P(Timer, AbstimeInThePastIsReadyAtAdd) {
	const timespec now = clock_now(CLOCK_MONOTONIC);
	ukevent e = make(KEVENT_TIMER, 0, KEVENT_TIMER_FIRED | KEVENT_TIMER_ABSTIME,
			 KEVENT_REQ_ONESHOT, 1);
	e.ret_data[0] = static_cast<uint32_t>(now.tv_sec > 1 ? now.tv_sec - 1 : 0); // a second ago
	e.ret_data[1] = 0;
	ASSERT_EQ(1, add(e)) << describe(e);
	EXPECT_EQ(KEVENT_RET_DONE, e.ret_flags) << describe(e);
	EXPECT_EQ(0u, queue_stats(kfd).registered);
}

TEST_P(Timer, AbstimeWithAnIntervalRepeatsAfterTheFirstExpiry) {
	const timespec target = plus_ms(clock_now(CLOCK_MONOTONIC), 50);
	ukevent e =
		make(KEVENT_TIMER, timer_id(20), KEVENT_TIMER_FIRED | KEVENT_TIMER_ABSTIME, 0, 1);
	e.ret_data[0] = static_cast<uint32_t>(target.tv_sec);
	e.ret_data[1] = static_cast<uint32_t>(target.tv_nsec);
	ASSERT_EQ(0, add(e)) << describe(e);
	ukevent ev = one();
	EXPECT_TRUE(not_before(clock_now(CLOCK_MONOTONIC), target)) << "first expiry before the "
								       "absolute time";
	EXPECT_EQ(0u, ev.ret_flags) << describe(ev);
	ev = one();
	EXPECT_EQ(0u, ev.ret_flags) << describe(ev);
	EXPECT_TRUE(not_before(clock_now(CLOCK_MONOTONIC), plus_ms(target, 20)));
}

TEST_P(Timer, ExpiredTimersAreDeliveredInExpiryOrder) {
	for (long msec : {30L, 10L, 20L}) {
		ukevent e = timer(timer_id(msec), KEVENT_TIMER_FIRED, KEVENT_REQ_ONESHOT,
				  static_cast<uint64_t>(msec));
		ASSERT_EQ(0, add(e)) << describe(e);
	}
	std::this_thread::sleep_for(milliseconds(100));
	auto ev = get(kfd, 3, 8, 2000);
	ASSERT_EQ(3u, ev.size()) << describe(ev);
	EXPECT_EQ(10u, cookie_of(ev[0]));
	EXPECT_EQ(20u, cookie_of(ev[1]));
	EXPECT_EQ(30u, cookie_of(ev[2]));
}

TEST_P(Timer, HundredThousandTimersAddAndRemoveAndAShortOneStillFires) {
	constexpr uint32_t n = 100000;
	std::vector<ukevent> many(n);
	for (uint32_t i = 0; i < n; i++) // distinct intervals: 10 s + (i + 1) ns
		many[i] = timer(timer_ns(10, i + 1), KEVENT_TIMER_FIRED, 0, i);
	std::vector<ukevent> batch;
	for (uint32_t off = 0; off < n; off += 50000) {
		batch.assign(many.begin() + off, many.begin() + std::min(n, off + 50000));
		ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, static_cast<unsigned>(batch.size()),
					batch.data()))
			<< std::strerror(errno) << " " << describe(batch[0]);
	}
	EXPECT_EQ(n, queue_stats(kfd).registered);
	EXPECT_EQ(n, queue_stats(kfd).registered_by_type[KEVENT_TIMER]);

	ukevent shorty = timer(timer_id(20), KEVENT_TIMER_FIRED, KEVENT_REQ_ONESHOT, 0x5407);
	ASSERT_EQ(0, add(shorty)) << describe(shorty);
	auto ev = get(kfd, 1, 8, 2000);
	ASSERT_EQ(1u, ev.size()) << describe(ev);
	EXPECT_EQ(0x5407u, cookie_of(ev[0]));
	EXPECT_EQ(KEVENT_RET_DONE, ev[0].ret_flags);

	for (uint32_t off = 0; off < n; off += 50000) {
		batch.assign(many.begin() + off, many.begin() + std::min(n, off + 50000));
		ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, static_cast<unsigned>(batch.size()),
					batch.data()));
		size_t not_done = 0;
		for (const auto &uk : batch)
			not_done += uk.ret_flags != KEVENT_RET_DONE;
		EXPECT_EQ(0u, not_done) << "first: " << describe(batch[0]);
	}
	EXPECT_EQ(0u, queue_stats(kfd).registered);
	EXPECT_TRUE(get(kfd, 1, 8, 0).empty());
}

KEVENT_INSTANTIATE_BACKENDS(Timer);

} // namespace
