// SPDX-License-Identifier: MIT
// remove_leaves_stale_ret_data_test — found trying libkevent as a new user
// (issue 20, item 10).
//
// Bug: a successful REMOVE (or MODIFY) wrote KEVENT_RET_DONE back into the
// entry but left whatever the caller had in ret_data[1] — for an entry that
// had failed before, an old -errno that read like a new error.
//
// Fix: a successful REMOVE or MODIFY writes ret_data[1] = 0
// (src/core/queue_ctl.cpp; kevent_ctl(3)).
#include "kevent_test.hpp"

using kevent_test::make;

class RemoveStaleRetData : public kevent_test::QueueTest {};

TEST_P(RemoveStaleRetData, SuccessfulRemoveAndModifyClearRetData1) {
	ukevent uk = make(KEVENT_UNOTIFY, 7, 1);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &uk));
	ukevent m = uk;
	m.ret_data[1] = static_cast<uint32_t>(-ENOENT); // left by an earlier call
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_MODIFY, 1, &m));
	EXPECT_EQ(unsigned(KEVENT_RET_DONE), m.ret_flags);
	EXPECT_EQ(0u, m.ret_data[1]) << "MODIFY succeeded: no error to report";
	ukevent r = uk;
	r.ret_data[1] = static_cast<uint32_t>(-ENOENT);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &r));
	EXPECT_EQ(unsigned(KEVENT_RET_DONE), r.ret_flags);
	EXPECT_EQ(0u, r.ret_data[1]) << "REMOVE succeeded: no error to report";
	// A failing REMOVE still says why.
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &r));
	EXPECT_EQ(unsigned(KEVENT_RET_BROKEN | KEVENT_RET_DONE), r.ret_flags);
	EXPECT_EQ(uint32_t(-ENOENT), r.ret_data[1]);
}

KEVENT_INSTANTIATE_BACKENDS(RemoveStaleRetData);
