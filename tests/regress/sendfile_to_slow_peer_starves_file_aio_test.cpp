// SPDX-License-Identifier: MIT
// sendfile_to_slow_peer_starves_file_aio_test — issue 21, item 4.
//
// Bug: four kevent_aio_sendfile calls to peers that do not read froze the
// file AIO of every queue in the process: the pool has four threads per
// process, and a sendfile to a full socket held one, polling every 50 ms,
// until the peer read. Another queue's kevent_aio_read (epoll) or
// kevent_aio_sendfile (both backends) then waited until the first queue
// was closed. kevent_aio_read(3): only the *file* calls may block a pool
// thread; one slow peer, or one queue, must not starve another.
//
// Root cause: the pool job itself waited for room in the socket.
//
// Fix: a sendfile that finds the socket full, having sent nothing, ends
// its job; the queue waits for POLLOUT through its readiness path (a
// watched dup of the socket, as NAIO send does on epoll) and only then
// hands the copy to the pool again (src/origin/aio.cpp wait_writable,
// resume_pooled; src/core/io_pool.cpp sendfile_job).
#include "kevent_test.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

using kevent_test::get;
using kevent_test::make;

namespace {

constexpr int slow_peers = 6; // more than the pool's four threads

class SendfileToSlowPeer : public kevent_test::QueueTest {
protected:
	void SetUp() override {
		QueueTest::SetUp();
		if (IsSkipped() || HasFatalFailure())
			return;
		char path[] = "/tmp/kevent-regress-XXXXXX";
		file_ = mkstemp(path);
		ASSERT_GE(file_, 0);
		unlink(path);
		std::string content(4096, 'F');
		ASSERT_EQ(4096, write(file_, content.data(), content.size()));
	}

	void TearDown() override {
		if (kfd_b_ >= 0) {
			EXPECT_EQ(0, kevent_close(kfd_b_));
		}
		QueueTest::TearDown();
		for (int fd : fds_)
			close(fd);
		if (file_ >= 0)
			close(file_);
	}

	// A non-blocking socket pair; `full`: the first end's buffer filled.
	void socket_pair(int &a, int &b, bool full) {
		int sv[2];
		ASSERT_EQ(0,
			  socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
		fds_.push_back(a = sv[0]);
		fds_.push_back(b = sv[1]);
		std::vector<char> junk(65536, 'j');
		while (full && send(a, junk.data(), junk.size(), MSG_DONTWAIT) > 0) {
		}
	}

	static size_t drain(int fd) {
		char buf[65536];
		size_t total = 0;
		ssize_t n;
		while ((n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
			total += size_t(n);
		return total;
	}

	int file_ = -1;
	int kfd_b_ = -1;
	std::vector<int> fds_;
};

TEST_P(SendfileToSlowPeer, AnotherQueuesFileIoStillCompletes) {
	// Queue A: sendfiles to peers that do not read.
	std::vector<int> a(slow_peers), b(slow_peers);
	std::vector<int64_t> ids(slow_peers);
	for (int i = 0; i < slow_peers; i++) {
		socket_pair(a[i], b[i], true);
		ids[i] = kevent_aio_sendfile(kfd, a[i], file_, 0, 4096, uint64_t(i));
		ASSERT_GT(ids[i], 0) << std::strerror(errno);
	}
	EXPECT_TRUE(get(kfd, 1, 1, 100).empty()) << "a sendfile to a full socket completed";

	// Queue B: a file read (the pool on epoll) and a sendfile to a socket
	// with room (the pool on both backends) complete while A's wait.
	kfd_b_ = kevent_init(nullptr, 0, GetParam().flags);
	ASSERT_GE(kfd_b_, 0) << std::strerror(errno);
	char buf[100];
	int64_t rd = kevent_aio_read(kfd_b_, file_, buf, sizeof buf, 0, 100);
	ASSERT_GT(rd, 0) << std::strerror(errno);
	int c, d;
	socket_pair(c, d, false);
	int64_t sf = kevent_aio_sendfile(kfd_b_, c, file_, 0, 100, 101);
	ASSERT_GT(sf, 0) << std::strerror(errno);
	std::map<uint64_t, ukevent> got;
	while (got.size() < 2) {
		auto ev = get(kfd_b_, 1, 2, 2000);
		ASSERT_FALSE(ev.empty()) << "queue B's file I/O is stuck behind queue A's "
					    "sendfiles ("
					 << got.size() << " of 2 came)";
		for (auto &e : ev)
			got[kevent_test::cookie_of(e)] = e;
	}
	EXPECT_EQ(KEVENT_RET_DONE, got[100].ret_flags);
	EXPECT_EQ(100u, got[100].ret_data[0]);
	EXPECT_EQ(KEVENT_RET_DONE, got[101].ret_flags);
	EXPECT_EQ(100u, got[101].ret_data[0]);
	EXPECT_EQ(100u, drain(d));
	EXPECT_TRUE(get(kfd, 1, 1, 0).empty()) << "A's sendfiles still wait";

	// A waiting sendfile has sent nothing: REMOVE cancels it.
	ukevent rm = make(KEVENT_NAIO, uint64_t(ids[0]), KEVENT_NAIO_SENDFILE);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &rm));
	EXPECT_EQ(KEVENT_RET_DONE, rm.ret_flags);
	size_t junk0 = drain(b[0]);
	EXPECT_GT(junk0, 0u);

	// The peers read: the others go on by readiness and complete.
	for (int i = 1; i < slow_peers; i++)
		drain(b[i]);
	std::map<uint64_t, ukevent> done;
	while (done.size() < slow_peers - 1) {
		auto ev = get(kfd, 1, slow_peers, 5000);
		ASSERT_FALSE(ev.empty()) << done.size() << " of " << slow_peers - 1 << " came";
		for (auto &e : ev) {
			EXPECT_EQ(KEVENT_RET_DONE, e.ret_flags) << kevent_test::cookie_of(e);
			EXPECT_GT(e.ret_data[0], 0u);
			EXPECT_NE(0u, kevent_test::cookie_of(e)) << "the removed one completed";
			done[kevent_test::cookie_of(e)] = e;
		}
	}
	EXPECT_EQ(0u, drain(b[0])) << "a cancelled sendfile sent";
	EXPECT_EQ(0u, kevent_test::queue_stats(kfd).inflight_io);
}

KEVENT_INSTANTIATE_BACKENDS(SendfileToSlowPeer);

} // namespace
