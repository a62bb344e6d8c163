// SPDX-License-Identifier: MIT
// inode_names_test — kevent_inode_names(3): every name of a 10,000-file
// burst is returned exactly once; a buffer too small for one record, or for
// all of them, keeps what it could not take; the argument checks; and when
// names are handed over (at delivery), kept (after a ONESHOT delivery, across
// deliveries until read) and dropped (the same id added again).
#include "inode_fixture.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <map>
#include <string>

namespace {

using namespace kevent_origin;
using namespace kevent_inode_test;

// kevent_inode(7) "The special problem of names": a user learns which name
// changed. Tested with a burst of 10,000 files created before anyone looks.
TEST_P(Inode, TenThousandFilesInABurstEveryNameIsReturnedExactlyOnce) {
	constexpr int count = 10000;
	tmpdir d;
	add_armed(watch(d.fd(), KEVENT_INODE_CREATE));
	for (int i = 0; i < count; i++) {
		int fd = ::open((d / ("file-" + std::to_string(i))).c_str(),
				O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		ASSERT_GE(fd, 0) << i << ": " << std::strerror(errno);
		::close(fd);
	}
	std::map<std::string, int> seen;
	size_t deliveries = 0, handed = 0;
	for (;;) {
		auto ev = get(kfd, 1, 8, 300);
		if (ev.empty())
			break;
		for (const auto &e : ev) {
			deliveries++;
			EXPECT_EQ(0u, e.ret_flags) << describe(e);
			EXPECT_EQ(0u, e.ret_data[0] & KEVENT_INODE_OVERFLOW) << describe(e);
			handed += e.ret_data[1];
			for (const auto &n : all_names(kfd, e)) {
				EXPECT_EQ(KEVENT_INODE_CREATE, n.event) << n;
				seen[n.name]++;
			}
		}
	}
	EXPECT_GE(deliveries, 1u);
	EXPECT_EQ(static_cast<size_t>(count), handed) << "sum of ret_data[1]";
	EXPECT_EQ(static_cast<size_t>(count), seen.size());
	int twice = 0, missing = 0;
	for (int i = 0; i < count; i++) {
		auto it = seen.find("file-" + std::to_string(i));
		if (it == seen.end())
			missing++;
		else if (it->second != 1)
			twice++;
	}
	EXPECT_EQ(0, missing) << "names never returned";
	EXPECT_EQ(0, twice) << "names returned more than once";
}

TEST_P(Inode, NamesWithABufferTooSmallForOneRecordIsEinvalAndKeepsThem) {
	tmpdir d;
	add_armed(watch(d.fd(), KEVENT_INODE_CREATE));
	touch(d / "a-rather-long-name-for-a-small-buffer");
	auto ev = get(kfd, 1, 8, 2000);
	ASSERT_EQ(1u, ev.size());
	alignas(8) char small[16];
	errno = 0;
	EXPECT_EQ(-1, kevent_inode_names(kfd, &ev[0], small, sizeof small));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, kevent_inode_names(kfd, &ev[0], small, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ((names{{KEVENT_INODE_CREATE, "a-rather-long-name-for-a-small-buffer"}}),
		  all_names(kfd, ev[0]))
		<< "a failed call must not consume the name";
}

TEST_P(Inode, NamesWithABufferForTwoRecordsReturnsTwoAndKeepsTheRest) {
	tmpdir d;
	add_armed(watch(d.fd(), KEVENT_INODE_CREATE));
	for (int i = 0; i < 5; i++)
		touch(d / ("n" + std::to_string(i))); // "nK\0" + padding: 8 bytes of name
	auto ev = get(kfd, 1, 8, 2000);
	ASSERT_EQ(1u, ev.size());
	ASSERT_EQ(5u, ev[0].ret_data[1]) << describe(ev[0]);
	constexpr unsigned rec = sizeof(kevent_inode_name) + 8;
	alignas(8) char buf[2 * rec + rec / 2]; // room for two, not three
	int n = kevent_inode_names(kfd, &ev[0], buf, sizeof buf);
	ASSERT_EQ(static_cast<int>(2 * rec), n) << std::strerror(errno);
	EXPECT_EQ((names{{KEVENT_INODE_CREATE, "n0"}, {KEVENT_INODE_CREATE, "n1"}}),
		  parse_names(buf, n));
	EXPECT_EQ((names{{KEVENT_INODE_CREATE, "n2"},
			 {KEVENT_INODE_CREATE, "n3"},
			 {KEVENT_INODE_CREATE, "n4"}}),
		  all_names(kfd, ev[0]));
	EXPECT_EQ(0, kevent_inode_names(kfd, &ev[0], buf, sizeof buf)) << "all read";
}

TEST_P(Inode, NamesArgumentChecks) {
	tmpdir d;
	add_armed(watch(d.fd(), KEVENT_INODE_CREATE));
	touch(d / "a");
	auto ev = get(kfd, 1, 8, 2000);
	ASSERT_EQ(1u, ev.size());
	alignas(8) char buf[256];
	errno = 0;
	EXPECT_EQ(-1, kevent_inode_names(kfd, nullptr, buf, sizeof buf));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, kevent_inode_names(kfd, &ev[0], nullptr, sizeof buf));
	EXPECT_EQ(EINVAL, errno);
	ukevent wrong = ev[0];
	wrong.type = KEVENT_SOCKET;
	errno = 0;
	EXPECT_EQ(-1, kevent_inode_names(kfd, &wrong, buf, sizeof buf));
	EXPECT_EQ(EINVAL, errno);
	unique_fd not_kevent(::open("/dev/null", O_RDONLY | O_CLOEXEC));
	errno = 0;
	EXPECT_EQ(-1, kevent_inode_names(not_kevent.get(), &ev[0], buf, sizeof buf));
	EXPECT_EQ(EINVAL, errno);
	int closed = not_kevent.release();
	::close(closed);
	errno = 0;
	EXPECT_EQ(-1, kevent_inode_names(closed, &ev[0], buf, sizeof buf));
	EXPECT_EQ(EBADF, errno);
	// Still there after all that.
	EXPECT_EQ((names{{KEVENT_INODE_CREATE, "a"}}), all_names(kfd, ev[0]));
}

TEST_P(Inode, NamesOfAnUnknownKeventAreNone) {
	tmpdir d;
	alignas(8) char buf[256];
	ukevent e = watch(d.fd(), KEVENT_INODE_CREATE);
	EXPECT_EQ(0, kevent_inode_names(kfd, &e, buf, sizeof buf)) << std::strerror(errno);
	add_armed(e);
	EXPECT_EQ(0, kevent_inode_names(kfd, &e, buf, sizeof buf)) << "nothing delivered yet";
}

TEST_P(Inode, NamesAreOnlyHandedOverAtDelivery) {
	tmpdir d;
	ukevent e = watch(d.fd(), KEVENT_INODE_CREATE);
	add_armed(e);
	touch(d / "a");
	alignas(8) char buf[256];
	// Not delivered yet: the names wait with the kevent, not for the reader.
	EXPECT_EQ(0, kevent_inode_names(kfd, &e, buf, sizeof buf));
	auto [ev, n] = one(d.fd());
	EXPECT_EQ((names{{KEVENT_INODE_CREATE, "a"}}), n);
}

TEST_P(Inode, NamesStayReadableAfterAOneshotDelivery) {
	tmpdir d;
	add_armed(watch(d.fd(), KEVENT_INODE_CREATE, KEVENT_REQ_ONESHOT));
	touch(d / "a");
	touch(d / "b");
	auto ev = get(kfd, 1, 8, 2000);
	ASSERT_EQ(1u, ev.size());
	EXPECT_EQ(KEVENT_RET_DONE, ev[0].ret_flags);
	EXPECT_EQ(0u, queue_stats(kfd).registered);
	EXPECT_EQ((names{{KEVENT_INODE_CREATE, "a"}, {KEVENT_INODE_CREATE, "b"}}),
		  all_names(kfd, ev[0]));
}

TEST_P(Inode, NamesLeftUnreadAreDroppedWhenTheSameIdIsAddedAgain) {
	tmpdir d;
	add_armed(watch(d.fd(), KEVENT_INODE_CREATE, KEVENT_REQ_ONESHOT));
	touch(d / "a");
	auto ev = get(kfd, 1, 8, 2000);
	ASSERT_EQ(1u, ev.size());
	add_armed(watch(d.fd(), KEVENT_INODE_CREATE));
	alignas(8) char buf[256];
	EXPECT_EQ(0, kevent_inode_names(kfd, &ev[0], buf, sizeof buf)) << "a new kevent with the "
									  "same id starts afresh";
}

TEST_P(Inode, NamesAccumulateOverDeliveriesUntilRead) {
	tmpdir d;
	add_armed(watch(d.fd(), KEVENT_INODE_CREATE));
	touch(d / "a");
	auto ev1 = get(kfd, 1, 8, 2000);
	ASSERT_EQ(1u, ev1.size());
	touch(d / "b");
	auto ev2 = get(kfd, 1, 8, 2000);
	ASSERT_EQ(1u, ev2.size());
	EXPECT_EQ(1u, ev2[0].ret_data[1]) << "ret_data[1] counts this delivery's names";
	EXPECT_EQ((names{{KEVENT_INODE_CREATE, "a"}, {KEVENT_INODE_CREATE, "b"}}),
		  all_names(kfd, ev2[0]));
}

KEVENT_INSTANTIATE_BACKENDS(Inode);

} // namespace
