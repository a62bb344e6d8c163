// SPDX-License-Identifier: MIT
/*
 * abi_layout_test.c — the binary layout of the C ABI (kevent(7), kevent.h),
 * seen from C11.
 * kevent.h must compile as strict C11 (no GNU extensions); the layout is
 * checked at compile time with _Static_assert and once more at run time, so
 * that a failure prints the field that moved. Also checks that the calls have
 * C linkage: the program links against the library and calls
 * kevent_get_stats(). Exit 0 = pass.
 */
#include <kevent/kevent.h>

#include <errno.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ---- compile time -------------------------------------------------------- */

_Static_assert(sizeof(struct kevent_id) == 8, "kevent(7): kevent_id is 8 bytes");
_Static_assert(alignof(struct kevent_id) == 8, "kevent(7): kevent_id is 8-aligned");
_Static_assert(sizeof(struct ukevent) == 40, "kevent(7): ukevent is 40 bytes");
_Static_assert(alignof(struct ukevent) == 8, "kevent(7): ukevent is 8-aligned");

_Static_assert(offsetof(struct ukevent, id) == 0, "id at 0");
_Static_assert(offsetof(struct ukevent, type) == 8, "type at 8");
_Static_assert(offsetof(struct ukevent, event) == 12, "event at 12");
_Static_assert(offsetof(struct ukevent, req_flags) == 16, "req_flags at 16");
_Static_assert(offsetof(struct ukevent, ret_flags) == 20, "ret_flags at 20");
_Static_assert(offsetof(struct ukevent, ret_data) == 24, "ret_data at 24");
_Static_assert(offsetof(struct ukevent, user) == 32, "user at 32");
_Static_assert(offsetof(struct ukevent, ptr) == 32, "ptr at 32");
_Static_assert(offsetof(struct kevent_id, raw) == 0, "raw at 0");
_Static_assert(offsetof(struct kevent_id, raw_u64) == 0, "raw_u64 at 0");

_Static_assert(offsetof(struct kevent_ring, ring_kidx) == 0, "ring_kidx at 0");
_Static_assert(offsetof(struct kevent_ring, ring_over) == 4, "ring_over at 4");
_Static_assert(offsetof(struct kevent_ring, event) == 8, "ring events at 8");

_Static_assert(KEVENT_SOCKET == 0 && KEVENT_INODE == 1 && KEVENT_TIMER == 2 && KEVENT_POLL == 3 &&
		       KEVENT_NAIO == 4 && KEVENT_AIO == 5 && KEVENT_PIPE == 6 &&
		       KEVENT_SIGNAL == 7 && KEVENT_POSIX_TIMER == 8 && KEVENT_UNOTIFY == 9 &&
		       KEVENT_PROC == 10 && KEVENT_MAX == 11,
	       "kevent(7): origin values");
_Static_assert(KEVENT_REQ_ONESHOT == 0x1 && KEVENT_REQ_WAKEUP_ALL == 0x2 && KEVENT_REQ_ET == 0x4 &&
		       KEVENT_REQ_LAST_CHECK == 0x8 && KEVENT_REQ_ALWAYS_QUEUE == 0x10 &&
		       KEVENT_REQ_READY == 0x20 && KEVENT_REQ_LEVEL == 0x40 &&
		       KEVENT_REQ_DISABLED == 0x80,
	       "kevent(7): request flag values");
_Static_assert(KEVENT_RET_BROKEN == 0x1 && KEVENT_RET_DONE == 0x2 && KEVENT_RET_COPY_FAILED == 0x4,
	       "kevent(7): return flag values");
_Static_assert(KEVENT_CTL_ADD == 0 && KEVENT_CTL_REMOVE == 1 && KEVENT_CTL_MODIFY == 2 &&
		       KEVENT_CTL_READY == 3,
	       "kevent(7): command values");
/* kevent_stats: fields are only appended; a new origin must not move them. */
_Static_assert(KEVENT_STATS_TYPES == 16 && KEVENT_STATS_TYPES >= KEVENT_MAX,
	       "registered_by_type has a fixed capacity");
_Static_assert(offsetof(struct kevent_stats, size) == 0, "stats size at 0");
_Static_assert(offsetof(struct kevent_stats, backend) == 4, "stats backend at 4");
_Static_assert(offsetof(struct kevent_stats, queues) == 8, "stats queues at 8");
_Static_assert(offsetof(struct kevent_stats, registered) == 16, "stats registered at 16");
_Static_assert(offsetof(struct kevent_stats, registered_by_type) == 24,
	       "stats registered_by_type at 24");
