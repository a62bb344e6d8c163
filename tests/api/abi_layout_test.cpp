// SPDX-License-Identifier: MIT
// abi_layout_test.cpp — the binary layout of the C ABI (kevent.h, kevent(7)),
// seen from C++20. The same checks, compiled as C11, live in abi_layout_test.c.
//
// Everything that can be checked at compile time is a static_assert (a
// broken layout does not even build); the gtest cases repeat the values at
// run time so that a failure names the field that moved.
#include <kevent/kevent.h>

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

// ---- compile time ---------------------------------------------------------

static_assert(sizeof(struct kevent_id) == 8, "kevent.h: kevent_id is 8 bytes");
static_assert(alignof(struct kevent_id) == 8, "kevent.h: kevent_id is 8-aligned");
static_assert(sizeof(struct ukevent) == 40, "kevent.h: ukevent is 40 bytes");
static_assert(alignof(struct ukevent) == 8, "kevent.h: ukevent is 8-aligned");
static_assert(std::is_standard_layout_v<struct ukevent>, "ukevent must stay a C struct");
static_assert(std::is_trivially_copyable_v<struct ukevent>, "ukevent must stay a C struct");

static_assert(offsetof(struct ukevent, id) == 0);
static_assert(offsetof(struct ukevent, type) == 8);
static_assert(offsetof(struct ukevent, event) == 12);
static_assert(offsetof(struct ukevent, req_flags) == 16);
static_assert(offsetof(struct ukevent, ret_flags) == 20);
static_assert(offsetof(struct ukevent, ret_data) == 24);
static_assert(offsetof(struct ukevent, user) == 32);
static_assert(offsetof(struct ukevent, ptr) == 32);

static_assert(sizeof(((struct ukevent *)nullptr)->type) == 4);
static_assert(sizeof(((struct ukevent *)nullptr)->event) == 4);
static_assert(sizeof(((struct ukevent *)nullptr)->req_flags) == 4);
static_assert(sizeof(((struct ukevent *)nullptr)->ret_flags) == 4);
static_assert(sizeof(((struct ukevent *)nullptr)->ret_data) == 8);
static_assert(sizeof(((struct ukevent *)nullptr)->user) == 8);

static_assert(offsetof(struct kevent_id, raw) == 0);
static_assert(offsetof(struct kevent_id, raw_u64) == 0);
static_assert(sizeof(((struct kevent_id *)nullptr)->raw) == 8);

// kevent_init(3): the ring header is two 32-bit words followed by the events.
static_assert(offsetof(struct kevent_ring, ring_kidx) == 0);
static_assert(offsetof(struct kevent_ring, ring_over) == 4);
static_assert(offsetof(struct kevent_ring, event) == 8);

static_assert(KEVENT_CTL_MAX >= 65536u, "kevent_ctl(3): KEVENT_CTL_MAX is at least 65536");
static_assert(KEVENT_SIGNAL_NOMASK == (1ull << 63), "kevent.h: NOMASK is bit 63 of id.raw_u64");

// ---- run time ---------------------------------------------------------------

TEST(AbiLayout, UkeventIs40BytesAnd8Aligned) {
	EXPECT_EQ(40u, sizeof(struct ukevent));
	EXPECT_EQ(8u, alignof(struct ukevent));
	EXPECT_EQ(8u, sizeof(struct kevent_id));
	EXPECT_EQ(8u, alignof(struct kevent_id));
}

TEST(AbiLayout, UkeventFieldOffsetsMatchSpec) {
	EXPECT_EQ(0u, offsetof(struct ukevent, id));
	EXPECT_EQ(8u, offsetof(struct ukevent, type));
	EXPECT_EQ(12u, offsetof(struct ukevent, event));
	EXPECT_EQ(16u, offsetof(struct ukevent, req_flags));
	EXPECT_EQ(20u, offsetof(struct ukevent, ret_flags));
	EXPECT_EQ(24u, offsetof(struct ukevent, ret_data));
	EXPECT_EQ(32u, offsetof(struct ukevent, user));
	EXPECT_EQ(32u, offsetof(struct ukevent, ptr));
}

