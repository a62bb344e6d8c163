// SPDX-License-Identifier: MIT
// origin_contract_condition.hpp — the contract for origins whose readiness is
// a state that lasts until consumed (data to read): LEVEL repeats until it is
// consumed, LAST_CHECK and ET skip what is no longer ready, and MODIFY re-checks
// readiness and changes the delivery mode of a live kevent (kevent(7)
// "Delivery modes", kevent_ctl(3) KEVENT_CTL_MODIFY).
#pragma once

#include "origin_contract_fixture.hpp"

namespace kevent_origin {

template <class T> void Contract<T>::level_repeats_while_ready_and_stops_once_consumed() {
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
// kevent(7): LAST_CHECK looks again just before delivery; ET comes back
// "only if the origin says it is ready at that moment". Both skip activity
// the program consumed before the harvest: the first time, and once the
// kevent has been delivered and comes back. (On io_uring a poll's report
// is the wake-up, not the file's state: ET delivered it, found by an
// outside test written from kevent(7).)
template <class T> void Contract<T>::check_skips_an_event_consumed_before_delivery(unsigned mode) {
	T t(0);
	add_armed(kfd, t, mode);
	for (int round = 0; round < 2; round++) {
		t.trigger(kfd);
		t.consume();
		expect_nothing(kfd);
		EXPECT_EQ(1u, registered(kfd)) << "a skipped kevent must stay registered";
		t.trigger(kfd);
		auto ev = wait(kfd);
		ASSERT_EQ(1u, ev.size()) << "round " << round << " " << describe(ev);
		expect_delivery(ev[0], t, mode, cookie_a, 0);
		t.consume();
	}
}

// Same rule, with the kevent certainly on the library's own ready list
// (ALWAYS_QUEUE at ADD), so the kernel cannot have filtered it.
template <class T> void Contract<T>::last_check_skips_a_queued_kevent_no_longer_ready() {
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
	expect_delivery(ev[0], t, KEVENT_REQ_LAST_CHECK | KEVENT_REQ_ALWAYS_QUEUE, cookie_a, 0);
}

template <class T> void Contract<T>::modify_queues_a_kevent_that_is_ready_now() {
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
template <class T> void Contract<T>::modify_from_level_to_default_stops_repeating() {
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

template <class T> void Contract<T>::modify_from_default_to_level_repeats() {
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

} // namespace kevent_origin

#define KEVENT_ORIGIN_CONTRACT_CONDITION(S)                                           \
	TEST_P(S, LevelRepeatsWhileReadyAndStopsOnceConsumed) {                       \
		level_repeats_while_ready_and_stops_once_consumed();                  \
	}                                                                             \
	TEST_P(S, LastCheckSkipsAnEventConsumedBeforeDelivery) {                      \
		check_skips_an_event_consumed_before_delivery(KEVENT_REQ_LAST_CHECK); \
	}                                                                             \
	TEST_P(S, EtSkipsAnEventConsumedBeforeDelivery) {                             \
		check_skips_an_event_consumed_before_delivery(KEVENT_REQ_ET);         \
	}                                                                             \
	TEST_P(S, LastCheckSkipsAQueuedKeventNoLongerReady) {                         \
		last_check_skips_a_queued_kevent_no_longer_ready();                   \
	}                                                                             \
	TEST_P(S, ModifyQueuesAKeventThatIsReadyNow) {                                \
		modify_queues_a_kevent_that_is_ready_now();                           \
	}                                                                             \
	TEST_P(S, ModifyFromLevelToDefaultStopsRepeating) {                           \
		modify_from_level_to_default_stops_repeating();                       \
	}                                                                             \
	TEST_P(S, ModifyFromDefaultToLevelRepeats) { modify_from_default_to_level_repeats(); }
