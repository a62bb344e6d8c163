// SPDX-License-Identifier: MIT
// origin_contract_delivery.hpp — the contract's delivery rules for every
// origin (kevent(7) "Delivery modes", kevent_ctl(3) KEVENT_CTL_ADD,
// docs/semantics.md "ADD — ready at add"): ONESHOT, default, ET, LEVEL and
// LAST_CHECK, ALWAYS_QUEUE and REQ_READY, ready-at-ADD copy-back and its
// compaction, the cookie returned untouched, and the queue's descriptor
// turning readable for a program that polls it instead (kevent_init(3)).
#pragma once

#include "origin_contract_fixture.hpp"

namespace kevent_origin {

template <class T> void Contract<T>::oneshot_is_delivered_once_done_and_removed() {
	T t(0);
	add_armed(kfd, t, KEVENT_REQ_ONESHOT);
	t.trigger(kfd);
	auto ev = wait(kfd);
	ASSERT_EQ(1u, ev.size()) << describe(ev);
	expect_delivery(ev[0], t, KEVENT_REQ_ONESHOT, cookie_a, KEVENT_RET_DONE);
	t.check_fired(ev[0]);
	EXPECT_EQ(0u, registered(kfd));
	t.trigger(kfd);
	expect_nothing(kfd, 50);
	expect_written_back(remove(kfd, t), KEVENT_RET_BROKEN | KEVENT_RET_DONE, -ENOENT);
}

// default / ET: after a delivery, nothing comes back until new activity.
template <class T> void Contract<T>::mode_does_not_come_back_without_new_activity(unsigned mode) {
	T t(0);
	add_armed(kfd, t, mode);
	t.trigger(kfd);
	auto ev = wait(kfd);
	ASSERT_EQ(1u, ev.size()) << describe(ev);
	expect_delivery(ev[0], t, mode, cookie_a, 0);
	// The activity is left unconsumed (data unread) on purpose.
	expect_nothing(kfd);
	expect_nothing(kfd, 100);
	EXPECT_EQ(1u, registered(kfd));
}

// default / ET / LEVEL: a new activity brings the kevent back, even
// when the earlier one was left unconsumed.
template <class T>
void Contract<T>::mode_comes_back_on_new_activity(unsigned mode, bool consume_between) {
	T t(0);
	add_armed(kfd, t, mode);
	for (int round = 0; round < 3; round++) {
		t.trigger(kfd);
		auto ev = wait(kfd);
		ASSERT_EQ(1u, ev.size()) << "round " << round << " " << describe(ev);
		expect_delivery(ev[0], t, mode, cookie_a, 0);
		t.check_fired(ev[0]);
		if constexpr (requires(T & x) { x.consume(); }) {
			if (consume_between)
				t.consume();
		}
	}
	EXPECT_EQ(1u, registered(kfd));
}

template <class T> void Contract<T>::last_check_delivers_a_kevent_still_ready() {
	T t(0);
	add_armed(kfd, t, KEVENT_REQ_LAST_CHECK);
	t.trigger(kfd);
	auto ev = wait(kfd);
	ASSERT_EQ(1u, ev.size()) << describe(ev);
	expect_delivery(ev[0], t, KEVENT_REQ_LAST_CHECK, cookie_a, 0);
	t.check_fired(ev[0]);
}

template <class T> void Contract<T>::always_queue_keeps_a_ready_at_add_kevent_queued() {
	T t(0);
	ukevent e = entry(t, KEVENT_REQ_ALWAYS_QUEUE, cookie_a);
	t.make_ready_before_add(e);
	const ukevent sent = e;
	ASSERT_EQ(0, ctl(kfd, KEVENT_CTL_ADD, e))
		<< "ALWAYS_QUEUE entry was copied back: " << describe(e);
	t.on_added();
	EXPECT_EQ(1u, registered(kfd));
	auto ev = wait(kfd);
	ASSERT_EQ(1u, ev.size()) << describe(ev);
	const bool oneshot = sent.req_flags & KEVENT_REQ_ONESHOT;
	EXPECT_EQ(sent.id.raw_u64, ev[0].id.raw_u64);
	EXPECT_EQ(sent.req_flags, ev[0].req_flags);
	EXPECT_EQ(cookie_a, cookie_of(ev[0]));
	EXPECT_EQ(oneshot ? KEVENT_RET_DONE : 0u, ev[0].ret_flags) << describe(ev[0]);
	t.check_ready_at_add(ev[0]);
	// Delivered once: the ADD's own readiness check must not queue it twice.
	expect_nothing(kfd);
	EXPECT_EQ(oneshot ? 0u : 1u, registered(kfd));
}

template <class T> void Contract<T>::req_ready_with_always_queue_queues_an_unready_kevent() {
	T t(0);
	ukevent e = entry(t, KEVENT_REQ_READY | KEVENT_REQ_ALWAYS_QUEUE, cookie_a);
	ASSERT_EQ(0, ctl(kfd, KEVENT_CTL_ADD, e)) << describe(e);
	t.on_added();
	auto ev = wait(kfd);
	ASSERT_EQ(1u, ev.size()) << describe(ev);
	expect_delivery(ev[0], t, KEVENT_REQ_READY | KEVENT_REQ_ALWAYS_QUEUE, cookie_a, 0);
	EXPECT_EQ(1u, registered(kfd));
}

template <class T> void Contract<T>::ready_at_add_is_copied_back_done_and_not_kept() {
	T t(0);
	ukevent e = entry(t, 0, cookie_a);
	t.make_ready_before_add(e);
	const ukevent sent = e;
	ASSERT_EQ(1, ctl(kfd, KEVENT_CTL_ADD, e)) << describe(e);
	EXPECT_EQ(KEVENT_RET_DONE, e.ret_flags) << describe(e);
	EXPECT_EQ(sent.id.raw_u64, e.id.raw_u64);
	EXPECT_EQ(sent.type, e.type);
	EXPECT_EQ(sent.event, e.event);
	EXPECT_EQ(sent.req_flags, e.req_flags);
	EXPECT_EQ(cookie_a, cookie_of(e));
	t.check_ready_at_add(e);
	EXPECT_EQ(0u, registered(kfd));
	expect_nothing(kfd, 50);
	// Not kept: the same key can be added again.
	ukevent again = sent;
	int n = ctl(kfd, KEVENT_CTL_ADD, again);
	EXPECT_TRUE(n == 0 || (n == 1 && again.ret_flags == KEVENT_RET_DONE)) << describe(again);
}

template <class T> void Contract<T>::req_ready_at_add_is_copied_back_done_and_not_kept() {
	T t(0);
	ukevent e = entry(t, KEVENT_REQ_READY, cookie_a);
	ASSERT_EQ(1, ctl(kfd, KEVENT_CTL_ADD, e)) << describe(e);
	EXPECT_EQ(KEVENT_RET_DONE, e.ret_flags) << describe(e);
	EXPECT_EQ(cookie_a, cookie_of(e));
	EXPECT_EQ(0u, registered(kfd));
	expect_nothing(kfd, 50);
}

template <class T> void Contract<T>::copied_back_entries_are_compacted_in_input_order() {
	T t0(0), t1(1), t2(2), t3(3);
	ukevent in[4] = {entry(t0, 0, 1), entry(t1, 0, 2), entry(t2, bad_req_flag, 3),
			 entry(t3, 0, 4)};
	t1.make_ready_before_add(in[1]);
	ASSERT_EQ(2, kevent_ctl(kfd, KEVENT_CTL_ADD, 4, in)) << std::strerror(errno);
	t0.on_added();
	t3.on_added();
	EXPECT_EQ(2u, cookie_of(in[0])) << describe(in[0]);
	EXPECT_EQ(KEVENT_RET_DONE, in[0].ret_flags) << describe(in[0]);
	EXPECT_EQ(3u, cookie_of(in[1])) << describe(in[1]);
	expect_written_back(in[1], KEVENT_RET_BROKEN | KEVENT_RET_DONE, -EINVAL);
	EXPECT_EQ(2u, registered(kfd));
}

template <class T> void Contract<T>::cookie_round_trips_untouched() {
	static int object_a, object_b;
	T t(0), r(1);
	// A pointer cookie on a delivery ...
	ukevent e = entry(t);
	e.ptr = &object_a;
	ASSERT_EQ(0, ctl(kfd, KEVENT_CTL_ADD, e));
	t.on_added();
	t.trigger(kfd);
	auto ev = wait(kfd);
	ASSERT_EQ(1u, ev.size()) << describe(ev);
	EXPECT_EQ(static_cast<void *>(&object_a), ev[0].ptr);
	// ... all 64 bits of a number on a ready-at-add copy-back.
	ukevent c = entry(r, 0, 0xffffffff00000001ull);
	r.make_ready_before_add(c);
	ASSERT_EQ(1, ctl(kfd, KEVENT_CTL_ADD, c));
	EXPECT_EQ(0xffffffff00000001ull, cookie_of(c));
	// ... and on a ready-at-add copy-back with a pointer.
	T s(2);
	ukevent p = entry(s);
	p.ptr = &object_b;
	s.make_ready_before_add(p);
	ASSERT_EQ(1, ctl(kfd, KEVENT_CTL_ADD, p));
	EXPECT_EQ(static_cast<void *>(&object_b), p.ptr);
}

// kevent_init(3): the descriptor polls readable while kevent_get_events
// could return an event without blocking, so a queue nests in another
// loop that never calls kevent_get_events until it is told to. On io_uring
// a timer's deadline and a signal's, an inode's or a process's source poll
// used to wait in the submission queue for the next kevent_get_events: a
// loop polling the descriptor slept through them.
template <class T> void Contract<T>::activity_makes_the_queue_descriptor_readable(unsigned mode) {
	T t(0);
	add_armed(kfd, t, mode);
	// Nothing is ready yet: not readable (a stray completion would be).
	pollfd p{kfd, POLLIN, 0};
	EXPECT_EQ(0, ::poll(&p, 1, 0)) << "readable before any activity";
	t.trigger(kfd);
	p.revents = 0;
	ASSERT_EQ(1, ::poll(&p, 1, 2000)) << "the activity never made the descriptor readable";
	EXPECT_TRUE(p.revents & POLLIN);
	auto ev = now(kfd);
	ASSERT_EQ(1u, ev.size()) << describe(ev);
	expect_delivery(ev[0], t, mode, cookie_a,
			mode & KEVENT_REQ_ONESHOT ? unsigned(KEVENT_RET_DONE) : 0u);
	t.check_fired(ev[0]);
}

} // namespace kevent_origin

