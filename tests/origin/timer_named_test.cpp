// SPDX-License-Identifier: MIT
// timer_named_test — KEVENT_TIMER_NAMED (kevent_timer(7)): id is the caller's
// name, the interval is ret_data of the ADD entry, so timers of one period
// live side by side in one queue; the argument checks that move from id to
// ret_data; ABSTIME (a named one-shot); MODIFY and REMOVE by name.
//
// Time is only ever bounded from below: a timer may fire late on a loaded
// machine, never early.
#include "origin_support.hpp"

#include <kevent/events.hpp>

#include <set>

namespace {

using namespace kevent_origin;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr unsigned named = KEVENT_TIMER_FIRED | KEVENT_TIMER_NAMED;

// A named timer: `name` in id, the interval { s, ns } in ret_data.
ukevent named_timer(uint64_t name, uint32_t sec, uint32_t nsec, unsigned req = 0,
		    unsigned event = named) {
	ukevent e = make(KEVENT_TIMER, name, event, req, name + 100);
	e.ret_data[0] = sec;
	e.ret_data[1] = nsec;
	return e;
}

class TimerNamed : public QueueTest {
protected:
	void expect_add_fails(ukevent e, int err) {
		ASSERT_EQ(1, add(e)) << describe(e);
		EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, e.ret_flags) << describe(e);
		EXPECT_EQ(-err, err_of(e)) << describe(e);
		EXPECT_EQ(0u, queue_stats(kfd).registered);
	}
	int ctl(unsigned cmd, ukevent &e) { return kevent_ctl(kfd, cmd, 1, &e); }
};

TEST_P(TimerNamed, ThreeTimersOfOnePeriodLiveInOneQueue) {
	const auto start = steady_clock::now();
	for (uint64_t name : {1ull, 2ull, 0xfeedface12345678ull}) {
		ukevent e = named_timer(name, 0, 20 * 1000 * 1000);
		ASSERT_EQ(0, add(e)) << describe(e);
	}
	EXPECT_EQ(3u, queue_stats(kfd).registered);
	auto seen = collect(kfd, {101, 102, 0xfeedface12345678ull + 100});
	ASSERT_EQ(3u, seen.size());
	for (auto &[cookie, ev] : seen) {
		EXPECT_EQ(named, ev.event) << describe(ev);
		EXPECT_EQ(cookie - 100, ev.id.raw_u64) << "the name comes back in id";
		EXPECT_EQ(0u, ev.ret_flags) << "periodic: stays registered " << describe(ev);
		EXPECT_GE(ev.ret_data[0], 1u) << describe(ev);
		EXPECT_GE(steady_clock::now() - start, milliseconds(20) * ev.ret_data[0])
			<< "fired early: " << describe(ev);
	}
	EXPECT_EQ(3u, queue_stats(kfd).registered);
}

TEST_P(TimerNamed, PeriodicNamedTimerKeepsFiring) {
	ukevent e = named_timer(7, 0, 15 * 1000 * 1000);
	ASSERT_EQ(0, add(e)) << describe(e);
	for (int i = 0; i < 3; i++) {
		auto ev = get(kfd, 1, 8, 2000);
		ASSERT_EQ(1u, ev.size());
		EXPECT_EQ(7u, ev[0].id.raw_u64);
		EXPECT_GE(ev[0].ret_data[0], 1u);
	}
}

TEST_P(TimerNamed, TheSameNameTwiceIsEexist) {
	ukevent a = named_timer(5, 1, 0);
	ASSERT_EQ(0, add(a)) << describe(a);
	ukevent b = named_timer(5, 2, 0);
	ASSERT_EQ(1, add(b));
	EXPECT_EQ(-EEXIST, err_of(b)) << describe(b);
	EXPECT_EQ(1u, queue_stats(kfd).registered);
}

TEST_P(TimerNamed, ANameIsAnyValueAndAKeyedTimerOfOtherIntervalCoexists) {
	// A name that read as an interval would be invalid (raw[1] >= 1e9).
	ukevent a = named_timer(0xffffffffffffffffull, 1, 0);
	ASSERT_EQ(0, add(a)) << describe(a);
	ukevent k = make(KEVENT_TIMER, timer_id(1000), KEVENT_TIMER_FIRED);
	ASSERT_EQ(0, add(k)) << describe(k);
	EXPECT_EQ(2u, queue_stats(kfd).registered);
}

TEST_P(TimerNamed, BadIntervalInRetDataIsEinval) {
	expect_add_fails(named_timer(1, 0, 1000000000u), EINVAL);
	expect_add_fails(named_timer(1, 0, 0), EINVAL); // periodic of period 0
	expect_add_fails(named_timer(1, 0, 0, 0, named | 0x1000), EINVAL);
	// With ABSTIME there is no interval: a periodic one is refused.
	expect_add_fails(named_timer(1, 1, 0, 0, named | KEVENT_TIMER_ABSTIME), EINVAL);
	expect_add_fails(named_timer(1, 1, 1000000000u, KEVENT_REQ_ONESHOT,
				     named | KEVENT_TIMER_ABSTIME),
			 EINVAL);
}