_Static_assert(offsetof(struct kevent_stats, ready) == 24 + 8 * 16, "stats ready at 152");
_Static_assert(offsetof(struct kevent_stats, inflight_io) == 160, "stats inflight_io at 160");
_Static_assert(offsetof(struct kevent_stats, added) == 168, "stats added at 168");
_Static_assert(offsetof(struct kevent_stats, removed) == 176, "stats removed at 176");
_Static_assert(offsetof(struct kevent_stats, delivered) == 184, "stats delivered at 184");
_Static_assert(offsetof(struct kevent_stats, broken) == 192, "stats broken at 192");
_Static_assert(offsetof(struct kevent_stats, wakeups) == 200, "stats wakeups at 200");
_Static_assert(offsetof(struct kevent_stats, backend_calls) == 208, "stats backend_calls at 208");
_Static_assert(sizeof(struct kevent_stats) == 216, "kevent_stats is 216 bytes");
_Static_assert(KEVENT_CTL_MAX >= 65536u, "kevent_ctl(3): KEVENT_CTL_MAX >= 65536");
_Static_assert(KEVENT_FLAGS_ABSTIME == 0x1, "kevent(7): KEVENT_FLAGS_ABSTIME");
_Static_assert(KEVENT_TIMER_REALTIME == 0x100 && KEVENT_TIMER_BOOTTIME == 0x200 &&
		       KEVENT_TIMER_ABSTIME == 0x400 && KEVENT_TIMER_NAMED == 0x800,
	       "kevent_timer(7): timer option bits");
_Static_assert(KEVENT_SIGNAL_NOMASK == (1ull << 63), "kevent(7): NOMASK is bit 63");

/* ---- run time ------------------------------------------------------------ */

static int failures;

