// SPDX-License-Identifier: MIT
// origin_contract_registration.hpp — the contract's ADD, REMOVE and MODIFY
// rules for every origin (kevent_ctl(3), docs/semantics.md "ADD — per-entry
// errors" and "REMOVE / MODIFY / READY"): an unready kevent stays registered,
// a key twice is EEXIST, bad flags are EINVAL, REMOVE and MODIFY of a missing
// key are ENOENT, and MODIFY replaces the cookie and flags or nothing.
#pragma once

#include "origin_contract_fixture.hpp"

namespace kevent_origin {

template <class T> void Contract<T>::add_keeps_unready_kevent_registered() {
	T t(0);
	add_armed(kfd, t);
	kevent_stats st = queue_stats(kfd);
	EXPECT_EQ(1u, st.registered);
	EXPECT_EQ(1u, st.registered_by_type[T::type]);
	EXPECT_EQ(0u, st.ready);
	expect_nothing(kfd);
	t.trigger(kfd);
	auto ev = wait(kfd);
	ASSERT_EQ(1u, ev.size()) << describe(ev);
	expect_delivery(ev[0], t, 0, cookie_a, 0);
	t.check_fired(ev[0]);
	EXPECT_EQ(1u, registered(kfd));
}

template <class T> void Contract<T>::add_same_key_twice_is_eexist() {
	T t(0);
	add_armed(kfd, t);
	ukevent e = entry(t, 0, cookie_b);
	ASSERT_EQ(1, ctl(kfd, KEVENT_CTL_ADD, e));
	expect_written_back(e, KEVENT_RET_BROKEN | KEVENT_RET_DONE, -EEXIST);
	EXPECT_EQ(cookie_b, cookie_of(e));
	EXPECT_EQ(1u, registered(kfd));
}

template <class T> void Contract<T>::add_with_bad_req_flags_is_einval() {
	T t(0);
	for (unsigned req : {bad_req_flag, KEVENT_REQ_ET | KEVENT_REQ_LEVEL, 0x80000000u}) {
		ukevent e = entry(t, req);
		ASSERT_EQ(1, ctl(kfd, KEVENT_CTL_ADD, e)) << "req_flags 0x" << std::hex << req;
		expect_written_back(e, KEVENT_RET_BROKEN | KEVENT_RET_DONE, -EINVAL);
	}
	EXPECT_EQ(0u, registered(kfd));
}

template <class T> void Contract<T>::remove_deletes_and_stops_delivery() {
	T t(0);
	add_armed(kfd, t);
	uint64_t removed_before = queue_stats(kfd).removed;
	ukevent r = remove(kfd, t);
	expect_written_back(r, KEVENT_RET_DONE);
	kevent_stats st = queue_stats(kfd);
	EXPECT_EQ(0u, st.registered);
	EXPECT_EQ(0u, st.registered_by_type[T::type]);
	EXPECT_EQ(removed_before + 1, st.removed);
	t.trigger(kfd);
	expect_nothing(kfd, 50);
}

template <class T> void Contract<T>::remove_drops_a_queued_kevent() {
	T t(0);
	ukevent e = entry(t, KEVENT_REQ_ALWAYS_QUEUE);
	t.make_ready_before_add(e);
	ASSERT_EQ(0, ctl(kfd, KEVENT_CTL_ADD, e)) << describe(e);
	t.on_added();
	EXPECT_EQ(1u, queue_stats(kfd).ready);
	ukevent r = e;
	r.ret_flags = 0;
	ASSERT_EQ(0, ctl(kfd, KEVENT_CTL_REMOVE, r));
	expect_written_back(r, KEVENT_RET_DONE);
	EXPECT_EQ(0u, queue_stats(kfd).ready);
	expect_nothing(kfd, 50);
	EXPECT_EQ(0u, registered(kfd));
}

template <class T> void Contract<T>::remove_missing_is_broken_enoent() {
	T t(0);
	ukevent r = entry(t);
	ASSERT_EQ(0, ctl(kfd, KEVENT_CTL_REMOVE, r));
	expect_written_back(r, KEVENT_RET_BROKEN | KEVENT_RET_DONE, -ENOENT);
	// And removing twice: the second one finds nothing.
	add_armed(kfd, t);
	expect_written_back(remove(kfd, t), KEVENT_RET_DONE);
	expect_written_back(remove(kfd, t), KEVENT_RET_BROKEN | KEVENT_RET_DONE, -ENOENT);
}

template <class T> void Contract<T>::modify_missing_is_broken_enoent() {
	T t(0);
	ukevent m = modify(kfd, t, 0, cookie_b);
	expect_written_back(m, KEVENT_RET_BROKEN | KEVENT_RET_DONE, -ENOENT);
	EXPECT_EQ(0u, registered(kfd));
}

template <class T> void Contract<T>::modify_replaces_cookie_and_req_flags() {
	T t(0);
	add_armed(kfd, t, 0, cookie_a);
	expect_written_back(modify(kfd, t, KEVENT_REQ_ONESHOT, cookie_b), KEVENT_RET_DONE);
	EXPECT_EQ(1u, registered(kfd));
	t.trigger(kfd);
	auto ev = wait(kfd);
	ASSERT_EQ(1u, ev.size()) << describe(ev);
	expect_delivery(ev[0], t, KEVENT_REQ_ONESHOT, cookie_b, KEVENT_RET_DONE);
	EXPECT_EQ(0u, registered(kfd));
}

template <class T> void Contract<T>::modify_with_bad_flags_changes_nothing() {
	T t(0);
	add_armed(kfd, t, 0, cookie_a);
	ukevent m = entry(t, bad_req_flag, cookie_b);
	ASSERT_EQ(0, ctl(kfd, KEVENT_CTL_MODIFY, m));
	expect_written_back(m, KEVENT_RET_BROKEN | KEVENT_RET_DONE, -EINVAL);
	t.trigger(kfd);
	auto ev = wait(kfd);
	ASSERT_EQ(1u, ev.size()) << describe(ev);
	expect_delivery(ev[0], t, 0, cookie_a, 0);
}

template <class T> void Contract<T>::modify_of_unready_kevent_queues_nothing() {
	T t(0);
	add_armed(kfd, t);
	expect_written_back(modify(kfd, t, KEVENT_REQ_ET, cookie_b), KEVENT_RET_DONE);
	expect_nothing(kfd);
	EXPECT_EQ(1u, registered(kfd));
}

} // namespace kevent_origin