TEST(AbiLayout, OriginValuesMatchSpec) {
	EXPECT_EQ(0, KEVENT_SOCKET);
	EXPECT_EQ(1, KEVENT_INODE);
	EXPECT_EQ(2, KEVENT_TIMER);
	EXPECT_EQ(3, KEVENT_POLL);
	EXPECT_EQ(4, KEVENT_NAIO);
	EXPECT_EQ(5, KEVENT_AIO);
	EXPECT_EQ(6, KEVENT_PIPE);
	EXPECT_EQ(7, KEVENT_SIGNAL);
	EXPECT_EQ(8, KEVENT_POSIX_TIMER);
	EXPECT_EQ(9, KEVENT_UNOTIFY);
	EXPECT_EQ(10, KEVENT_PROC);
	EXPECT_EQ(11, KEVENT_MAX);
}

TEST(AbiLayout, RequestFlagValuesMatchSpec) {
	EXPECT_EQ(0x1u, KEVENT_REQ_ONESHOT);
	EXPECT_EQ(0x2u, KEVENT_REQ_WAKEUP_ALL);
	EXPECT_EQ(0x4u, KEVENT_REQ_ET);
	EXPECT_EQ(0x8u, KEVENT_REQ_LAST_CHECK);
	EXPECT_EQ(0x10u, KEVENT_REQ_ALWAYS_QUEUE);
	EXPECT_EQ(0x20u, KEVENT_REQ_READY);
	EXPECT_EQ(0x40u, KEVENT_REQ_LEVEL);
	EXPECT_EQ(0x80u, KEVENT_REQ_DISABLED);
	// The mask is exactly the union of the known flags.
	EXPECT_EQ(KEVENT_REQ_ONESHOT | KEVENT_REQ_WAKEUP_ALL | KEVENT_REQ_ET |
			  KEVENT_REQ_LAST_CHECK | KEVENT_REQ_ALWAYS_QUEUE | KEVENT_REQ_READY |
			  KEVENT_REQ_LEVEL | KEVENT_REQ_DISABLED,
		  KEVENT_REQ_MASK);
}

TEST(AbiLayout, ReturnFlagValuesMatchSpec) {
	EXPECT_EQ(0x1u, KEVENT_RET_BROKEN);
	EXPECT_EQ(0x2u, KEVENT_RET_DONE);
	EXPECT_EQ(0x4u, KEVENT_RET_COPY_FAILED);
}

TEST(AbiLayout, CommandValuesMatchSpec) {
	EXPECT_EQ(0u, KEVENT_CTL_ADD);
	EXPECT_EQ(1u, KEVENT_CTL_REMOVE);
	EXPECT_EQ(2u, KEVENT_CTL_MODIFY);
	EXPECT_EQ(3u, KEVENT_CTL_READY);
	EXPECT_GE(KEVENT_CTL_MAX, 65536u);
}

TEST(AbiLayout, EventBitValuesMatchSpec) {
	EXPECT_EQ(0x1u, KEVENT_SOCKET_RECV);
	EXPECT_EQ(0x2u, KEVENT_SOCKET_ACCEPT);
	EXPECT_EQ(0x4u, KEVENT_SOCKET_SEND);
	EXPECT_EQ(KEVENT_SOCKET_RECV, KEVENT_PIPE_RECV);
	EXPECT_EQ(KEVENT_SOCKET_SEND, KEVENT_PIPE_SEND);
	EXPECT_EQ(0x1u, KEVENT_NAIO_RECV);
	EXPECT_EQ(0x2u, KEVENT_NAIO_ACCEPT);
	EXPECT_EQ(0x4u, KEVENT_NAIO_SEND);
	EXPECT_EQ(0x1u, KEVENT_INODE_CREATE);
	EXPECT_EQ(0x2u, KEVENT_INODE_REMOVE);
	EXPECT_EQ(0x1u, KEVENT_TIMER_FIRED);
	EXPECT_EQ(0x1u, KEVENT_SIGNAL_DELIVERY);
	EXPECT_EQ(1ull << 63, KEVENT_SIGNAL_NOMASK);
	EXPECT_EQ(0x1u, KEVENT_PROC_EXIT);
}

TEST(AbiLayout, WaitFlagValuesMatchSpec) { EXPECT_EQ(0x1u, KEVENT_FLAGS_ABSTIME); }
