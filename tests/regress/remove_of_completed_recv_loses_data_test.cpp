// SPDX-License-Identifier: MIT
// remove_of_completed_recv_loses_data_test — issue 14, item 3.
//
// Bug: on io_uring, REMOVE of a kevent_aio_recv that had completed in the
// kernel but whose completion was not yet collected reported DONE, as if
// cancelled: the cancel's drain dropped the request's CQE (it was in the
// backend's `cancelling_` set), so the 8 bytes were consumed from the socket
// into the buffer and no count ever reached the program. kevent_aio_read(3):
// data a cancelled recv had not taken stays in the socket.
//
// Root cause: cancel_io treated every CQE of a request it cancelled as a
// cancellation, whatever its result.
//
// Fix: cancel_io reports what the request's own CQE says (-ECANCELED or
// -EINTR: cancelled; otherwise its result); a REMOVE that lost the race
// fails with EALREADY and the operation stays registered, delivered by the
// next wait with its result (src/origin/aio.cpp withdraw,
// src/backend/uring/uring_backend.cpp cancel_io).
#include "kevent_test.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

using kevent_test::get;
using kevent_test::make;

namespace {

class RemoveOfCompletedRecv : public kevent_test::QueueTest {
protected:
	struct pair {
		int a = -1, b = -1;
	};

	pair socket_pair() {
		int sv[2];
		EXPECT_EQ(0,
			  socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
		pairs_.push_back({sv[0], sv[1]});
		return pairs_.back();
	}

	void TearDown() override {
		QueueTest::TearDown();
		for (pair &p : pairs_) {
			close(p.a);
			close(p.b);
		}
	}

	// REMOVE of operation `id`: the entry as written back.
	ukevent remove(int64_t id) {
		ukevent rm = make(KEVENT_NAIO, uint64_t(id), KEVENT_NAIO_RECV);
		EXPECT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &rm)) << std::strerror(errno);
		return rm;
	}

	static int32_t err_of(const ukevent &e) { return static_cast<int32_t>(e.ret_data[1]); }

	// What is still in the socket (non-blocking).
	static std::string unread(int fd) {
		char buf[256];
		ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
		return n > 0 ? std::string(buf, size_t(n)) : std::string();
	}

private:
	std::vector<pair> pairs_;
};

TEST_P(RemoveOfCompletedRecv, EightBytesAreEitherLeftInTheSocketOrHandedOver) {
	pair p = socket_pair();
	char buf[64] = {};
	int64_t id = kevent_aio_recv(kfd, p.a, buf, sizeof buf, 0, 7);
	ASSERT_GT(id, 0) << std::strerror(errno);
	EXPECT_TRUE(get(kfd, 1, 1, 0).empty()) << "submitted; nothing to receive yet";
	ASSERT_EQ(8, write(p.b, "12345678", 8));
	std::this_thread::sleep_for(std::chrono::milliseconds(100));

	ukevent rm = remove(id);
	if (rm.ret_flags == KEVENT_RET_DONE) {
		// Cancelled: the data is still the socket's, nothing comes.
		EXPECT_EQ("12345678", unread(p.a)) << "REMOVE said cancelled, the data is gone";
		EXPECT_TRUE(get(kfd, 1, 1, 50).empty()) << "a cancelled recv was delivered";
		return;
	}
	// Lost the race: the completion is handed over by the next wait.
	ASSERT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, rm.ret_flags);
	EXPECT_EQ(-EALREADY, err_of(rm));
	auto ev = get(kfd, 1, 1, 5000);
	ASSERT_EQ(1u, ev.size()) << "REMOVE lost the race, yet no completion came";
	EXPECT_EQ(uint64_t(id), ev[0].id.raw_u64);
	EXPECT_EQ(KEVENT_RET_DONE, ev[0].ret_flags);
	EXPECT_EQ(8u, ev[0].ret_data[0]);
	EXPECT_EQ("12345678", std::string(buf, 8));
	EXPECT_EQ("", unread(p.a));
	EXPECT_EQ(0u, kevent_test::queue_stats(kfd).registered);
}

// The stress form: 128 receives, data for each, REMOVE of all in one batch
// at staggered moments. Every byte is accounted for exactly once: left in
// its socket (REMOVE DONE) or delivered (REMOVE EALREADY).
TEST_P(RemoveOfCompletedRecv, StressOf128OperationsLosesNoByte) {
	constexpr int ops = 128;
	std::vector<pair> ps;
	std::vector<int64_t> ids;
	std::vector<char> bufs(ops * 16);
	for (int i = 0; i < ops; i++) {
		ps.push_back(socket_pair());
		int64_t id = kevent_aio_recv(kfd, ps[i].a, &bufs[i * 16], 16, 0, uint64_t(i));
		ASSERT_GT(id, 0) << std::strerror(errno);
		ids.push_back(id);
	}
	EXPECT_TRUE(get(kfd, 1, 1, 0).empty()) << "submitted; nothing to receive yet";
	for (int i = 0; i < ops; i++)
		ASSERT_EQ(8, write(ps[i].b, "abcdefgh", 8));
	// Half of them get time to complete; the rest race the REMOVE.
	std::vector<ukevent> rm(ops);
	for (int i = 0; i < ops; i++)
		rm[i] = make(KEVENT_NAIO, uint64_t(ids[i]), KEVENT_NAIO_RECV);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, ops / 2, rm.data()));
	std::this_thread::sleep_for(std::chrono::milliseconds(50));
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, ops / 2, rm.data() + ops / 2));

	std::vector<bool> handed(ops);
	int expected = 0;
	for (int i = 0; i < ops; i++) {
		if (rm[i].ret_flags == KEVENT_RET_DONE) {
			EXPECT_EQ("abcdefgh", unread(ps[i].a))
				<< "op " << i << ": cancelled, data gone";
			continue;
		}
		EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, rm[i].ret_flags) << "op " << i;
		EXPECT_EQ(-EALREADY, err_of(rm[i])) << "op " << i;
		handed[i] = true;
		expected++;
	}
	std::vector<bool> seen(ops);
	int got = 0;
	while (got < expected) {
		auto ev = get(kfd, 1, ops, 5000);
		ASSERT_FALSE(ev.empty()) << got << " of " << expected << " handed-over completions";
		for (auto &e : ev) {
			uint64_t c = kevent_test::cookie_of(e);
			ASSERT_LT(c, uint64_t(ops));
			EXPECT_TRUE(handed[c]) << "op " << c << ": cancelled, yet delivered";
			EXPECT_FALSE(seen[c]) << "op " << c << ": delivered twice";
			seen[c] = true;
			EXPECT_EQ(KEVENT_RET_DONE, e.ret_flags);
			EXPECT_EQ(8u, e.ret_data[0]);
			EXPECT_EQ("abcdefgh", std::string(&bufs[c * 16], 8));
			EXPECT_EQ("", unread(ps[c].a)) << "op " << c;
			got++;
		}
	}
	EXPECT_TRUE(get(kfd, 1, 1, 50).empty());
	EXPECT_EQ(0u, kevent_test::queue_stats(kfd).registered);
}

KEVENT_INSTANTIATE_BACKENDS(RemoveOfCompletedRecv);

} // namespace