#define KEVENT_ORIGIN_CONTRACT_REGISTRATION(S)                                                   \
	TEST_P(S, AddKeepsUnreadyKeventRegisteredAndDeliversOnActivity) {                        \
		add_keeps_unready_kevent_registered();                                           \
	}                                                                                        \
	TEST_P(S, AddSameKeyTwiceIsEexist) { add_same_key_twice_is_eexist(); }                   \
	TEST_P(S, AddWithBadReqFlagsIsEinval) { add_with_bad_req_flags_is_einval(); }            \
	TEST_P(S, RemoveDeletesAndStopsDelivery) { remove_deletes_and_stops_delivery(); }        \
	TEST_P(S, RemoveDropsAQueuedKevent) { remove_drops_a_queued_kevent(); }                  \
	TEST_P(S, RemoveMissingIsBrokenEnoent) { remove_missing_is_broken_enoent(); }            \
	TEST_P(S, ModifyMissingIsBrokenEnoent) { modify_missing_is_broken_enoent(); }            \
	TEST_P(S, ModifyReplacesCookieAndReqFlags) { modify_replaces_cookie_and_req_flags(); }   \
	TEST_P(S, ModifyWithBadFlagsChangesNothing) { modify_with_bad_flags_changes_nothing(); } \
	TEST_P(S, ModifyOfUnreadyKeventQueuesNothing) { modify_of_unready_kevent_queues_nothing(); }
