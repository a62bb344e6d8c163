// SPDX-License-Identifier: MIT
// huge_fd_add_test — found by the ABI fuzzer (issue 8).
//
// Bug: an fd-origin ADD without a kind check (POLL) on a number that is not
// open grew the queue's fd table (one 4-byte slot per number) up to that
// number before epoll_ctl said EBADF: one ukevent with id 2^31-1 made the
// library allocate 8 GiB (ENOMEM at best, the process killed at worst) —
// the kind of unchecked-input denial of service the 2006 review found.
//
// Fix: prepare_add checks that a number nobody watches yet is open
// (fcntl F_GETFD) before the table grows (src/core/queue_ctl.cpp).
#include "kevent_test.hpp"

#include <poll.h>
#include <sys/resource.h>

#include <climits>

using kevent_test::make;

namespace {

long max_rss_kb() {
	rusage ru{};
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

} // namespace

class HugeFdAdd : public kevent_test::QueueTest {};

TEST_P(HugeFdAdd, NumberNotOpenIsEbadfWithoutGrowingAnything) {
	long before = max_rss_kb();
	for (uint32_t fd : {uint32_t(INT_MAX), 1u << 30, 1u << 28}) {
		ukevent uk = make(KEVENT_POLL, fd, POLLIN);
		ASSERT_EQ(1, add(uk)) << "fd " << fd;
		EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, uk.ret_flags) << "fd " << fd;
		EXPECT_EQ(uint32_t(-EBADF), uk.ret_data[1]) << "fd " << fd << ": not ENOMEM";
	}
	// 2^28 numbers would be 1 GiB of table.
	EXPECT_LT(max_rss_kb() - before, 64 * 1024) << "the fd table grew";
	EXPECT_EQ(0u, kevent_test::queue_stats(kfd).registered);
}

KEVENT_INSTANTIATE_BACKENDS(HugeFdAdd);
