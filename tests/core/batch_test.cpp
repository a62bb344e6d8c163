// SPDX-License-Identifier: MIT
// Batch work (issue "The kevent core", item 6): an ADD of N fd kevents costs
// one epoll_ctl per fd and ONE look at the backend for readiness, not one
// readiness check per kevent. Counted with the queue's backend_calls
// statistic, which counts every system call the backend makes.
#include "kevent_test.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace {

using kevent_test::QueueTest;

class Batch : public QueueTest {};

struct socket_pairs {
	std::vector<int> fds;
	explicit socket_pairs(int n) {
		for (int i = 0; i < n; i++) {
			int sv[2];
			if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
				fds.push_back(sv[0]);
				fds.push_back(sv[1]);
			}
		}
	}
	~socket_pairs() {
		for (int fd : fds)
			close(fd);
	}
};

// N POLL kevents, half of them ready at ADD: N epoll_ctl + 1 epoll_wait, and
// a DEL for each of the ready half, which ADD does not keep (kevent_ctl(3)).
TEST_P(Batch, AddOfNPollKeventsIsNWatchesAndOneLook) {
	constexpr int pairs = 64;
	socket_pairs sp(pairs);
	ASSERT_EQ(2u * pairs, sp.fds.size());
	std::vector<ukevent> uk;
	for (int i = 0; i < 2 * pairs; i++) {
		// Even fds get data to read: ready at ADD.
		if (i % 2 == 1) {
			ASSERT_EQ(1, write(sp.fds[i], "x", 1));
		}
		uk.push_back(
			kevent_test::make(KEVENT_POLL, static_cast<uint64_t>(sp.fds[i]), POLLIN));
	}
	uint64_t before = kevent_test::queue_stats(kfd).backend_calls;
	int copied = kevent_ctl(kfd, KEVENT_CTL_ADD, static_cast<unsigned>(uk.size()), uk.data());
	uint64_t calls = kevent_test::queue_stats(kfd).backend_calls - before;
	EXPECT_EQ(pairs, copied) << "the ready half is copied back";
	// One epoll_ctl per fd, one epoll_wait(0) for the whole batch, and an
	// EPOLL_CTL_DEL for each kevent that was ready and so is not kept. On
	// io_uring the call also submits those watches' POLL_REMOVEs before it
	// returns (one io_uring_enter): a poll holds its file open; and the
	// queue's first watch registers its fixed-file table (one
	// io_uring_register in the queue's life).
	const uint64_t settle = GetParam().flags == KEVENT_INIT_URING ? 1 : 0;
	const uint64_t table = GetParam().flags == KEVENT_INIT_URING ? 1 : 0;
	EXPECT_EQ(uint64_t(2 * pairs + 1 + pairs) + settle + table, calls) << "one epoll_ctl per "
									      "fd, one "
									      "epoll_wait(0) for "
									      "the "
									      "batch, one DEL per "
									      "copy-back";
	for (int i = 0; i < copied; i++) {
		EXPECT_EQ(KEVENT_RET_DONE, uk[i].ret_flags);
	}
	std::vector<ukevent> rm;
	for (int i = 0; i < 2 * pairs; i += 2)
		rm.push_back(
			kevent_test::make(KEVENT_POLL, static_cast<uint64_t>(sp.fds[i]), POLLIN));
	EXPECT_EQ(0,
		  kevent_ctl(kfd, KEVENT_CTL_REMOVE, static_cast<unsigned>(rm.size()), rm.data()));
}

// The look costs one call whatever the batch size.
TEST_P(Batch, ReadinessLookDoesNotGrowWithTheBatch) {
	for (int pairs : {1, 16, 256}) {
		socket_pairs sp(pairs);
		std::vector<ukevent> uk;
		for (int i = 0; i < pairs; i++)
			uk.push_back(kevent_test::make(
				KEVENT_POLL, static_cast<uint64_t>(sp.fds[2 * i]), POLLIN));
		// io_uring submits lazily: let the last REMOVE's SQEs go first,
		// so that a full SQ does not cost this ADD a submission.
		ukevent none[1];
		timespec zero{};
		ASSERT_EQ(0, kevent_get_events(kfd, 0, 1, &zero, none, 0));
		uint64_t before = kevent_test::queue_stats(kfd).backend_calls;
		ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, static_cast<unsigned>(uk.size()),
					uk.data()));
		// io_uring: the queue's first watch also registers its
		// fixed-file table, once in the queue's life.
		const uint64_t table = GetParam().flags == KEVENT_INIT_URING && pairs == 1 ? 1 : 0;
		EXPECT_EQ(uint64_t(pairs + 1) + table,
			  kevent_test::queue_stats(kfd).backend_calls - before)
			<< pairs << " kevents";
		ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, static_cast<unsigned>(uk.size()),
					uk.data()));
	}
}

KEVENT_INSTANTIATE_BACKENDS(Batch);

} // namespace
