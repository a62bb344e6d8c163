// SPDX-License-Identifier: MIT
// The kqueue descriptor (kqueue(3), docs/kqueue.md): pollable, nestable in
// another kqueue, not in itself; kqueue1(O_CLOEXEC); close(kq) frees it
// (its libkevent queue and every descriptor of that queue) and wakes its
// waiters; after fork the child's copy is closed and the parent's works.
#include "kq_test.hpp"

#include <dirent.h>
#include <poll.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

using namespace kq_test;
using KqDescriptor = KqTest;

TEST_P(KqDescriptor, PollableAndNestable) {
	int outer = kqueue();
	ASSERT_GE(outer, 0);
	ASSERT_EQ(0, change(outer, kq, EVFILT_READ, EV_ADD));
	EXPECT_TRUE(poll_events(outer).empty());
	ASSERT_EQ(0, change(kq, 3, EVFILT_USER, EV_ADD, NOTE_TRIGGER));
	pollfd pfd{kq, POLLIN, 0};
	EXPECT_EQ(1, poll(&pfd, 1, 2000));
	struct kevent ev[1];
	ASSERT_EQ(1, wait(outer, ev, 1, 2000));
	EXPECT_EQ(static_cast<uintptr_t>(kq), ev[0].ident);
	close(outer);
}

// "readable while events wait" (kqueue(3)): a level knote reported and
// not yet read waits for the next call, as a file READ knote (always
// ready) does from its ADD; once the next call finds it read, the
// descriptor is quiet again.
TEST_P(KqDescriptor, ALevelKnoteKeepsTheDescriptorReadable) {
	auto readable = [&] {
		pollfd p{kq, POLLIN, 0};
		return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
	};
	int p[2];
	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, change(kq, p[0], EVFILT_READ, EV_ADD));
	EXPECT_FALSE(readable());
	ASSERT_EQ(1, write(p[1], "x", 1));
	EXPECT_TRUE(readable());
	EXPECT_EQ(1u, poll_events(kq).size());
	EXPECT_TRUE(readable()) << "a level knote with its byte unread: not readable";
	EXPECT_EQ(1u, poll_events(kq).size());
	char c;
	ASSERT_EQ(1, read(p[0], &c, 1));
	EXPECT_TRUE(poll_events(kq).empty());
	EXPECT_FALSE(readable()) << "readable after a call found nothing";
	int f = anonymous_file();
	ASSERT_GE(f, 0);
	ASSERT_EQ(0, change(kq, f, EVFILT_READ, EV_ADD));
	EXPECT_TRUE(readable()) << "a file READ knote (always ready): not readable";
	close(f);
	close(p[0]);
	close(p[1]);
}

TEST_P(KqDescriptor, NotInItself) {
	EXPECT_EQ(-1, change(kq, kq, EVFILT_READ, EV_ADD));
	EXPECT_EQ(EINVAL, errno);
}

TEST_P(KqDescriptor, CloexecOnlyWithKqueue1) {
	EXPECT_EQ(0, fcntl(kq, F_GETFD) & FD_CLOEXEC);
	int k = kqueue1(O_CLOEXEC);
	ASSERT_GE(k, 0);
	EXPECT_NE(0, fcntl(k, F_GETFD) & FD_CLOEXEC);
	close(k);
	EXPECT_EQ(-1, kqueue1(O_NONBLOCK));
	EXPECT_EQ(EINVAL, errno);
}

TEST_P(KqDescriptor, ClosedKqueueIsEbadf) {
	int k = kqueue();
	ASSERT_GE(k, 0);
	close(k);
	struct kevent ev[1];
	EXPECT_EQ(-1, wait(k, ev, 1, 0));
	EXPECT_EQ(EBADF, errno);
}

// The descriptors open in this process.
static int open_descriptors() {
	int n = 0;
	if (DIR *d = opendir("/proc/self/fd")) {
		while (readdir(d))
			n++;
		closedir(d);
	}
	return n;
}

static uint64_t open_queues() {
	kevent_stats st{};
	EXPECT_EQ(0, kevent_get_stats(-1, &st, sizeof st)) << std::strerror(errno);
	return st.queues;
}

// BSD: close(kq) frees the kqueue. Its libkevent queue holds descriptors of
// its own (the wake-up and ready eventfds, the io_uring ring): closing the
// number alone would leave them open until the number is used again.
TEST_P(KqDescriptor, CloseFreesTheQueueAndItsDescriptors) {
	const int fds = open_descriptors();
	const uint64_t queues = open_queues();
	int k = kqueue();
	ASSERT_GE(k, 0);
	ASSERT_EQ(0, change(k, 1, EVFILT_USER, EV_ADD));
	ASSERT_EQ(0, change(k, 1, EVFILT_TIMER, EV_ADD, 0, 1000));
	EXPECT_GT(open_descriptors(), fds + 1) << "a queue of its own descriptors";
	EXPECT_EQ(queues + 1, open_queues());
	EXPECT_EQ(0, close(k));
	EXPECT_EQ(queues, open_queues()) << "the libkevent queue outlived close(kq)";
	EXPECT_EQ(fds, open_descriptors()) << "descriptors of the closed kqueue are still open";
	EXPECT_EQ(-1, fcntl(k, F_GETFD));
	EXPECT_EQ(-1, close(k)) << "closed twice";
	EXPECT_EQ(EBADF, errno);
}