TEST_P(TimerNamed, ZeroIntervalOneshotIsReadyAtAdd) {
	ukevent e = named_timer(9, 0, 0, KEVENT_REQ_ONESHOT);
	ASSERT_EQ(1, add(e)) << describe(e);
	EXPECT_EQ(KEVENT_RET_DONE, e.ret_flags) << describe(e);
	EXPECT_EQ(9u, e.id.raw_u64);
	EXPECT_GE(e.ret_data[0], 1u) << describe(e);
	EXPECT_EQ(0u, queue_stats(kfd).registered);
}

TEST_P(TimerNamed, AbstimeOneshotFiresNoEarlierThanTheGivenTime) {
	timespec now{};
	::clock_gettime(CLOCK_MONOTONIC, &now);
	const int64_t target_ns = int64_t(now.tv_sec) * 1000000000 + now.tv_nsec + 30000000;
	ukevent e = named_timer(3, static_cast<uint32_t>(target_ns / 1000000000),
				static_cast<uint32_t>(target_ns % 1000000000), KEVENT_REQ_ONESHOT,
				named | KEVENT_TIMER_ABSTIME);
	ASSERT_EQ(0, add(e)) << "fired at ADD, 30 ms early: " << describe(e);
	auto ev = get(kfd, 1, 8, 2000);
	::clock_gettime(CLOCK_MONOTONIC, &now);
	ASSERT_EQ(1u, ev.size());
	EXPECT_EQ(3u, ev[0].id.raw_u64);
	EXPECT_EQ(KEVENT_RET_DONE, ev[0].ret_flags) << describe(ev[0]);
	EXPECT_GE(int64_t(now.tv_sec) * 1000000000 + now.tv_nsec, target_ns);
}

TEST_P(TimerNamed, ModifyIgnoresRetDataAndCannotMakeAOneshotPeriodic) {
	ukevent e = named_timer(4, 10, 0);
	ASSERT_EQ(0, add(e)) << describe(e);
	ukevent m = named_timer(4, 0, 1000000000u, KEVENT_REQ_LEVEL); // ret_data means nothing
	ASSERT_EQ(0, ctl(KEVENT_CTL_MODIFY, m)) << describe(m);
	EXPECT_EQ(KEVENT_RET_DONE, m.ret_flags) << describe(m);
	ukevent other = named_timer(4, 10, 0, 0, KEVENT_TIMER_FIRED); // event bits differ
	ASSERT_EQ(0, ctl(KEVENT_CTL_MODIFY, other)); // MODIFY marks the entry, returns 0
	EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, other.ret_flags) << describe(other);
	EXPECT_EQ(-EINVAL, err_of(other)) << describe(other);

	ukevent o = named_timer(6, 10, 0, KEVENT_REQ_ONESHOT);
	ASSERT_EQ(0, add(o)) << describe(o);
	ukevent p = named_timer(6, 10, 0);
	ASSERT_EQ(0, ctl(KEVENT_CTL_MODIFY, p));
	EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, p.ret_flags) << describe(p);
	EXPECT_EQ(-EINVAL, err_of(p)) << describe(p);
	EXPECT_EQ(2u, queue_stats(kfd).registered);
}

TEST_P(TimerNamed, RemoveByNameStopsOnlyThatTimer) {
	ukevent a = named_timer(1, 0, 20 * 1000 * 1000);
	ukevent b = named_timer(2, 0, 20 * 1000 * 1000);
	ASSERT_EQ(0, add(a));
	ASSERT_EQ(0, add(b));
	ukevent r = make(KEVENT_TIMER, 1, named);
	ASSERT_EQ(0, ctl(KEVENT_CTL_REMOVE, r));
	EXPECT_EQ(KEVENT_RET_DONE, r.ret_flags) << describe(r);
	std::set<uint64_t> names;
	for (int i = 0; i < 3; i++)
		for (const ukevent &ev : get(kfd, 1, 8, 2000))
			names.insert(ev.id.raw_u64);
	EXPECT_EQ(std::set<uint64_t>{2}, names);
	EXPECT_EQ(1u, queue_stats(kfd).registered);
}

TEST_P(TimerNamed, TheCxxBuilderMakesANamedTimer) {
	using namespace std::chrono_literals;
	ukevent a = kevent::named_timer_event(42, 15ms).cookie(1);
	ukevent b = kevent::named_timer_event(43, 15ms).cookie(2);
	ASSERT_EQ(0, add(a)) << describe(a);
	ASSERT_EQ(0, add(b)) << describe(b);
	auto seen = collect(kfd, {1, 2});
	ASSERT_EQ(2u, seen.size());
	EXPECT_EQ(42u, seen[1].id.raw_u64);
	EXPECT_EQ(43u, seen[2].id.raw_u64);
}

TEST_P(TimerNamed, UkeventStrShowsTheName) {
	ukevent e = named_timer(77, 1, 0);
	char buf[200];
	kevent_ukevent_str(&e, buf, sizeof buf);
	EXPECT_NE(nullptr, std::strstr(buf, "name=77")) << buf;
	EXPECT_NE(nullptr, std::strstr(buf, "NAMED")) << buf;
}

KEVENT_INSTANTIATE_BACKENDS(TimerNamed);

} // namespace
