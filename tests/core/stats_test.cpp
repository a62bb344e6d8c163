// SPDX-License-Identifier: MIT
// stats_test.cpp — kevent_get_stats(3) and semantics.md "Statistics":
// kevent_get_stats(kfd, &st, size) for one queue and, with kfd == -1, for the
// whole process; the size protocol (only as much as both sides know is
// written); and the argument checks. Only the C ABI is used.
#include "kevent_test.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

using kevent_test::get;
using kevent_test::global_stats;
using kevent_test::make;
using kevent_test::queue_stats;

namespace {

// Statistics in a buffer larger than the struct, pre-filled with a canary.
struct canary_stats {
	static constexpr unsigned char kCanary = 0xa5;
	alignas(8) unsigned char bytes[sizeof(kevent_stats) + 64];
	canary_stats() { std::memset(bytes, kCanary, sizeof bytes); }
	kevent_stats *st() { return reinterpret_cast<kevent_stats *>(bytes); }
	// The first byte at or after `from` that is not the canary, or -1.
	long first_written_from(size_t from) const {
		for (size_t i = from; i < sizeof bytes; i++)
			if (bytes[i] != kCanary)
				return static_cast<long>(i);
		return -1;
	}
};

uint64_t sum_by_type(const kevent_stats &st) {
	uint64_t s = 0;
	for (unsigned t = 0; t < KEVENT_MAX; t++)
		s += st.registered_by_type[t];
	return s;
}

} // namespace

class Stats : public kevent_test::QueueTest {
protected:
	int ready(uint64_t id) {
		ukevent r = make(KEVENT_UNOTIFY, id, 0);
		return kevent_ctl(kfd, KEVENT_CTL_READY, 1, &r);
	}
	int remove(unsigned type, uint64_t id) {
		ukevent r = make(type, id, 0);
		int n = kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &r);
		EXPECT_EQ(KEVENT_RET_DONE, r.ret_flags);
		return n;
	}
};

TEST_P(Stats, QueueStatsReportBackendSizeAndOneQueue) {
	kevent_stats st = queue_stats(kfd);
	EXPECT_EQ(sizeof(kevent_stats), st.size);
	EXPECT_EQ(1u, st.queues);
	EXPECT_EQ(0u, st.registered);
	EXPECT_EQ(0u, st.ready);
	EXPECT_EQ(0u, st.inflight_io);
	EXPECT_EQ(0u, st.added);
	EXPECT_EQ(0u, st.removed);
	EXPECT_EQ(0u, st.delivered);
	EXPECT_EQ(0u, st.broken);
	if (GetParam().flags == KEVENT_INIT_EPOLL) {
		EXPECT_EQ(KEVENT_BACKEND_EPOLL, st.backend);
	} else {
		EXPECT_NE(0u, st.backend) << "a queue reports its backend";
	}
}

TEST_P(Stats, RegisteredAndRegisteredByTypeFollowAddAndRemove) {
	int p[2];
	ASSERT_EQ(0, ::pipe2(p, O_CLOEXEC));
	std::vector<ukevent> v = {
		make(KEVENT_UNOTIFY, 1, 0),
		make(KEVENT_UNOTIFY, 2, 0),
		make(KEVENT_UNOTIFY, 3, 0),
		make(KEVENT_TIMER, kevent_test::timer_id(60000), KEVENT_TIMER_FIRED),
		make(KEVENT_PIPE, static_cast<uint32_t>(p[0]), KEVENT_PIPE_RECV),
	};
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, static_cast<unsigned>(v.size()), v.data()));
	kevent_stats st = queue_stats(kfd);
	EXPECT_EQ(5u, st.registered);
	EXPECT_EQ(3u, st.registered_by_type[KEVENT_UNOTIFY]);
	EXPECT_EQ(1u, st.registered_by_type[KEVENT_TIMER]);
	EXPECT_EQ(1u, st.registered_by_type[KEVENT_PIPE]);
	EXPECT_EQ(st.registered, sum_by_type(st));
	EXPECT_EQ(5u, st.added);
	EXPECT_EQ(0u, st.removed);

	EXPECT_EQ(0, remove(KEVENT_UNOTIFY, 2));
	EXPECT_EQ(0, remove(KEVENT_TIMER, kevent_test::timer_id(60000)));
	st = queue_stats(kfd);
	EXPECT_EQ(3u, st.registered);
	EXPECT_EQ(2u, st.registered_by_type[KEVENT_UNOTIFY]);
	EXPECT_EQ(0u, st.registered_by_type[KEVENT_TIMER]);
	EXPECT_EQ(1u, st.registered_by_type[KEVENT_PIPE]);
	EXPECT_EQ(st.registered, sum_by_type(st));
	EXPECT_EQ(5u, st.added);
	EXPECT_EQ(2u, st.removed);

	EXPECT_EQ(0, remove(KEVENT_PIPE, static_cast<uint32_t>(p[0])));
	::close(p[0]);
	::close(p[1]);
	EXPECT_EQ(2u, queue_stats(kfd).registered);
}

