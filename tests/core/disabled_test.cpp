// SPDX-License-Identifier: MIT
// disabled_test — KEVENT_REQ_DISABLED (kevent(7), kevent_ctl(3) MODIFY): a
// disabled kevent is not delivered, what its origin reports meanwhile is
// collected, and a MODIFY that enables it queues it if anything was. A
// user event, a timer and fd kevents (edge, level, broken), on both
// backends.
#include "kevent_test.hpp"

#include <kevent/events.hpp>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <thread>

using kevent_test::cookie_of;
using kevent_test::get;
using kevent_test::make;
using kevent_test::queue_stats;
using kevent_test::timer_id;

namespace {

std::string str(const ukevent &uk) {
	char b[256];
	kevent_ukevent_str(&uk, b, sizeof b);
	return b;
}

class Disabled : public kevent_test::QueueTest {
protected:
	int ctl(unsigned cmd, ukevent &e) { return kevent_ctl(kfd, cmd, 1, &e); }
	// MODIFY to req_flags; checks the entry succeeded.
	void modify(ukevent e, unsigned req) {
		e.req_flags = req;
		ASSERT_EQ(0, ctl(KEVENT_CTL_MODIFY, e)) << str(e);
		ASSERT_EQ(KEVENT_RET_DONE, e.ret_flags) << str(e);
	}
	void ready(ukevent e, uint32_t d0, uint32_t d1) {
		e.ret_data[0] = d0;
		e.ret_data[1] = d1;
		ASSERT_EQ(1, ctl(KEVENT_CTL_READY, e)) << str(e);
	}
	void pipe_pair() { ASSERT_EQ(0, ::pipe2(p, O_CLOEXEC | O_NONBLOCK)); }
	void TearDown() override {
		for (int &fd : p)
			if (fd >= 0)
				::close(fd);
		QueueTest::TearDown();
	}
	int p[2] = {-1, -1};
};

TEST_P(Disabled, UserEventReadiedWhileDisabledComesBackWhenEnabled) {
	ukevent u = make(KEVENT_UNOTIFY, 5, 0, KEVENT_REQ_DISABLED, 50);
	ASSERT_EQ(0, ctl(KEVENT_CTL_ADD, u)) << str(u);
	ready(u, 7, 8);
	EXPECT_TRUE(get(kfd, 1, 8, 0).empty()) << "delivered while disabled";
	EXPECT_EQ(0u, queue_stats(kfd).ready);
	ready(u, 9, 10); // the payload is replaced, as on the ready list
	modify(u, 0);
	auto ev = get(kfd, 1, 8, 0);
	ASSERT_EQ(1u, ev.size());
	EXPECT_EQ(50u, cookie_of(ev[0]));
	EXPECT_EQ(9u, ev[0].ret_data[0]) << str(ev[0]);
	EXPECT_EQ(10u, ev[0].ret_data[1]) << str(ev[0]);
	EXPECT_TRUE(get(kfd, 1, 8, 0).empty()) << "delivered twice";
}

TEST_P(Disabled, DisablingAQueuedKeventTakesItOffTheReadyListKeepingItsPayload) {
	ukevent u = make(KEVENT_UNOTIFY, 6, 0, 0, 60);
	ASSERT_EQ(0, ctl(KEVENT_CTL_ADD, u));
	ready(u, 3, 4);
	EXPECT_EQ(1u, queue_stats(kfd).ready);
	modify(u, KEVENT_REQ_DISABLED);
	EXPECT_EQ(0u, queue_stats(kfd).ready);
	EXPECT_TRUE(get(kfd, 1, 8, 0).empty());
	modify(u, 0);
	auto ev = get(kfd, 1, 8, 0);
	ASSERT_EQ(1u, ev.size());
	EXPECT_EQ(3u, ev[0].ret_data[0]) << str(ev[0]);
	EXPECT_EQ(4u, ev[0].ret_data[1]) << str(ev[0]);
}

TEST_P(Disabled, EnablingWhatCollectedNothingQueuesNothing) {
	ukevent u = make(KEVENT_UNOTIFY, 7, 0, KEVENT_REQ_DISABLED, 70);
	ASSERT_EQ(0, ctl(KEVENT_CTL_ADD, u));
	modify(u, 0);
	EXPECT_TRUE(get(kfd, 1, 8, 0).empty());
	EXPECT_EQ(1u, queue_stats(kfd).registered);
}

TEST_P(Disabled, ReadyAtAddIsKeptRegisteredNotCopiedBack) {
	ukevent u = make(KEVENT_UNOTIFY, 8, 0, KEVENT_REQ_DISABLED | KEVENT_REQ_READY, 80);
	ASSERT_EQ(0, ctl(KEVENT_CTL_ADD, u)) << "copied back: " << str(u);
	EXPECT_EQ(1u, queue_stats(kfd).registered);
	EXPECT_TRUE(get(kfd, 1, 8, 0).empty());
	modify(u, 0);
	auto ev = get(kfd, 1, 8, 0);
	ASSERT_EQ(1u, ev.size());
	EXPECT_EQ(80u, cookie_of(ev[0]));
}

TEST_P(Disabled, PeriodicTimerCountsItsExpirationsWhileDisabled) {
	ukevent t = make(KEVENT_TIMER, timer_id(10), KEVENT_TIMER_FIRED, KEVENT_REQ_DISABLED, 90);
	ASSERT_EQ(0, ctl(KEVENT_CTL_ADD, t)) << str(t);
	std::this_thread::sleep_for(std::chrono::milliseconds(65));
	EXPECT_TRUE(get(kfd, 1, 8, 0).empty()) << "delivered while disabled";
	modify(t, 0);
	auto ev = get(kfd, 1, 8, 0);
	ASSERT_EQ(1u, ev.size());
	// 65 ms or more of a 10 ms period: at least 6 expirations, none lost.
	EXPECT_GE(ev[0].ret_data[0], 6u) << str(ev[0]);
	EXPECT_EQ(0u, ev[0].ret_flags) << str(ev[0]);
	EXPECT_EQ(1u, queue_stats(kfd).registered);
}

TEST_P(Disabled, OneshotTimerThatFiredWhileDisabledIsDeliveredOnceEnabled) {
	ukevent t = make(KEVENT_TIMER, timer_id(5), KEVENT_TIMER_FIRED,
			 KEVENT_REQ_ONESHOT | KEVENT_REQ_DISABLED, 91);
	ASSERT_EQ(0, ctl(KEVENT_CTL_ADD, t)) << str(t);
	EXPECT_TRUE(get(kfd, 1, 8, 40).empty()) << "delivered while disabled";
	EXPECT_EQ(1u, queue_stats(kfd).registered);
	modify(t, KEVENT_REQ_ONESHOT);
	auto ev = get(kfd, 1, 8, 0);
	ASSERT_EQ(1u, ev.size());
	EXPECT_EQ(KEVENT_RET_DONE, ev[0].ret_flags) << str(ev[0]);
	EXPECT_EQ(1u, ev[0].ret_data[0]) << str(ev[0]);
	EXPECT_EQ(0u, queue_stats(kfd).registered);
}

TEST_P(Disabled, EdgeFdKeventSeesDataThatCameWhileDisabled) {
	pipe_pair();
	ukevent e = make(KEVENT_PIPE, static_cast<uint32_t>(p[0]), KEVENT_PIPE_RECV, 0, 100);
	ASSERT_EQ(0, ctl(KEVENT_CTL_ADD, e)) << str(e);
	modify(e, KEVENT_REQ_DISABLED);
	ASSERT_EQ(1, ::write(p[1], "x", 1));
	EXPECT_TRUE(get(kfd, 1, 8, 50).empty()) << "delivered while disabled";
	modify(e, 0);
	auto ev = get(kfd, 1, 8, 0);
	ASSERT_EQ(1u, ev.size());
	EXPECT_EQ(KEVENT_PIPE_RECV, ev[0].ret_data[0] & KEVENT_PIPE_RECV) << str(ev[0]);
	EXPECT_EQ(0u, ev[0].ret_flags) << str(ev[0]);
}

TEST_P(Disabled, LevelFdKeventOnAReadyFileNeitherDeliversNorSpins) {
	pipe_pair();
	ASSERT_EQ(1, ::write(p[1], "x", 1));
	ukevent e = make(KEVENT_POLL, static_cast<uint32_t>(p[0]), POLLIN,
			 KEVENT_REQ_LEVEL | KEVENT_REQ_DISABLED | KEVENT_REQ_ALWAYS_QUEUE, 110);
	ASSERT_EQ(0, ctl(KEVENT_CTL_ADD, e)) << str(e);
	const uint64_t calls = queue_stats(kfd).backend_calls;
	for (int i = 0; i < 3; i++)
		EXPECT_TRUE(get(kfd, 1, 8, 30).empty()) << "delivered while disabled";
	// A poller that kept finding the level watch ready would have made
	// thousands of backend calls in these waits.
	EXPECT_LT(queue_stats(kfd).backend_calls - calls, 40u);
	modify(e, KEVENT_REQ_LEVEL | KEVENT_REQ_ALWAYS_QUEUE);
	for (int i = 0; i < 2; i++) { // level: every call while the data is there
		auto ev = get(kfd, 1, 8, 1000);
		ASSERT_EQ(1u, ev.size());
		EXPECT_EQ(110u, cookie_of(ev[0]));
		EXPECT_TRUE(ev[0].ret_data[0] & POLLIN) << str(ev[0]);
	}
}

TEST_P(Disabled, ABrokenKeventIsDeliveredEvenWhileDisabled) {
	pipe_pair();
	ukevent e = make(KEVENT_PIPE, static_cast<uint32_t>(p[0]), KEVENT_PIPE_RECV,
			 KEVENT_REQ_DISABLED, 120);
	ASSERT_EQ(0, ctl(KEVENT_CTL_ADD, e)) << str(e);
	::close(p[1]);
	p[1] = -1;
	auto ev = get(kfd, 1, 8, 2000);
	ASSERT_EQ(1u, ev.size()) << "a BROKEN kevent left the registry: nothing could enable it";
	EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, ev[0].ret_flags) << str(ev[0]);
	EXPECT_EQ(0u, queue_stats(kfd).registered);
}

TEST_P(Disabled, TheCxxBuilderSetsAndClearsTheFlag) {
	ukevent u = kevent::user_event(9).cookie(1).disabled();
	EXPECT_EQ(KEVENT_REQ_DISABLED, u.req_flags);
	ASSERT_EQ(0, ctl(KEVENT_CTL_ADD, u));
	ready(u, 1, 2);
	EXPECT_TRUE(get(kfd, 1, 8, 0).empty());
	ukevent on = kevent::user_event(9).cookie(1).disabled().enabled();
	EXPECT_EQ(0u, on.req_flags);
	ASSERT_EQ(0, ctl(KEVENT_CTL_MODIFY, on));
	EXPECT_EQ(1u, get(kfd, 1, 8, 0).size());
	EXPECT_NE(std::string::npos, str(u).find("DISABLED")) << str(u);
}

KEVENT_INSTANTIATE_BACKENDS(Disabled);

} // namespace