// glibc's close(2), for a program whose close is not libkevent-kqueue's
// (one that reaches the library through another, as libevent's programs do).
extern "C" int __close(int fd);

// A kqueue closed by the C library's close is freed by the next kqueue().
TEST_P(KqDescriptor, ClosedByTheCLibraryIsFreedByTheNextKqueue) {
	const int fds = open_descriptors();
	const uint64_t queues = open_queues();
	int k = kqueue();
	ASSERT_GE(k, 0);
	const int per_kqueue = open_descriptors() - fds;
	ASSERT_EQ(0, __close(k));
	EXPECT_EQ(queues + 1, open_queues()) << "libkevent cannot know yet";
	int k2 = kqueue();
	ASSERT_GE(k2, 0);
	EXPECT_EQ(queues + 1, open_queues()) << "the closed kqueue was not freed";
	EXPECT_EQ(fds + per_kqueue, open_descriptors());
	EXPECT_EQ(0, close(k2));
	EXPECT_EQ(queues, open_queues());
}

// ... or by the next kevent() naming it, which fails with EBADF.
TEST_P(KqDescriptor, ClosedByTheCLibraryIsFreedByTheNextKevent) {
	const int fds = open_descriptors();
	const uint64_t queues = open_queues();
	int k = kqueue();
	ASSERT_GE(k, 0);
	ASSERT_EQ(0, change(k, 1, EVFILT_USER, EV_ADD));
	ASSERT_EQ(0, __close(k));
	struct kevent ev[1];
	EXPECT_EQ(-1, wait(k, ev, 1, 0));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(queues, open_queues()) << "the closed kqueue was not freed";
	EXPECT_EQ(fds, open_descriptors());
}

// close(kq) while another thread waits in kevent() with no timeout: the
// waiter returns, with EBADF.
TEST_P(KqDescriptor, CloseWakesAWaiter) {
	int k = kqueue();
	ASSERT_GE(k, 0);
	struct outcome {
		std::atomic<int> result{1}, err{0};
	};
	auto o = std::make_shared<outcome>(); // the waiter's, should it never return
	std::thread waiter([o, k] {
		struct kevent ev[1];
		int r = wait(k, ev, 1, -1);
		o->err = errno;
		o->result = r;
	});
	// The waiter may not be asleep yet: then its kevent() finds the
	// number closed, with the same result.
	std::this_thread::sleep_for(std::chrono::milliseconds(50));
	EXPECT_EQ(0, close(k));
	auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
	while (o->result == 1 && std::chrono::steady_clock::now() < until)
		std::this_thread::sleep_for(std::chrono::milliseconds(5));
	if (o->result == 1) {
		waiter.detach();
		FAIL() << "the waiter still sleeps 10 s after close(kq)";
	}
	waiter.join();
	EXPECT_EQ(-1, o->result.load());
	EXPECT_EQ(EBADF, o->err.load());
}

// A kqueue's number closed behind close()'s back (dup2 onto it) and reused:
// close() of the number closes the file it names now, and the kqueue is gone.
TEST_P(KqDescriptor, CloseOfAReusedNumberClosesTheNewFile) {
	int k = kqueue();
	ASSERT_GE(k, 0);
	int sv[2];
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	ASSERT_EQ(k, dup2(sv[0], k)) << std::strerror(errno);
	EXPECT_EQ(0, close(k));
	EXPECT_EQ(-1, fcntl(k, F_GETFD)) << "close() left the number open";
	EXPECT_EQ(0, close(sv[0]));
	char c = 0;
	EXPECT_EQ(0, read(sv[1], &c, 1)) << "both numbers of the socket are closed: EOF";
	close(sv[1]);
	struct kevent ev[1];
	EXPECT_EQ(-1, wait(k, ev, 1, 0));
	EXPECT_EQ(EBADF, errno);
}

TEST_P(KqDescriptor, ForkChildsCopyIsClosed) {
	ASSERT_EQ(0, change(kq, 1, EVFILT_USER, EV_ADD, NOTE_TRIGGER));
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct kevent ev[1];
		int n = wait(kq, ev, 1, 0);
		_exit(n == -1 && errno == EBADF ? 0 : 1);
	}
	int st;
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "the child could use the kqueue";
	EXPECT_EQ(1u, poll_events(kq).size()) << "the parent's kqueue was touched";
}

KQ_INSTANTIATE(KqDescriptor);
