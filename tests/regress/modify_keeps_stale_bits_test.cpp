// SPDX-License-Identifier: MIT
// modify_keeps_stale_bits_test — found testing from the man pages alone
// (issue 14, item 9).
//
// Bug: a socket kevent with unread data, MODIFYed to RECV (queued with
// RECV), then MODIFYed to SEND only, was delivered with ret_data[0] =
// RECV|SEND: the bits it had collected for the old request stayed, and the
// re-arm ORed the new ones in. kevent_socket(7): ret_data[0] holds the
// *requested* bits that fired.
//
// Fix: MODIFY of an fd kevent takes it off the ready list and clears what it
// collected; the re-arm looks at the file again and queues it with the bits
// of the new request that fire (src/core/queue_ctl.cpp).
#include "kevent_test.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

using kevent_test::make;

class ModifyStaleBits : public kevent_test::QueueTest {
protected:
	int sv[2] = {-1, -1};
	void SetUp() override {
		QueueTest::SetUp();
		ASSERT_EQ(0,
			  socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
	}
	void TearDown() override {
		close(sv[0]);
		close(sv[1]);
		QueueTest::TearDown();
	}
};

TEST_P(ModifyStaleBits, ModifyToSendOnlyDeliversSendOnly) {
	// Armed, not ready: nothing to read yet.
	ukevent uk = make(KEVENT_SOCKET, uint64_t(sv[0]), KEVENT_SOCKET_RECV, 0, 7);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &uk));
	ASSERT_EQ(1, write(sv[1], "x", 1)); // unread data
	ukevent m = uk;
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_MODIFY, 1, &m)); // queued with RECV
	m.event = KEVENT_SOCKET_SEND;
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_MODIFY, 1, &m));
	auto ev = kevent_test::get(kfd, 1, 4, 1000);
	ASSERT_EQ(1u, ev.size());
	EXPECT_EQ(KEVENT_SOCKET_SEND, ev[0].ret_data[0]) << "only the requested bits that fired";
}

TEST_P(ModifyStaleBits, ModifyToAnUnreadyRequestIsNotDelivered) {
	// sv[0] cannot send: its buffer is full.
	char block[4096] = {};
	while (write(sv[0], block, sizeof block) > 0) {
	}
	ASSERT_EQ(1, write(sv[1], "x", 1));
	ukevent uk = make(KEVENT_SOCKET, uint64_t(sv[0]), KEVENT_SOCKET_RECV,
			  KEVENT_REQ_ALWAYS_QUEUE, 7);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &uk)); // queued with RECV
	ukevent m = uk;
	m.event = KEVENT_SOCKET_SEND; // does not fire
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_MODIFY, 1, &m));
	EXPECT_EQ(0u, kevent_test::get(kfd, 0, 4, 0).size()) << "a kevent whose new request does "
								"not fire is not delivered";
	m.event = KEVENT_SOCKET_RECV | KEVENT_SOCKET_SEND;
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_MODIFY, 1, &m));
	auto ev = kevent_test::get(kfd, 1, 4, 1000);
	ASSERT_EQ(1u, ev.size());
	EXPECT_EQ(KEVENT_SOCKET_RECV, ev[0].ret_data[0]);
}

KEVENT_INSTANTIATE_BACKENDS(ModifyStaleBits);
