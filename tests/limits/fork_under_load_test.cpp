// SPDX-License-Identifier: MIT
// fork_under_load_test — fork(2) while threads use every origin and AIO
// (issue 21, "Done when"; docs/semantics.md "fork(2)").
//
// Threads of the parent keep one queue busy with SOCKET, POLL, PIPE, TIMER,
// UNOTIFY, SIGNAL, INODE and PROC kevents (waiting in it, triggering them),
// and create, use and close queues of their own with file AIO, while the main
// thread forks thousands of children. Each child closes the inherited queue,
// opens one of its own, uses it and _exits: every child must exit 0 within a
// bounded time (a hang is killed and fails the test: nothing in a child may
// wait for a thread that was not forked, nor take a lock one held), and the
// parent's registrations must all still report afterwards (a child's close
// must not touch what the parent uses: inotify watches, the epoll file, the
// ring).
//
// TSan: skipped, as every test that forks beside running threads
// (tests/support/child_process.hpp says why).
#include "child_process.hpp"
#include "kevent_test.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace kevent_test;

class ForkUnderLoad : public QueueTest {};

enum : uint64_t { c_socket = 1, c_poll, c_pipe, c_timer, c_unotify, c_signal, c_inode, c_proc };

// The child: everything it may do with libkevent after a fork. Its exit code
// says which step failed (0: all did).
int child_body(int inherited, unsigned flags, int pipe_rd) {
	if (kevent_close(inherited) != 0)
		return 10;
	int q = kevent_init(nullptr, 0, flags);
	if (q < 0)
		return 11;
	ukevent uk[] = {
		make(KEVENT_UNOTIFY, 1, 0, 0, 1),
		make(KEVENT_TIMER, timer_id(1), KEVENT_TIMER_FIRED, KEVENT_REQ_ONESHOT, 2),
		make(KEVENT_PIPE, unsigned(pipe_rd), KEVENT_PIPE_RECV, 0, 3),
	};
	// What ADD copies back was ready at once (the timer too, if the batch
	// outlasted its millisecond).
	int added = kevent_ctl(q, KEVENT_CTL_ADD, 3, uk);
	if (added < 0)
		return 12;
	bool timer = false, user = false;
	for (int i = 0; i < added; i++)
		timer |= cookie_of(uk[i]) == 2;
	ukevent ready = make(KEVENT_UNOTIFY, 1, 0, 0, 1); // uk[] holds what ADD copied back
	if (kevent_ctl(q, KEVENT_CTL_READY, 1, &ready) != 1)
		return 13;
	ukevent buf[4];
	timespec t = ms(5000);
	while (!(timer && user)) {
		int n = kevent_get_events(q, 1, 4, &t, buf, 0);
		if (n <= 0)
			return 14; // the user event or the timer never came
		for (int i = 0; i < n; i++) {
			timer |= cookie_of(buf[i]) == 2;
			user |= cookie_of(buf[i]) == 1;
		}
	}
	if (kevent_close(q) != 0)
		return 15;
	return 0;
}