#define CHECK_EQ(expected, actual)                                                        \
	do {                                                                              \
		unsigned long long e_ = (unsigned long long)(expected);                   \
		unsigned long long a_ = (unsigned long long)(actual);                     \
		if (e_ != a_) {                                                           \
			fprintf(stderr, "%s:%d: %s: expected %llu, got %llu\n", __FILE__, \
				__LINE__, #actual, e_, a_);                               \
			failures++;                                                       \
		}                                                                         \
	} while (0)

static void check_layout(void) {
	CHECK_EQ(40, sizeof(struct ukevent));
	CHECK_EQ(8, alignof(struct ukevent));
	CHECK_EQ(8, sizeof(struct kevent_id));
	CHECK_EQ(8, alignof(struct kevent_id));
	CHECK_EQ(0, offsetof(struct ukevent, id));
	CHECK_EQ(8, offsetof(struct ukevent, type));
	CHECK_EQ(12, offsetof(struct ukevent, event));
	CHECK_EQ(16, offsetof(struct ukevent, req_flags));
	CHECK_EQ(20, offsetof(struct ukevent, ret_flags));
	CHECK_EQ(24, offsetof(struct ukevent, ret_data));
	CHECK_EQ(32, offsetof(struct ukevent, user));
	CHECK_EQ(32, offsetof(struct ukevent, ptr));
	CHECK_EQ(8, offsetof(struct kevent_ring, event));
}

static void check_constants(void) {
	/* origins */
	CHECK_EQ(0, KEVENT_SOCKET);
	CHECK_EQ(1, KEVENT_INODE);
	CHECK_EQ(2, KEVENT_TIMER);
	CHECK_EQ(3, KEVENT_POLL);
	CHECK_EQ(4, KEVENT_NAIO);
	CHECK_EQ(5, KEVENT_AIO);
	CHECK_EQ(6, KEVENT_PIPE);
	CHECK_EQ(7, KEVENT_SIGNAL);
	CHECK_EQ(8, KEVENT_POSIX_TIMER);
	CHECK_EQ(9, KEVENT_UNOTIFY);
	CHECK_EQ(10, KEVENT_PROC);
	CHECK_EQ(11, KEVENT_MAX);
	/* request flags */
	CHECK_EQ(0x1, KEVENT_REQ_ONESHOT);
	CHECK_EQ(0x2, KEVENT_REQ_WAKEUP_ALL);
	CHECK_EQ(0x4, KEVENT_REQ_ET);
	CHECK_EQ(0x8, KEVENT_REQ_LAST_CHECK);
	CHECK_EQ(0x10, KEVENT_REQ_ALWAYS_QUEUE);
	CHECK_EQ(0x20, KEVENT_REQ_READY);
	CHECK_EQ(0x40, KEVENT_REQ_LEVEL);
	CHECK_EQ(0x80, KEVENT_REQ_DISABLED);
	/* return flags */
	CHECK_EQ(0x1, KEVENT_RET_BROKEN);
	CHECK_EQ(0x2, KEVENT_RET_DONE);
	CHECK_EQ(0x4, KEVENT_RET_COPY_FAILED);
	/* commands */
	CHECK_EQ(0, KEVENT_CTL_ADD);
	CHECK_EQ(1, KEVENT_CTL_REMOVE);
	CHECK_EQ(2, KEVENT_CTL_MODIFY);
	CHECK_EQ(3, KEVENT_CTL_READY);
	if (KEVENT_CTL_MAX < 65536u) {
		fprintf(stderr, "KEVENT_CTL_MAX %u < 65536\n", (unsigned)KEVENT_CTL_MAX);
		failures++;
	}
	/* event bits */
	CHECK_EQ(0x1, KEVENT_SOCKET_RECV);
	CHECK_EQ(0x2, KEVENT_SOCKET_ACCEPT);
	CHECK_EQ(0x4, KEVENT_SOCKET_SEND);
	CHECK_EQ(0x1, KEVENT_PIPE_RECV);
	CHECK_EQ(0x4, KEVENT_PIPE_SEND);
	CHECK_EQ(0x1, KEVENT_NAIO_RECV);
	CHECK_EQ(0x2, KEVENT_NAIO_ACCEPT);
	CHECK_EQ(0x4, KEVENT_NAIO_SEND);
	CHECK_EQ(0x1, KEVENT_INODE_CREATE);
	CHECK_EQ(0x2, KEVENT_INODE_REMOVE);
	CHECK_EQ(0x1, KEVENT_TIMER_FIRED);
	CHECK_EQ(0x800, KEVENT_TIMER_NAMED);
	CHECK_EQ(0x1, KEVENT_SIGNAL_DELIVERY);
	CHECK_EQ(1ull << 63, KEVENT_SIGNAL_NOMASK);
	CHECK_EQ(0x1, KEVENT_PROC_EXIT);
	/* wait flags */
	CHECK_EQ(0x1, KEVENT_FLAGS_ABSTIME);
}

/* The fields are where the offsets say: fill through the members, read the bytes. */
static void check_field_bytes(void) {
	struct ukevent uk;
	unsigned char bytes[sizeof uk];
	uint32_t word;

	memset(&uk, 0, sizeof uk);
	uk.type = 0x11111111u;
	uk.event = 0x22222222u;
	uk.req_flags = 0x33333333u;
	uk.ret_flags = 0x44444444u;
	uk.ret_data[0] = 0x55555555u;
	uk.ret_data[1] = 0x66666666u;
	uk.user[0] = 0x77777777u;
	uk.user[1] = 0x88888888u;
	memcpy(bytes, &uk, sizeof bytes);
	memcpy(&word, bytes + 8, 4);
	CHECK_EQ(0x11111111u, word);
	memcpy(&word, bytes + 12, 4);
	CHECK_EQ(0x22222222u, word);
	memcpy(&word, bytes + 16, 4);
	CHECK_EQ(0x33333333u, word);
	memcpy(&word, bytes + 20, 4);
	CHECK_EQ(0x44444444u, word);
	memcpy(&word, bytes + 24, 4);
	CHECK_EQ(0x55555555u, word);
	memcpy(&word, bytes + 28, 4);
	CHECK_EQ(0x66666666u, word);
	memcpy(&word, bytes + 32, 4);
	CHECK_EQ(0x77777777u, word);
	memcpy(&word, bytes + 36, 4);
	CHECK_EQ(0x88888888u, word);
}

/* The calls have C linkage: a C program links and calls one. */
static void check_c_linkage(void) {
	struct kevent_stats st;

	memset(&st, 0, sizeof st);
	if (kevent_get_stats(-1, &st, sizeof st) != 0) {
		fprintf(stderr, "kevent_get_stats(-1) failed: %s\n", strerror(errno));
		failures++;
		return;
	}
	CHECK_EQ(0, st.queues);
}

int main(void) {
	check_layout();
	check_constants();
	check_field_bytes();
	check_c_linkage();
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	return failures ? 1 : 0;
}
