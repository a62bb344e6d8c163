// SPDX-License-Identifier: MIT
// fork_child_close_breaks_parent_inode_test — issue 21, item 2.
//
// Bug: the parent registers INODE (with SOCKET, TIMER, PROC, SIGNAL and a
// pending AIO receive); a child closes the inherited queue and exits; the
// parent then creates a file in the watched directory and got
// `INODE … BROKEN|DONE -ENOENT` for a directory that exists, and no CREATE.
//
// Root cause: the child's kevent_close ran every origin's teardown on the
// queue's memory, and INODE's detach called inotify_rm_watch on the inherited
// inotify descriptor — the same inotify instance as the parent's. (The same
// teardown waited for the parent's running pool jobs, and would have done
// the same to any kernel object reached through an inherited descriptor.)
//
// Fix: in a child, kevent_close of an inherited queue runs no origin
// teardown at all: it closes the child's copies of the queue's own
// descriptors and forgets the rest (src/core/descriptor_table.cpp,
// docs/semantics.md "fork(2)").
#include "child_process.hpp"
#include "kevent_test.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>

#include <cstdlib>
#include <string>

namespace {

using namespace kevent_test;

class ForkChildCloseBreaksParentInode : public QueueTest {};

enum : uint64_t { c_inode = 1, c_socket, c_timer, c_proc, c_signal, c_recv };

TEST_P(ForkChildCloseBreaksParentInode, ParentKeventsWorkAfterTheChildClosesItsCopy) {
	char dir[] = "/tmp/kevent-forkinode-XXXXXX";
	ASSERT_NE(nullptr, mkdtemp(dir));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_GE(dfd, 0);
	int sv[2];
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
	int rv[2];
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, rv));
	pid_t sleeper = fork_child([] {
		pause();
		return 0;
	});
	ASSERT_GT(sleeper, 0);

	ukevent uk[] = {
		make(KEVENT_INODE, unsigned(dfd), KEVENT_INODE_CREATE, 0, c_inode),
		make(KEVENT_SOCKET, unsigned(sv[0]), KEVENT_SOCKET_RECV, 0, c_socket),
		make(KEVENT_TIMER, timer_id(50), KEVENT_TIMER_FIRED, KEVENT_REQ_ONESHOT, c_timer),
		make(KEVENT_PROC, unsigned(sleeper), KEVENT_PROC_EXIT, 0, c_proc),
		make(KEVENT_SIGNAL, SIGUSR1 | KEVENT_SIGNAL_NOMASK, KEVENT_SIGNAL_DELIVERY, 0,
		     c_signal),
	};
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 5, uk));
	char rbuf[8];
	ASSERT_GE(kevent_aio_recv(kfd, rv[0], rbuf, sizeof rbuf, 0, c_recv), 0)
		<< std::strerror(errno);

	int q = kfd;
	pid_t child = fork_child([q] { return kevent_close(q) == 0 ? 0 : 1; });
	ASSERT_GT(child, 0);
	child_end e = wait_child(child, 10);
	EXPECT_TRUE(e.ok()) << "child " << e.describe();

	// Every registration of the parent still reports.
	std::string f = std::string(dir) + "/created";
	int fd = open(f.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	ASSERT_GE(fd, 0);
	close(fd);
	ASSERT_EQ(1, write(sv[1], "x", 1));
	ASSERT_EQ(1, write(rv[1], "y", 1));
	kill(sleeper, SIGKILL);
	ASSERT_EQ(0, kill(getpid(), SIGUSR1));
	auto seen = collect(kfd, {c_inode, c_socket, c_timer, c_proc, c_signal, c_recv});
	EXPECT_EQ(1u, seen.count(c_inode)) << "no INODE CREATE";
	if (seen.count(c_inode)) {
		EXPECT_EQ(KEVENT_INODE_CREATE, seen[c_inode].ret_data[0] & KEVENT_INODE_CREATE);
	}
	EXPECT_EQ(1u, seen.count(c_socket));
	EXPECT_EQ(1u, seen.count(c_timer));
	EXPECT_EQ(1u, seen.count(c_proc));
	EXPECT_EQ(1u, seen.count(c_signal));
	ASSERT_EQ(1u, seen.count(c_recv)) << "the pending receive was lost";
	EXPECT_EQ(1u, seen[c_recv].ret_data[0]);

	waitpid(sleeper, nullptr, 0);
	close(dfd);
	unlink(f.c_str());
	rmdir(dir);
	for (int x : {sv[0], sv[1], rv[0], rv[1]})
		close(x);
}

KEVENT_INSTANTIATE_BACKENDS(ForkChildCloseBreaksParentInode);

} // namespace