TEST_P(ForkUnderLoad, ChildrenCloseInitAndExitWhileEveryOriginIsBusy) {
	if (under_tsan)
		GTEST_SKIP() << tsan_threaded_fork;
	unsigned flags = GetParam().flags;
	char dir[] = "/tmp/kevent-forkload-XXXXXX";
	ASSERT_NE(nullptr, mkdtemp(dir));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_GE(dfd, 0);
	int sv[2], pv[2], pp[2];
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pv));
	ASSERT_EQ(0, pipe2(pp, O_NONBLOCK | O_CLOEXEC));
	pid_t sleeper = fork_child([] {
		pause();
		return 0;
	});
	ASSERT_GT(sleeper, 0);
	char fpath[] = "/tmp/kevent-forkload-file-XXXXXX";
	int file = mkstemp(fpath);
	ASSERT_GE(file, 0);
	unlink(fpath);
	std::vector<char> data(4096, 'k');
	ASSERT_EQ(ssize_t(data.size()), write(file, data.data(), data.size()));
	int child_pipe[2]; // readable in every child: its PIPE kevent fires
	ASSERT_EQ(0, pipe2(child_pipe, O_NONBLOCK | O_CLOEXEC));
	ASSERT_EQ(1, write(child_pipe[1], "c", 1));

	ukevent uk[] = {
		make(KEVENT_SOCKET, unsigned(sv[0]), KEVENT_SOCKET_RECV, 0, c_socket),
		make(KEVENT_POLL, unsigned(pv[0]), POLLIN, 0, c_poll),
		make(KEVENT_PIPE, unsigned(pp[0]), KEVENT_PIPE_RECV, 0, c_pipe),
		make(KEVENT_TIMER, timer_id(20), KEVENT_TIMER_FIRED, 0, c_timer),
		make(KEVENT_UNOTIFY, 9, 0, 0, c_unotify),
		make(KEVENT_SIGNAL, SIGUSR2 | KEVENT_SIGNAL_NOMASK, KEVENT_SIGNAL_DELIVERY, 0,
		     c_signal),
		make(KEVENT_INODE, unsigned(dfd), KEVENT_INODE_CREATE | KEVENT_INODE_REMOVE, 0,
		     c_inode),
		make(KEVENT_PROC, unsigned(sleeper), KEVENT_PROC_EXIT, 0, c_proc),
	};
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 7, uk)); // PROC at the end
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &uk[7]));

	std::atomic<bool> stop{false};
	std::atomic<int> errs{0};
	std::vector<std::thread> threads;
	// A waiter in the shared queue, always blocked or delivering.
	threads.emplace_back([&] {
		ukevent buf[32];
		timespec t = ms(20);
		while (!stop.load(std::memory_order_relaxed))
			if (kevent_get_events(kfd, 1, 32, &t, buf, 0) < 0)
				errs++;
	});
	// A trigger of every origin of the shared queue (PROC fires at the end).
	threads.emplace_back([&] {
		char sink[256];
		for (unsigned i = 0; !stop.load(std::memory_order_relaxed); i++) {
			(void)!write(sv[1], "s", 1);
			(void)!write(pv[1], "p", 1);
			(void)!write(pp[1], "x", 1);
			ukevent r = uk[4];
			kevent_ctl(kfd, KEVENT_CTL_READY, 1, &r);
			kill(getpid(), SIGUSR2);
			std::string f = std::string(dir) + "/f" + std::to_string(i % 4);
			int fd = open(f.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
			if (fd >= 0)
				close(fd);
			unlink(f.c_str());
			while (read(sv[0], sink, sizeof sink) > 0) {
			}
			while (read(pv[0], sink, sizeof sink) > 0) {
			}
			while (read(pp[0], sink, sizeof sink) > 0) {
			}
			usleep(500);
		}
	});
	// Queues of their own: made, given every kind of kevent and file AIO,
	// closed (the descriptor table and the I/O pool change during forks).
	for (int n = 0; n < 2; n++)
		threads.emplace_back([&] {
			std::vector<char> buf(4 * 512); // one part per read in flight
			ukevent done[8];
			while (!stop.load(std::memory_order_relaxed)) {
				int q = kevent_init(nullptr, 0, churn_backend(flags));
				if (q < 0) {
					errs++;
					continue;
				}
				ukevent mine[] = {
					make(KEVENT_SOCKET, unsigned(sv[1]), KEVENT_SOCKET_SEND),
					make(KEVENT_TIMER, timer_id(1), KEVENT_TIMER_FIRED),
					make(KEVENT_UNOTIFY, 1, 0),
					make(KEVENT_INODE, unsigned(dfd), KEVENT_INODE_CREATE),
					make(KEVENT_PROC, unsigned(sleeper), KEVENT_PROC_EXIT),
				};
				kevent_ctl(q, KEVENT_CTL_ADD, 5, mine);
				int io = 0;
				for (int i = 0; i < 4; i++)
					io += kevent_aio_read(q, file, &buf[size_t(i) * 512], 512,
							      0, 1) >= 0;
				timespec t = ms(5000);
				for (int got = 0; got < io;) {
					int r = kevent_get_events(q, 1, 8, &t, done, 0);
					if (r <= 0) {
						errs++;
						break;
					}
					for (int i = 0; i < r; i++)
						got += done[i].type == KEVENT_AIO;
				}
				if (kevent_close(q) != 0)
					errs++;
			}
		});

	// Over a thousand children (fewer under the sanitizers, where a fork costs
	// tens of milliseconds: ctest's timeout is 60 s).
	const int forks = (flags == KEVENT_INIT_URING ? 600 : 1200) / sanitizer_divisor;
	int q = kfd, rd = child_pipe[0];
	fork_rounds rounds = fork_many(forks, 10, [=] { return child_body(q, flags, rd); });
	stop = true;
	for (auto &t : threads)
		t.join();
	EXPECT_EQ(0, rounds.bad) << "a child " << rounds.last << " (see child_body for the codes)";
	EXPECT_EQ(0, errs.load()) << "a call of the parent's threads failed";

	// Every registration of the parent still reports.
	std::string f = std::string(dir) + "/last";
	int fd = open(f.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	ASSERT_GE(fd, 0);
	close(fd);
	ASSERT_EQ(1, write(sv[1], "s", 1));
	ASSERT_EQ(1, write(pv[1], "p", 1));
	ASSERT_EQ(1, write(pp[1], "x", 1));
	ukevent r = uk[4];
	ASSERT_EQ(1, kevent_ctl(kfd, KEVENT_CTL_READY, 1, &r));
	ASSERT_EQ(0, kill(getpid(), SIGUSR2));
	ASSERT_EQ(0, kill(sleeper, SIGKILL));
	auto seen = collect(kfd, {c_socket, c_poll, c_pipe, c_timer, c_unotify, c_signal, c_inode,
				  c_proc});
	for (uint64_t c : {c_socket, c_poll, c_pipe, c_timer, c_unotify, c_signal, c_inode, c_proc})
		EXPECT_EQ(1u, seen.count(c)) << "cookie " << c << " never reported";
	if (seen.count(c_inode)) {
		EXPECT_NE(0u, seen[c_inode].ret_data[0] & KEVENT_INODE_CREATE);
	}

	waitpid(sleeper, nullptr, 0);
	unlink(f.c_str());
	rmdir(dir);
	for (int x :
	     {dfd, sv[0], sv[1], pv[0], pv[1], pp[0], pp[1], file, child_pipe[0], child_pipe[1]})
		close(x);
}

KEVENT_INSTANTIATE_BACKENDS(ForkUnderLoad);

} // namespace
