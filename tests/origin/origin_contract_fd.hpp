// SPDX-License-Identifier: MIT
// origin_contract_fd.hpp — the contract for origins whose id.raw[0] is a file
// descriptor: a closed fd, an fd closed under its registration, and a number
// reused by another file never reach the old kevent except as BROKEN once
// (docs/semantics.md "BROKEN, closed and reused fds", the origins' man7 pages
// "The special problem of closing a descriptor while it is registered").
#pragma once

#include "origin_contract_fixture.hpp"

namespace kevent_origin {

template <class T> void Contract<T>::add_on_closed_fd_is_ebadf() {
	T t(0);
	t.close_watched();
	ukevent e = entry(t);
	ASSERT_EQ(1, ctl(kfd, KEVENT_CTL_ADD, e));
	expect_written_back(e, KEVENT_RET_BROKEN | KEVENT_RET_DONE, -EBADF);
	EXPECT_EQ(0u, registered(kfd));
}

template <class T> void Contract<T>::fd_closed_under_registration_then_remove_succeeds() {
	T t(0);
	add_armed(kfd, t);
	t.close_watched();
	expect_nothing(kfd, 50);
	expect_written_back(remove(kfd, t), KEVENT_RET_DONE);
	EXPECT_EQ(0u, registered(kfd));
}

template <class T> void Contract<T>::fd_closed_under_registration_then_modify_is_broken_once() {
	T t(0);
	add_armed(kfd, t);
	t.close_watched();
	ukevent m = modify(kfd, t, 0, cookie_b);
	expect_written_back(m, KEVENT_RET_BROKEN | KEVENT_RET_DONE, -EBADF);
	auto ev = wait(kfd);
	ASSERT_EQ(1u, ev.size()) << "the BROKEN kevent was not delivered";
	EXPECT_EQ(t.id(), ev[0].id.raw_u64);
	EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, ev[0].ret_flags) << describe(ev[0]);
	EXPECT_EQ(-EBADF, err_of(ev[0])) << describe(ev[0]);
	expect_nothing(kfd, 50);
	EXPECT_EQ(0u, registered(kfd));
	expect_written_back(remove(kfd, t), KEVENT_RET_BROKEN | KEVENT_RET_DONE, -ENOENT);
}

template <class T> void Contract<T>::fd_closed_under_a_queued_last_check_kevent_is_broken_once() {
	T t(0);
	ukevent e = entry(t, KEVENT_REQ_LAST_CHECK | KEVENT_REQ_ALWAYS_QUEUE);
	t.make_ready_before_add(e);
	ASSERT_EQ(0, ctl(kfd, KEVENT_CTL_ADD, e)) << describe(e);
	t.on_added();
	t.close_watched();
	auto ev = wait(kfd);
	ASSERT_EQ(1u, ev.size()) << "LAST_CHECK on a closed fd must deliver BROKEN once";
	EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, ev[0].ret_flags) << describe(ev[0]);
	EXPECT_EQ(-EBADF, err_of(ev[0])) << describe(ev[0]);
	EXPECT_EQ(cookie_a, cookie_of(ev[0]));
	expect_nothing(kfd, 50);
	EXPECT_EQ(0u, registered(kfd));
}

template <class T> void Contract<T>::fd_number_reused_by_add_breaks_old_kevent_once() {
	T old_t(0);
	add_armed(kfd, old_t, 0, cookie_a);
	const int number = old_t.fd();
	old_t.close_watched();
	T new_t(1);
	new_t.take_number(number);
	ASSERT_EQ(old_t.id(), new_t.id());
	ukevent e = entry(new_t, 0, cookie_b);
	ASSERT_EQ(0, ctl(kfd, KEVENT_CTL_ADD, e)) << "ADD on a reused number: " << describe(e);
	new_t.on_added();
	auto ev = wait(kfd);
	ASSERT_EQ(1u, ev.size()) << "the old kevent must be delivered BROKEN once " << describe(ev);
	EXPECT_EQ(cookie_a, cookie_of(ev[0])) << describe(ev[0]);
	EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, ev[0].ret_flags) << describe(ev[0]);
	EXPECT_EQ(-EBADF, err_of(ev[0])) << describe(ev[0]);
	expect_nothing(kfd, 50);
	EXPECT_EQ(1u, registered(kfd));
	// The new registration serves the new file.
	new_t.trigger(kfd);
	ev = wait(kfd);
	ASSERT_EQ(1u, ev.size()) << describe(ev);
	expect_delivery(ev[0], new_t, 0, cookie_b, 0);
	expect_written_back(remove(kfd, new_t), KEVENT_RET_DONE);
	EXPECT_EQ(0u, registered(kfd));
}

