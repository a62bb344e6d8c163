// SPDX-License-Identifier: MIT
// remove_of_aio_that_ran_drops_result_test — issue 21, item 6 (the class
// behind issue 14, item 3).
//
// Bug: `lseek(f, 0)`, `kevent_aio_read(kfd, f, buf, 100, -1, …)`, REMOVE:
// REMOVE said DONE with nothing delivered, yet the file position had moved
// by 100 — every time on io_uring, 19–461 times in 2,000 on epoll's file
// pool. A write at position -1 treated this way is written twice by a
// program that retries. kevent_aio_read(3): a REMOVE either cancels an
// operation that has not touched the file or socket, or hands over its
// result.
//
// Root cause: REMOVE always freed the operation. The pool waited for a
// running job and dropped its result; io_uring's cancel dropped the
// request's CQE whatever it said; a completion already on the ready list
// was freed with the kevent.
//
// Fix: REMOVE of an operation that has run (completed, on the ready list,
// or running where it cannot be stopped) fails that entry with EALREADY and
// leaves the kevent registered, delivered by the next wait with its
// result; only one cancelled before it touched anything is DONE
// (src/origin/aio.cpp withdraw, io_pool::cancel, the io_uring
// backend's cancel_io, which also turns a request still unsubmitted into a
// NOP).
#include "kevent_test.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

using kevent_test::get;
using kevent_test::make;

namespace {

constexpr int rounds = 2000;

class RemoveOfAioThatRan : public kevent_test::QueueTest {
protected:
	void SetUp() override {
		QueueTest::SetUp();
		if (IsSkipped() || HasFatalFailure())
			return;
		char path[] = "/tmp/kevent-regress-XXXXXX";
		file_ = mkstemp(path);
		ASSERT_GE(file_, 0);
		unlink(path);
		std::vector<char> content(200, 'c');
		ASSERT_EQ(200, write(file_, content.data(), content.size()));
		ASSERT_EQ(0, pipe2(pipe_, O_CLOEXEC | O_NONBLOCK));
	}

	void TearDown() override {
		QueueTest::TearDown();
		if (file_ >= 0)
			close(file_);
		for (int fd : pipe_)
			if (fd >= 0)
				close(fd);
	}

	// Round i: read (even) or write (odd) 100 bytes at the file position.
	int64_t start(int i) {
		EXPECT_EQ(0, lseek(file_, 0, SEEK_SET));
		return i % 2 == 0 ? kevent_aio_read(kfd, file_, buf_, 100, -1, uint64_t(i))
				  : kevent_aio_write(kfd, file_, data_, 100, -1, uint64_t(i));
	}

	// Something between the call and the REMOVE, so that the REMOVE
	// meets the operation at every stage: queued, running, completed and
	// collected by the backend (an ADD looks at the backend), on the
	// ready list.
	void stagger(int i) {
		switch (i / 2 % 4) {
		case 0:
			break;
		case 1:
			sched_yield();
			break;
		case 2: {
			ukevent e = make(KEVENT_POLL, uint64_t(pipe_[0]), POLLIN);
			ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &e));
			ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &e));
			break;
		}
		case 3:
			for (int k = 0; k < 2000; k++)
				asm volatile("" ::: "memory"); // a short spin
			break;
		}
	}

	ukevent remove(int i, int64_t id) {
		ukevent rm = make(KEVENT_AIO, uint64_t(id),
				  i % 2 == 0 ? KEVENT_AIO_READ : KEVENT_AIO_WRITE);
		EXPECT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &rm)) << std::strerror(errno);
		return rm;
	}

	static int32_t err_of(const ukevent &e) { return static_cast<int32_t>(e.ret_data[1]); }

	int file_ = -1;
	int pipe_[2] = {-1, -1};
	char buf_[100] = {};
	char data_[100] = {};
};

// The caller collects completions itself.
TEST_P(RemoveOfAioThatRan, PositionMovedIffResultHandedOver) {
	int cancelled = 0, handed = 0;
	for (int i = 0; i < rounds; i++) {
		int64_t id = start(i);
		ASSERT_GT(id, 0) << std::strerror(errno);
		stagger(i);
		ukevent rm = remove(i, id);
		off_t pos = lseek(file_, 0, SEEK_CUR);
		if (rm.ret_flags == KEVENT_RET_DONE) {
			cancelled++;
			ASSERT_EQ(0, pos) << "round " << i << ": REMOVE said cancelled, yet the "
					  << (i % 2 ? "write" : "read") << " moved the position";
			auto ev = get(kfd, 1, 1, 0);
			ASSERT_TRUE(ev.empty())
				<< "round " << i << ": a cancelled operation completed";
			continue;
		}
		handed++;
		ASSERT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, rm.ret_flags) << "round " << i;
		ASSERT_EQ(-EALREADY, err_of(rm)) << "round " << i;
		auto ev = get(kfd, 1, 1, 5000);
		ASSERT_EQ(1u, ev.size()) << "round " << i << ": REMOVE lost the race, nothing came";
		EXPECT_EQ(uint64_t(id), ev[0].id.raw_u64);
		EXPECT_EQ(KEVENT_RET_DONE, ev[0].ret_flags);
		ASSERT_EQ(100u, ev[0].ret_data[0]) << "round " << i;
		ASSERT_EQ(100, pos) << "round " << i;
	}
	EXPECT_EQ(0u, kevent_test::queue_stats(kfd).registered);
	std::printf("%d cancelled, %d handed over\n", cancelled, handed);
}