TEST_P(Stats, RejectedAddsAreNotRegistered) {
	std::vector<ukevent> v = {make(KEVENT_MAX, 1, 0), make(KEVENT_UNOTIFY, 2, 0, 0x100u),
				  make(KEVENT_POSIX_TIMER, 3, 0), make(KEVENT_UNOTIFY, 4, 0)};
	ASSERT_EQ(3, kevent_ctl(kfd, KEVENT_CTL_ADD, 4, v.data()));
	kevent_stats st = queue_stats(kfd);
	EXPECT_EQ(1u, st.registered);
	EXPECT_EQ(1u, st.registered_by_type[KEVENT_UNOTIFY]);
	EXPECT_EQ(0u, st.registered_by_type[KEVENT_POSIX_TIMER]);
	EXPECT_EQ(st.registered, sum_by_type(st));
}

TEST_P(Stats, ReadyCountsTheReadyList) {
	std::vector<ukevent> v = {make(KEVENT_UNOTIFY, 1, 0), make(KEVENT_UNOTIFY, 2, 0),
				  make(KEVENT_UNOTIFY, 3, 0)};
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 3, v.data()));
	EXPECT_EQ(0u, queue_stats(kfd).ready);
	ASSERT_EQ(1, ready(1));
	ASSERT_EQ(1, ready(2));
	EXPECT_EQ(2u, queue_stats(kfd).ready);
	ASSERT_EQ(1, ready(2)); // coalesced
	EXPECT_EQ(2u, queue_stats(kfd).ready);
	ASSERT_EQ(1u, get(kfd, 1, 1, 0).size());
	EXPECT_EQ(1u, queue_stats(kfd).ready);
	ASSERT_EQ(1u, get(kfd, 1, 1, 0).size());
	EXPECT_EQ(0u, queue_stats(kfd).ready);
	// A ready-at-add ALWAYS_QUEUE entry is on the ready list too.
	ukevent aq = make(KEVENT_UNOTIFY, 4, 0, KEVENT_REQ_READY | KEVENT_REQ_ALWAYS_QUEUE);
	ASSERT_EQ(0, add(aq));
	EXPECT_EQ(1u, queue_stats(kfd).ready);
	// A removed ready kevent leaves it.
	EXPECT_EQ(0, remove(KEVENT_UNOTIFY, 4));
	EXPECT_EQ(0u, queue_stats(kfd).ready);
}

TEST_P(Stats, DeliveredCountsEveryDeliveredEvent) {
	std::vector<ukevent> v = {make(KEVENT_UNOTIFY, 1, 0), make(KEVENT_UNOTIFY, 2, 0),
				  make(KEVENT_UNOTIFY, 3, 0, KEVENT_REQ_ONESHOT)};
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 3, v.data()));
	ASSERT_EQ(1, ready(1));
	ASSERT_EQ(1, ready(3));
	ASSERT_EQ(2u, get(kfd, 1, 8, 0).size());
	kevent_stats st = queue_stats(kfd);
	EXPECT_EQ(2u, st.delivered);
	EXPECT_EQ(2u, st.registered) << "the ONESHOT kevent is gone after delivery";
	ASSERT_EQ(1, ready(1));
	ASSERT_EQ(1u, get(kfd, 1, 8, 0).size());
	EXPECT_EQ(3u, queue_stats(kfd).delivered);
	// An empty call delivers nothing.
	EXPECT_EQ(0u, get(kfd, 0, 8, 0).size());
	EXPECT_EQ(3u, queue_stats(kfd).delivered);
}

