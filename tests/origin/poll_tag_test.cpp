// SPDX-License-Identifier: MIT
// poll_tag_test — kevent_poll(7): id.raw[1] of a POLL kevent is a tag, part
// of the key, so one descriptor carries independent POLL kevents (READ and
// WRITE interest as two kevents, with their own modes and cookies, removed
// one without the other); other fd origins still refuse a non-zero
// raw[1]. Both backends.
#include "kevent_test.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace kevent_test;

namespace {

ukevent tagged(int fd, uint32_t tag, unsigned events, unsigned req, uint64_t cookie) {
	kevent_id id{};
	id.raw[0] = static_cast<uint32_t>(fd);
	id.raw[1] = tag;
	return make(KEVENT_POLL, id.raw_u64, events, req | KEVENT_REQ_ALWAYS_QUEUE, cookie);
}

class PollTag : public QueueTest {};

TEST_P(PollTag, TwoTagsOnOneFdAreIndependentKevents) {
	int sv[2];
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv));
	ukevent add[2] = {tagged(sv[0], 1, POLLIN, KEVENT_REQ_LEVEL, 11),
			  tagged(sv[0], 2, POLLOUT, KEVENT_REQ_ONESHOT, 22)};
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 2, add)) << std::strerror(errno);
	auto got = collect(kfd, {22});
	ASSERT_EQ(1u, got.count(22));
	EXPECT_EQ(unsigned(POLLOUT), got[22].ret_data[0]);
	EXPECT_EQ(0u, got.count(11)) << "nothing to read yet";
	ASSERT_EQ(1, write(sv[1], "x", 1));
	got = collect(kfd, {11});
	ASSERT_EQ(1u, got.count(11));
	EXPECT_EQ(unsigned(POLLIN), got[11].ret_data[0]);
	EXPECT_EQ(0u, got.count(22)) << "the ONESHOT tag came back";
	// Removing tag 1 leaves the descriptor's other kevents alone.
	ukevent again = tagged(sv[0], 2, POLLOUT, KEVENT_REQ_LEVEL, 33);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &again));
	ukevent rm = tagged(sv[0], 1, POLLIN, 0, 0);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &rm));
	EXPECT_EQ(0u, rm.ret_flags & KEVENT_RET_BROKEN);
	got = collect(kfd, {33});
	EXPECT_EQ(1u, got.count(33));
	EXPECT_EQ(0u, got.count(11));
	ukevent rm2 = tagged(sv[0], 2, POLLOUT, 0, 0);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &rm2));
	close(sv[0]);
	close(sv[1]);
}

TEST_P(PollTag, SameTagTwiceIsEexist) {
	int p[2];
	ASSERT_EQ(0, pipe(p));
	ukevent a = tagged(p[0], 5, POLLIN, 0, 1), b = tagged(p[0], 5, POLLIN, 0, 2);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &a));
	ASSERT_EQ(1, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &b));
	EXPECT_EQ(-EEXIST, static_cast<int32_t>(b.ret_data[1]));
	ukevent rm = tagged(p[0], 5, POLLIN, 0, 0);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &rm));
	close(p[0]);
	close(p[1]);
}

TEST_P(PollTag, OtherFdOriginsRefuseATag) {
	int p[2];
	ASSERT_EQ(0, pipe(p));
	kevent_id id{};
	id.raw[0] = static_cast<uint32_t>(p[0]);
	id.raw[1] = 1;
	ukevent e = make(KEVENT_PIPE, id.raw_u64, KEVENT_PIPE_RECV);
	ASSERT_EQ(1, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &e));
	EXPECT_EQ(-EINVAL, static_cast<int32_t>(e.ret_data[1]));
	close(p[0]);
	close(p[1]);
}

KEVENT_INSTANTIATE_BACKENDS(PollTag);

} // namespace