// Another thread waits on the queue throughout, so the operation reaches
// the kernel (io_uring) at once and its completion may be collected by that
// thread before, during or after the REMOVE: then that thread receives it.
TEST_P(RemoveOfAioThatRan, PositionMovedIffResultHandedOverWithAWaiter) {
	std::mutex mu;
	std::condition_variable cv;
	std::set<uint64_t> delivered;
	std::atomic<bool> stop{false};
	std::thread waiter([&] {
		while (!stop.load()) {
			auto ev = get(kfd, 1, 16, 20);
			std::lock_guard lk(mu);
			for (auto &e : ev) {
				EXPECT_EQ(KEVENT_RET_DONE, e.ret_flags);
				EXPECT_EQ(100u, e.ret_data[0]);
				EXPECT_TRUE(delivered.insert(e.id.raw_u64).second) << "delivered "
										      "twice";
			}
			cv.notify_all();
		}
	});
	std::set<uint64_t> handed, cancelled;
	for (int i = 0; i < rounds && !HasFailure(); i++) {
		int64_t id = start(i);
		ASSERT_GT(id, 0) << std::strerror(errno);
		stagger(i);
		ukevent rm = remove(i, id);
		off_t pos = lseek(file_, 0, SEEK_CUR);
		std::unique_lock lk(mu);
		if (rm.ret_flags == KEVENT_RET_DONE) {
			EXPECT_EQ(0, pos) << "round " << i << ": REMOVE said cancelled, yet the "
					  << (i % 2 ? "write" : "read") << " moved the position";
			cancelled.insert(uint64_t(id));
			continue;
		}
		if (rm.ret_flags != (KEVENT_RET_BROKEN | KEVENT_RET_DONE)) {
			EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, rm.ret_flags)
				<< "round " << i;
			continue;
		}
		if (err_of(rm) == -ENOENT) {
			// The waiter took the completion before the REMOVE.
			EXPECT_EQ(100, pos) << "round " << i;
			EXPECT_TRUE(cv.wait_for(lk, std::chrono::seconds(5),
						[&] { return delivered.count(uint64_t(id)) > 0; }))
				<< "round " << i << ": gone, never delivered";
			continue;
		}
		EXPECT_EQ(-EALREADY, err_of(rm)) << "round " << i;
		EXPECT_EQ(100, pos) << "round " << i;
		handed.insert(uint64_t(id));
		EXPECT_TRUE(cv.wait_for(lk, std::chrono::seconds(5),
					[&] { return delivered.count(uint64_t(id)) > 0; }))
			<< "round " << i << ": REMOVE lost the race, nothing came";
	}
	stop = true;
	waiter.join();
	// What REMOVE cancelled never came.
	std::lock_guard lk(mu);
	for (uint64_t id : cancelled)
		EXPECT_EQ(0u, delivered.count(id)) << "id " << id << ": cancelled, yet delivered";
	for (uint64_t id : handed)
		EXPECT_EQ(1u, delivered.count(id));
	EXPECT_EQ(0u, kevent_test::queue_stats(kfd).registered);
}

// accept: a connection taken by an accept that REMOVE then calls cancelled
// would be a descriptor nobody knows of. Either the connection is still in
// the backlog, or the accept is delivered with it.
TEST_P(RemoveOfAioThatRan, AcceptedConnectionIsEitherInTheBacklogOrHandedOver) {
	int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ASSERT_GE(l, 0);
	sockaddr_in sa{};
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof sa;
	ASSERT_EQ(0, bind(l, reinterpret_cast<sockaddr *>(&sa), sizeof sa));
	ASSERT_EQ(0, getsockname(l, reinterpret_cast<sockaddr *>(&sa), &len));
	ASSERT_EQ(0, listen(l, 4));
	int64_t id = kevent_aio_accept(kfd, l, SOCK_CLOEXEC, 1);
	ASSERT_GT(id, 0) << std::strerror(errno);
	EXPECT_TRUE(get(kfd, 1, 1, 0).empty()) << "submitted; nobody connects yet";
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_EQ(0, connect(c, reinterpret_cast<sockaddr *>(&sa), sizeof sa));
	std::this_thread::sleep_for(std::chrono::milliseconds(50));

	ukevent rm = make(KEVENT_NAIO, uint64_t(id), KEVENT_NAIO_ACCEPT);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &rm));
	int conn;
	if (rm.ret_flags == KEVENT_RET_DONE) {
		conn = accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
		EXPECT_GE(conn, 0) << "REMOVE said cancelled, yet the connection left the backlog";
		EXPECT_TRUE(get(kfd, 1, 1, 50).empty()) << "a cancelled accept was delivered";
	} else {
		EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, rm.ret_flags);
		EXPECT_EQ(-EALREADY, err_of(rm));
		auto ev = get(kfd, 1, 1, 5000);
		ASSERT_EQ(1u, ev.size()) << "REMOVE lost the race, nothing came";
		EXPECT_EQ(KEVENT_RET_DONE, ev[0].ret_flags);
		conn = static_cast<int>(ev[0].ret_data[0]);
		EXPECT_LT(accept4(l, nullptr, nullptr, SOCK_CLOEXEC), 0) << "accepted twice";
	}
	if (conn >= 0) {
		ASSERT_EQ(1, write(c, "!", 1));
		char ch = 0;
		EXPECT_EQ(1, read(conn, &ch, 1)) << "not the client's connection";
		close(conn);
	}
	close(c);
	close(l);
}

KEVENT_INSTANTIATE_BACKENDS(RemoveOfAioThatRan);

} // namespace
