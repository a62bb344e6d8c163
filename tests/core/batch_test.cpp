// SPDX-License-Identifier: MIT
// Batch work (issue "The kevent core", item 6): an ADD of N fd kevents costs
// one epoll_ctl per fd and ONE look at the backend for readiness, not one
// readiness check per kevent. Counted with the queue's backend_calls
// statistic, which counts every system call the backend makes.
#include "kevent_test.hpp"

#include <cerrno>
#include <cstdlib>
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
	// epoll: one epoll_ctl per fd, one epoll_wait(0) for the whole batch,
	// and an EPOLL_CTL_DEL for each kevent that was ready and so is not
	// kept. io_uring: the look's one io_uring_enter submits every watch
	// (its poll and its mirror's EPOLL_CTL_ADD are SQEs), and the call
	// submits the copied-back watches' removals before it returns (one
	// more: a poll holds its file open); the queue's first watch
	// registers its fixed-file table (one io_uring_register in the
	// queue's life).
	const bool uring = GetParam().flags == KEVENT_INIT_URING;
	EXPECT_EQ(uring ? 3u : uint64_t(2 * pairs + 1 + pairs), calls)
		<< "epoll: one epoll_ctl per fd, one epoll_wait(0) for the batch, one DEL per "
		   "copy-back; io_uring: one submission each way, and the table";
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
		// epoll: an epoll_ctl per fd and the look. io_uring: the look
		// submits every watch in its one io_uring_enter; the queue's
		// first watch also registers its fixed-file table, once in the
		// queue's life.
		const bool uring = GetParam().flags == KEVENT_INIT_URING;
		const uint64_t table = uring && pairs == 1 ? 1 : 0;
		EXPECT_EQ((uring ? 1u : uint64_t(pairs + 1)) + table,
			  kevent_test::queue_stats(kfd).backend_calls - before)
			<< pairs << " kevents";
		ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, static_cast<unsigned>(uk.size()),
					uk.data()));
	}
}

// Issue 17: on io_uring an ADD batch of 1,000 sockets and its REMOVE batch
// cost one io_uring_enter each, as raw io_uring's polls would (the watch
// set's changes ride in the same submission); on epoll, an epoll_ctl per
// socket each way (and the ADD's look).
TEST_P(Batch, AddAndRemoveOfThousandSocketsCostOneSubmissionEach) {
	constexpr int n = 1000;
	socket_pairs sp(n);
	ASSERT_EQ(2u * n, sp.fds.size());
	std::vector<ukevent> uk;
	for (int i = 0; i < n; i++)
		uk.push_back(kevent_test::make(KEVENT_SOCKET, static_cast<uint64_t>(sp.fds[2 * i]),
					       KEVENT_SOCKET_RECV));
	// The queue's first watch registers the fixed-file table: not part
	// of the batch's cost.
	{
		socket_pairs one(1);
		ukevent first = kevent_test::make(KEVENT_SOCKET, static_cast<uint64_t>(one.fds[0]),
						  KEVENT_SOCKET_RECV);
		ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &first));
		ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &first));
	}
	const bool uring = GetParam().flags == KEVENT_INIT_URING;
	uint64_t before = kevent_test::queue_stats(kfd).backend_calls;
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, n, uk.data()));
	uint64_t add = kevent_test::queue_stats(kfd).backend_calls - before;
	EXPECT_EQ(uring ? 1u : uint64_t(n + 1), add) << "ADD of " << n << " sockets";
	// Every one is watched: data on each is reported.
	for (int i = 0; i < n; i++)
		ASSERT_EQ(1, write(sp.fds[2 * i + 1], "x", 1));
	std::vector<ukevent> got(n);
	int seen = 0;
	timespec zero{};
	for (int round = 0; round < 4 && seen < n; round++) {
		int r = kevent_get_events(kfd, 0, n, &zero, got.data() + seen, 0);
		ASSERT_GE(r, 0);
		seen += r;
	}
	EXPECT_EQ(n, seen);
	before = kevent_test::queue_stats(kfd).backend_calls;
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, n, uk.data()));
	uint64_t rm = kevent_test::queue_stats(kfd).backend_calls - before;
	EXPECT_EQ(uring ? 1u : uint64_t(n), rm) << "REMOVE of " << n << " sockets";
}

// A batch whose watches reach the kernel together (io_uring: the mirror's
// ADD is an SQE of the batch's one submission) still fails only the entry
// the kernel refuses, with kevent_ctl(3)'s errno, and watches the others.
TEST_P(Batch, OneRefusedEntryFailsAloneInTheBatch) {
	socket_pairs sp(2);
	ASSERT_EQ(4u, sp.fds.size());
	char path[] = "/tmp/kevent_batch_XXXXXX";
	int file = mkstemp(path);
	ASSERT_GE(file, 0);
	unlink(path);
	ukevent uk[3] = {
		kevent_test::make(KEVENT_POLL, static_cast<uint64_t>(sp.fds[0]), POLLIN, 0, 1),
		kevent_test::make(KEVENT_POLL, static_cast<uint64_t>(file), POLLIN, 0, 2),
		kevent_test::make(KEVENT_POLL, static_cast<uint64_t>(sp.fds[2]), POLLIN, 0, 3),
	};
	ASSERT_EQ(1, kevent_ctl(kfd, KEVENT_CTL_ADD, 3, uk));
	EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, uk[0].ret_flags);
	EXPECT_EQ(uint32_t(-EINVAL), uk[0].ret_data[1]) << "a regular file: epoll's EPERM";
	EXPECT_EQ(2u, uk[0].user[0]);
	close(file);
	ASSERT_EQ(1, write(sp.fds[3], "x", 1));
	ASSERT_EQ(1, write(sp.fds[1], "x", 1));
	auto got = kevent_test::get(kfd, 2, 4, 1000);
	ASSERT_EQ(2u, got.size());
	EXPECT_EQ(1u + 3u, got[0].user[0] + got[1].user[0]);
}

// Two kevents on one socket in one ADD batch: the second finds the first's
// watch, whose number is checked (probe) before its io_uring submission has
// happened; it must not be taken for a reused number (both stay, both fire).
TEST_P(Batch, TwoKeventsOnOneSocketInOneBatch) {
	socket_pairs sp(1);
	ASSERT_EQ(2u, sp.fds.size());
	ukevent uk[2] = {
		kevent_test::make(KEVENT_SOCKET, static_cast<uint64_t>(sp.fds[0]),
				  KEVENT_SOCKET_RECV, 0, 1),
		kevent_test::make(KEVENT_POLL, static_cast<uint64_t>(sp.fds[0]), POLLIN, 0, 2),
	};
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 2, uk));
	ASSERT_EQ(1, write(sp.fds[1], "x", 1));
	auto got = kevent_test::get(kfd, 2, 4, 1000);
	ASSERT_EQ(2u, got.size());
	for (const ukevent &e : got)
		EXPECT_EQ(0u, e.ret_flags & KEVENT_RET_BROKEN) << kevent_test::cookie_of(e);
}

KEVENT_INSTANTIATE_BACKENDS(Batch);

} // namespace
