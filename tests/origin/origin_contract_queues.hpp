// SPDX-License-Identifier: MIT
// origin_contract_queues.hpp — the contract across queues for every origin:
// two queues watching one object are independent (docs/semantics.md
// "Several queues on one object"), and kevent_close(3) with registrations
// frees them and leaves the watched objects alone.
#pragma once

#include "origin_contract_fixture.hpp"

namespace kevent_origin {

template <class T> void Contract<T>::two_queues_are_independent() {
	owned_queue other(kevent_init(nullptr, 0, GetParam().flags));
	ASSERT_GE(other.get(), 0) << std::strerror(errno);
	const int a = kfd, b = other.get();
	T t(0);
	add_armed(a, t, 0, cookie_a);
	add_armed(b, t, 0, cookie_b);
	t.trigger(a);
	t.trigger(b);
	auto ea = wait(a);
	auto eb = wait(b);
	ASSERT_EQ(1u, ea.size()) << describe(ea);
	ASSERT_EQ(1u, eb.size()) << describe(eb);
	EXPECT_EQ(cookie_a, cookie_of(ea[0]));
	EXPECT_EQ(cookie_b, cookie_of(eb[0]));
	// Removing from one queue leaves the other watching.
	expect_written_back(remove(a, t), KEVENT_RET_DONE);
	EXPECT_EQ(0u, registered(a));
	EXPECT_EQ(1u, registered(b));
	t.trigger(b);
	eb = wait(b);
	ASSERT_EQ(1u, eb.size()) << describe(eb);
	EXPECT_EQ(cookie_b, cookie_of(eb[0]));
	expect_nothing(a);
	EXPECT_EQ(0, kevent_close(other.release())) << std::strerror(errno);
}

template <class T> void Contract<T>::close_with_registrations_frees_them() {
	T armed(0), queued(1), fired(2);
	add_armed(kfd, armed);
	ukevent q = entry(queued, KEVENT_REQ_ALWAYS_QUEUE);
	queued.make_ready_before_add(q);
	ASSERT_EQ(0, ctl(kfd, KEVENT_CTL_ADD, q)) << describe(q);
	queued.on_added();
	add_armed(kfd, fired);
	fired.trigger(kfd);
	EXPECT_EQ(3u, registered(kfd));
	const int old = kfd;
	kfd = -1;
	ASSERT_EQ(0, kevent_close(old)) << std::strerror(errno);
	kevent_stats st = global_stats();
	EXPECT_EQ(0u, st.queues);
	EXPECT_EQ(0u, st.registered);
	timespec zero{};
	ukevent buf[1];
	errno = 0;
	EXPECT_EQ(-1, kevent_get_events(old, 1, 1, &zero, buf, 0));
	EXPECT_EQ(EBADF, errno);
	if constexpr (requires(const T &x) { x.fd(); }) {
		EXPECT_TRUE(fd_is_open(armed.fd())) << "kevent_close closed a watched fd";
		EXPECT_TRUE(fd_is_open(fired.fd())) << "kevent_close closed a watched fd";
	}
	// A new queue starts empty and can watch the same object again.
	kfd = kevent_init(nullptr, 0, GetParam().flags);
	ASSERT_GE(kfd, 0) << std::strerror(errno);
	add_armed(kfd, armed, 0, cookie_b);
	armed.trigger(kfd);
	auto ev = wait(kfd);
	ASSERT_EQ(1u, ev.size()) << describe(ev);
	EXPECT_EQ(cookie_b, cookie_of(ev[0]));
}

} // namespace kevent_origin

#define KEVENT_ORIGIN_CONTRACT_QUEUES(S)                                     \
	TEST_P(S, TwoQueuesAreIndependent) { two_queues_are_independent(); } \
	TEST_P(S, CloseWithRegistrationsFreesThem) { close_with_registrations_frees_them(); }