TEST_P(Stats, ProcessWideStatsCountOpenQueuesAndSumRegistrations) {
	kevent_stats g = global_stats();
	EXPECT_EQ(sizeof(kevent_stats), g.size);
	EXPECT_EQ(0u, g.backend) << "the process-wide view has no backend";
	EXPECT_EQ(1u, g.queues);
	EXPECT_EQ(0u, g.registered);

	int k2 = kevent_init(nullptr, 0, GetParam().flags);
	ASSERT_GE(k2, 0) << std::strerror(errno);
	int k3 = kevent_init(nullptr, 0, GetParam().flags);
	ASSERT_GE(k3, 0) << std::strerror(errno);
	EXPECT_EQ(3u, global_stats().queues);

	ukevent a = make(KEVENT_UNOTIFY, 1, 0);
	ASSERT_EQ(0, add(a));
	std::vector<ukevent> v = {make(KEVENT_UNOTIFY, 1, 0), make(KEVENT_UNOTIFY, 2, 0)};
	ASSERT_EQ(0, kevent_ctl(k2, KEVENT_CTL_ADD, 2, v.data()));
	g = global_stats();
	EXPECT_EQ(3u, g.registered);
	EXPECT_EQ(3u, g.registered_by_type[KEVENT_UNOTIFY]);
	EXPECT_EQ(1u, queue_stats(kfd).registered) << "a queue's view counts only itself";
	EXPECT_EQ(2u, queue_stats(k2).registered);
	EXPECT_EQ(1u, queue_stats(k2).queues);

	EXPECT_EQ(0, kevent_close(k2));
	g = global_stats();
	EXPECT_EQ(2u, g.queues);
	EXPECT_EQ(1u, g.registered);
	EXPECT_EQ(0, kevent_close(k3));
	EXPECT_EQ(1u, global_stats().queues);
}

// The size protocol: the caller's size is honoured — nothing is written past
// it, and `size` reports what was written.
TEST_P(Stats, SmallerSizeIsHonoured) {
	for (int which : {0, -1}) {
		SCOPED_TRACE(which == 0 ? "queue" : "process-wide");
		const int k = which == 0 ? kfd : -1;
		for (size_t size :
		     {offsetof(kevent_stats, queues), offsetof(kevent_stats, registered),
		      offsetof(kevent_stats, ready), sizeof(kevent_stats) - 8}) {
			canary_stats buf;
			ASSERT_EQ(0, kevent_get_stats(k, buf.st(), static_cast<unsigned>(size)))
				<< "size " << size << ": " << std::strerror(errno);
			EXPECT_EQ(-1, buf.first_written_from(size)) << "written past size " << size;
			EXPECT_EQ(size, buf.st()->size) << "size field";
		}
	}
}

TEST_P(Stats, LargerSizeWritesOnlyWhatTheLibraryKnows) {
	canary_stats buf;
	ASSERT_EQ(0, kevent_get_stats(kfd, buf.st(), sizeof buf.bytes)) << std::strerror(errno);
	EXPECT_EQ(sizeof(kevent_stats), buf.st()->size);
	EXPECT_EQ(-1, buf.first_written_from(sizeof(kevent_stats))) << "written past the library's "
								       "struct";
	EXPECT_EQ(1u, buf.st()->queues);
}

TEST_P(Stats, BadDescriptorIsEBADF) {
	int closed = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
	ASSERT_GE(closed, 0);
	::close(closed);
	for (int bad : {closed, -2, 1 << 30}) {
		canary_stats buf;
		errno = 0;
		EXPECT_EQ(-1, kevent_get_stats(bad, buf.st(), sizeof(kevent_stats)))
			<< "kfd " << bad;
		EXPECT_EQ(EBADF, errno) << "kfd " << bad;
		EXPECT_EQ(-1, buf.first_written_from(0))
			<< "kfd " << bad << ": stats written on error";
	}
	EXPECT_EQ(1u, global_stats().queues);
}

TEST_P(Stats, NonKeventDescriptorIsEINVAL) {
	int p[2];
	ASSERT_EQ(0, ::pipe2(p, O_CLOEXEC));
	canary_stats buf;
	errno = 0;
	EXPECT_EQ(-1, kevent_get_stats(p[0], buf.st(), sizeof(kevent_stats)));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, buf.first_written_from(0)) << "stats written on error";
	EXPECT_NE(-1, ::fcntl(p[0], F_GETFD)) << "the pipe was closed";
	::close(p[0]);
	::close(p[1]);
}

// Decision (documented by this test's name): NULL stats is EINVAL, both for a
// queue and for the process-wide view.
TEST_P(Stats, NullStatsIsEINVAL) {
	ukevent a = make(KEVENT_UNOTIFY, 1, 0);
	ASSERT_EQ(0, add(a));
	errno = 0;
	EXPECT_EQ(-1, kevent_get_stats(kfd, nullptr, sizeof(kevent_stats)));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, kevent_get_stats(-1, nullptr, sizeof(kevent_stats)));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(1u, queue_stats(kfd).registered);
}

KEVENT_INSTANTIATE_BACKENDS(Stats);