#define KEVENT_ORIGIN_CONTRACT_DELIVERY(S)                                        \
	TEST_P(S, OneshotIsDeliveredOnceDoneAndRemoved) {                         \
		oneshot_is_delivered_once_done_and_removed();                     \
	}                                                                         \
	TEST_P(S, DefaultDoesNotComeBackWithoutNewActivity) {                     \
		mode_does_not_come_back_without_new_activity(0);                  \
	}                                                                         \
	TEST_P(S, EtDoesNotComeBackWithoutNewActivity) {                          \
		mode_does_not_come_back_without_new_activity(KEVENT_REQ_ET);      \
	}                                                                         \
	TEST_P(S, DefaultComesBackOnNewActivityEvenIfNotConsumed) {               \
		mode_comes_back_on_new_activity(0, false);                        \
	}                                                                         \
	TEST_P(S, EtComesBackOnNewActivityEvenIfNotConsumed) {                    \
		mode_comes_back_on_new_activity(KEVENT_REQ_ET, false);            \
	}                                                                         \
	TEST_P(S, LevelComesBackOnNewActivity) {                                  \
		mode_comes_back_on_new_activity(KEVENT_REQ_LEVEL, true);          \
	}                                                                         \
	TEST_P(S, LastCheckDeliversAKeventStillReady) {                           \
		last_check_delivers_a_kevent_still_ready();                       \
	}                                                                         \
	TEST_P(S, AlwaysQueueKeepsAReadyAtAddKeventQueued) {                      \
		always_queue_keeps_a_ready_at_add_kevent_queued();                \
	}                                                                         \
	TEST_P(S, ReqReadyWithAlwaysQueueQueuesAnUnreadyKevent) {                 \
		req_ready_with_always_queue_queues_an_unready_kevent();           \
	}                                                                         \
	TEST_P(S, ReadyAtAddIsCopiedBackDoneAndNotKept) {                         \
		ready_at_add_is_copied_back_done_and_not_kept();                  \
	}                                                                         \
	TEST_P(S, ReqReadyAtAddIsCopiedBackDoneAndNotKept) {                      \
		req_ready_at_add_is_copied_back_done_and_not_kept();              \
	}                                                                         \
	TEST_P(S, CopiedBackEntriesAreCompactedInInputOrder) {                    \
		copied_back_entries_are_compacted_in_input_order();               \
	}                                                                         \
	TEST_P(S, CookieRoundTripsUntouched) { cookie_round_trips_untouched(); }  \
	TEST_P(S, ActivityMakesTheQueueDescriptorReadable) {                      \
		activity_makes_the_queue_descriptor_readable(0);                  \
	}                                                                         \
	TEST_P(S, ActivityMakesTheQueueDescriptorReadableForAOneshotKevent) {     \
		activity_makes_the_queue_descriptor_readable(KEVENT_REQ_ONESHOT); \
	}
