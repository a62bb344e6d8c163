// SPDX-License-Identifier: MIT
// Limits (issue 8, part 4): a jump of CLOCK_REALTIME. A REALTIME timer with
// an absolute expiry is a wall-clock date: setting the clock past it makes
// it fire at once (timerfd with TFD_TIMER_ABSTIME follows clock_settime).
// Needs CAP_SYS_TIME; without it the case is skipped with the reason. The
// clock is put back (forward by the time spent) whatever happens.
#include "kevent_test.hpp"

namespace {

using namespace kevent_test;

class ClockJump : public QueueTest {};

int64_t now(clockid_t c) {
	timespec t{};
	clock_gettime(c, &t);
	return int64_t(t.tv_sec) * 1000000000 + t.tv_nsec;
}

timespec to_ts(int64_t ns) { return timespec{time_t(ns / 1000000000), long(ns % 1000000000)}; }

TEST_P(ClockJump, RealtimeAbsoluteTimerFiresWhenTheClockPassesIt) {
	constexpr int64_t jump = 60LL * 1000000000; // one minute
	int64_t wall = now(CLOCK_REALTIME), mono = now(CLOCK_MONOTONIC);
	ukevent t = make(KEVENT_TIMER, 0,
			 KEVENT_TIMER_FIRED | KEVENT_TIMER_ABSTIME | KEVENT_TIMER_REALTIME,
			 KEVENT_REQ_ONESHOT, 11);
	int64_t at = wall + jump / 2;
	t.ret_data[0] = uint32_t(at / 1000000000);
	t.ret_data[1] = uint32_t(at % 1000000000);
	ASSERT_EQ(0, add(t));
	EXPECT_TRUE(get(kfd, 0, 2, 50).empty()) << "fired before its time";

	timespec ahead = to_ts(now(CLOCK_REALTIME) + jump);
	if (clock_settime(CLOCK_REALTIME, &ahead) != 0)
		GTEST_SKIP() << "cannot set CLOCK_REALTIME here: " << std::strerror(errno);
	struct restore {
		int64_t wall, mono;
		~restore() {
			timespec back = to_ts(wall + (now(CLOCK_MONOTONIC) - mono));
			clock_settime(CLOCK_REALTIME, &back);
		}
	} restorer{wall, mono};
	auto got = get(kfd, 1, 2, 2000);
	ASSERT_EQ(1u, got.size()) << "the jump past its date did not fire it";
	EXPECT_EQ(11u, cookie_of(got[0]));
	EXPECT_EQ(KEVENT_RET_DONE, got[0].ret_flags);
}

KEVENT_INSTANTIATE_BACKENDS(ClockJump);

} // namespace