template <class T>
void Contract<T>::fd_number_reused_new_file_never_reaches_old_kevent(unsigned mode) {
	T old_t(0);
	add_armed(kfd, old_t, mode, cookie_a);
	const int number = old_t.fd();
	old_t.close_watched();
	T new_t(1);
	new_t.take_number(number);
	new_t.trigger(kfd);
	auto ev = get(kfd, 1, 8, 100);
	for (const auto &uk : ev)
		EXPECT_NE(0u, uk.ret_flags & KEVENT_RET_BROKEN) << "an event of the new "
								   "file reached the old "
								   "kevent: "
								<< describe(uk);
	if (ev.empty())
		expect_written_back(remove(kfd, old_t), KEVENT_RET_DONE);
	EXPECT_EQ(0u, registered(kfd));
}

template <class T> void Contract<T>::fd_number_reused_then_modify_breaks_old_kevent() {
	T old_t(0);
	add_armed(kfd, old_t, 0, cookie_a);
	const int number = old_t.fd();
	old_t.close_watched();
	T new_t(1);
	new_t.take_number(number);
	new_t.trigger(kfd); // the new file is ready: it must not be mistaken for the old
			    // one
	ukevent m = modify(kfd, old_t, 0, cookie_b);
	expect_written_back(m, KEVENT_RET_BROKEN | KEVENT_RET_DONE, -EBADF);
	auto ev = wait(kfd);
	ASSERT_EQ(1u, ev.size()) << describe(ev);
	EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, ev[0].ret_flags) << describe(ev[0]);
	EXPECT_EQ(-EBADF, err_of(ev[0])) << describe(ev[0]);
	expect_nothing(kfd, 50);
	EXPECT_EQ(0u, registered(kfd));
}

template <class T>
void Contract<T>::fd_number_reused_under_a_queued_last_check_kevent_is_broken_once() {
	T old_t(0);
	ukevent e = entry(old_t, KEVENT_REQ_LAST_CHECK | KEVENT_REQ_ALWAYS_QUEUE, cookie_a);
	old_t.make_ready_before_add(e);
	ASSERT_EQ(0, ctl(kfd, KEVENT_CTL_ADD, e)) << describe(e);
	old_t.on_added();
	const int number = old_t.fd();
	old_t.close_watched();
	T new_t(1);
	new_t.take_number(number);
	new_t.trigger(kfd); // ready, so a poll(2) on the number alone would say "ready"
	auto ev = wait(kfd);
	ASSERT_EQ(1u, ev.size()) << describe(ev);
	EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, ev[0].ret_flags)
		<< "LAST_CHECK took the new file behind a reused number for the old one: "
		<< describe(ev[0]);
	EXPECT_EQ(-EBADF, err_of(ev[0])) << describe(ev[0]);
	expect_nothing(kfd, 50);
	EXPECT_EQ(0u, registered(kfd));
}

} // namespace kevent_origin

#define KEVENT_ORIGIN_CONTRACT_FD(S)                                                  \
	TEST_P(S, AddOnClosedFdIsEbadf) { add_on_closed_fd_is_ebadf(); }              \
	TEST_P(S, FdClosedUnderRegistrationThenRemoveSucceeds) {                      \
		fd_closed_under_registration_then_remove_succeeds();                  \
	}                                                                             \
	TEST_P(S, FdClosedUnderRegistrationThenModifyIsBrokenOnce) {                  \
		fd_closed_under_registration_then_modify_is_broken_once();            \
	}                                                                             \
	TEST_P(S, FdClosedUnderAQueuedLastCheckKeventIsBrokenOnce) {                  \
		fd_closed_under_a_queued_last_check_kevent_is_broken_once();          \
	}                                                                             \
	TEST_P(S, FdNumberReusedByAddBreaksOldKeventOnce) {                           \
		fd_number_reused_by_add_breaks_old_kevent_once();                     \
	}                                                                             \
	TEST_P(S, FdNumberReusedNewFileNeverReachesOldKevent) {                       \
		fd_number_reused_new_file_never_reaches_old_kevent(0);                \
	}                                                                             \
	TEST_P(S, FdNumberReusedNewFileNeverReachesOldLevelKevent) {                  \
		fd_number_reused_new_file_never_reaches_old_kevent(KEVENT_REQ_LEVEL); \
	}                                                                             \
	TEST_P(S, FdNumberReusedThenModifyBreaksOldKevent) {                          \
		fd_number_reused_then_modify_breaks_old_kevent();                     \
	}                                                                             \
	TEST_P(S, FdNumberReusedUnderAQueuedLastCheckKeventIsBrokenOnce) {            \
		fd_number_reused_under_a_queued_last_check_kevent_is_broken_once();   \
	}
