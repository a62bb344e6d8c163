// SPDX-License-Identifier: MIT
// origin_contract_broken.hpp — the contract for origins that can stop being
// servable: BROKEN is delivered once, in every mode, and a kevent already
// broken at ADD is copied back BROKEN|DONE (docs/semantics.md "BROKEN, closed
// and reused fds").
#pragma once

#include "origin_contract_fixture.hpp"

namespace kevent_origin {

template <class T> void Contract<T>::broken_is_delivered_once(unsigned mode) {
	T t(0);
	add_armed(kfd, t, mode);
	uint64_t broken_before = queue_stats(kfd).broken;
	t.break_it();
	auto ev = wait(kfd);
	ASSERT_EQ(1u, ev.size()) << describe(ev);
	expect_delivery(ev[0], t, mode, cookie_a, KEVENT_RET_BROKEN | KEVENT_RET_DONE);
	t.check_broken(ev[0]);
	expect_nothing(kfd);
	expect_nothing(kfd, 100);
	EXPECT_EQ(0u, registered(kfd));
	EXPECT_EQ(broken_before + 1, queue_stats(kfd).broken);
	expect_written_back(remove(kfd, t), KEVENT_RET_BROKEN | KEVENT_RET_DONE, -ENOENT);
}

template <class T> void Contract<T>::broken_at_add_is_copied_back_broken_done() {
	T t(0);
	t.break_it();
	ukevent e = entry(t);
	ASSERT_EQ(1, ctl(kfd, KEVENT_CTL_ADD, e)) << describe(e);
	EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, e.ret_flags) << describe(e);
	t.check_broken(e);
	EXPECT_EQ(0u, registered(kfd));
	expect_nothing(kfd, 50);
}

} // namespace kevent_origin

#define KEVENT_ORIGIN_CONTRACT_BROKEN(S)                                                           \
	TEST_P(S, BrokenIsDeliveredOnce) { broken_is_delivered_once(0); }                          \
	TEST_P(S, BrokenIsDeliveredOnceUnderLevel) { broken_is_delivered_once(KEVENT_REQ_LEVEL); } \
	TEST_P(S, BrokenIsDeliveredOnceUnderEt) { broken_is_delivered_once(KEVENT_REQ_ET); }       \
	TEST_P(S, BrokenAtAddIsCopiedBackBrokenDone) { broken_at_add_is_copied_back_broken_done(); }
