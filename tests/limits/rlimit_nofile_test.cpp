// SPDX-License-Identifier: MIT
// Limits (issue 8, part 4): RLIMIT_NOFILE exhausted. Every entry point that
// needs a descriptor says EMFILE — kevent_init for its epoll file, an ADD
// for the origin's own descriptor (the first timer's timerfd, a pidfd, the
// inotify instance) in the entry — and the queue works again once
// descriptors are free.
#include "kevent_test.hpp"

#include <fcntl.h>
#include <set>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using namespace kevent_test;

class RlimitNofile : public QueueTest {
protected:
	void SetUp() override {
		QueueTest::SetUp();
		ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &old_));
	}
	void TearDown() override {
		release();
		setrlimit(RLIMIT_NOFILE, &old_);
		QueueTest::TearDown();
	}
	// Take every free descriptor below a low soft limit.
	void exhaust() {
		rlimit low = old_;
		low.rlim_cur = 256;
		ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &low));
		for (;;) {
			int fd = fcntl(0, F_DUPFD_CLOEXEC, 0);
			if (fd < 0) {
				ASSERT_EQ(EMFILE, errno);
				break;
			}
			held_.push_back(fd);
		}
	}
	void release() {
		for (int fd : held_)
			close(fd);
		held_.clear();
	}
	rlimit old_{};
	std::vector<int> held_;
};

TEST_P(RlimitNofile, EveryEntryPointSaysEmfile) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	GTEST_SKIP() << "sanitizer build: the runtime needs descriptors of its own (UBSan's vptr "
			"check opens a pipe to probe memory) and reports false errors when the "
			"table is full; the default preset runs this case";
#endif
	int p[2];
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC | O_NONBLOCK));
	pid_t child = fork();
	ASSERT_GE(child, 0);
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); // never outlive a crashed test
		pause();
		_exit(0);
	}
	struct reap {
		pid_t pid;
		~reap() {
			kill(pid, SIGKILL);
			waitpid(pid, nullptr, 0);
		}
	} reaper{child};
	char dir[] = "/tmp/kevent-nofile-XXXXXX";
	ASSERT_NE(nullptr, mkdtemp(dir));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_GE(dfd, 0);

	exhaust();
	EXPECT_EQ(-1, kevent_init(nullptr, 0, GetParam().flags));
	EXPECT_EQ(EMFILE, errno);
	// The first timer of a queue needs a timerfd on epoll; on io_uring a
	// deadline is an io_uring timeout, no descriptor.
	const bool timer_needs_fd = GetParam().flags != KEVENT_INIT_URING;
	ukevent need_fd[] = {
		make(KEVENT_PROC, uint32_t(child), KEVENT_PROC_EXIT, 0, 2),
		make(KEVENT_INODE, uint32_t(dfd), KEVENT_INODE_CREATE, 0, 3),
		make(KEVENT_TIMER, timer_id(60000), KEVENT_TIMER_FIRED, 0, 1),
		make(KEVENT_PIPE, uint32_t(p[0]), KEVENT_PIPE_RECV, 0, 4), // needs none
	};
	const int failing = timer_needs_fd ? 3 : 2;
	ASSERT_EQ(failing, kevent_ctl(kfd, KEVENT_CTL_ADD, 4, need_fd));
	for (int i = 0; i < failing; i++) {
		EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, need_fd[i].ret_flags);
		EXPECT_EQ(uint32_t(-EMFILE), need_fd[i].ret_data[1]) << "type " << need_fd[i].type;
	}
	EXPECT_EQ(timer_needs_fd ? 1u : 2u, queue_stats(kfd).registered);
	if (!timer_needs_fd) {
		ukevent rm = make(KEVENT_TIMER, timer_id(60000), KEVENT_TIMER_FIRED);
		ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &rm));
	}
	ASSERT_EQ(1, write(p[1], "x", 1)); // the queue itself still works
	auto got = get(kfd, 1, 4, 2000);
	ASSERT_EQ(1u, got.size());
	EXPECT_EQ(4u, cookie_of(got[0]));

	// Descriptors free again: the same entries register and fire. (50 ms:
	// a 1 ms timer could fall due during a slow ADD and be copied back.)
	release();
	ukevent again[] = {
		make(KEVENT_TIMER, timer_id(50), KEVENT_TIMER_FIRED, KEVENT_REQ_ONESHOT, 5),
		make(KEVENT_PROC, uint32_t(child), KEVENT_PROC_EXIT | KEVENT_PROC_REAP, 0, 6),
		make(KEVENT_INODE, uint32_t(dfd), KEVENT_INODE_CREATE, 0, 7),
	};
	EXPECT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 3, again))
		<< "type " << again[0].type << ": " << -int(again[0].ret_data[1]);
	kill(child, SIGKILL);
	std::string f = std::string(dir) + "/made";
	close(open(f.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
	std::set<uint64_t> cookies;
	for (int i = 0; i < 10 && cookies.size() < 3; i++)
		for (const ukevent &e : get(kfd, 1, 4, 1000))
			cookies.insert(cookie_of(e));
	EXPECT_EQ((std::set<uint64_t>{5, 6, 7}), cookies);
	int kfd2 = kevent_init(nullptr, 0, GetParam().flags);
	EXPECT_GE(kfd2, 0);
	kevent_close(kfd2);
	unlink(f.c_str());
	close(dfd);
	rmdir(dir);
	close(p[0]);
	close(p[1]);
}

KEVENT_INSTANTIATE_BACKENDS(RlimitNofile);

} // namespace
