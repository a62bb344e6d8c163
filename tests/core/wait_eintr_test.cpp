// SPDX-License-Identifier: MIT
// KEVENT_FLAGS_EINTR (kevent_get_events(3), kevent_wait(3)): a signal
// handler that runs while the call blocks ends it with -1/EINTR when nothing
// was collected, returns what was collected otherwise; without the flag the
// wait goes on. Nothing registered is lost either way. The signal is sent
// with pthread_kill once the waiting thread is seen blocked in the kernel
// (/proc/self/task/<tid>/syscall), so no case depends on timing.
#include "../support/interrupt.hpp"
#include "../support/kevent_test.hpp"

#include <kevent/kevent.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <fstream>
#include <poll.h>
#include <pthread.h>
#include <string>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>
#include <vector>

using kevent_test::backend_case;
using kevent_test::make;
using kevent_test::ms;
using kevent_test::queue_stats;
using kevent_test::usr1_handler;
using kevent_test::waiter;

namespace {

class WaitEintr : public kevent_test::QueueTest {
protected:
	int p[2] = {-1, -1};

	void SetUp() override {
		QueueTest::SetUp();
		if (IsSkipped())
			return;
		ASSERT_EQ(0, pipe2(p, O_CLOEXEC | O_NONBLOCK));
		ukevent uk = make(KEVENT_POLL, static_cast<uint32_t>(p[0]), POLLIN, 0, 7);
		ASSERT_EQ(0, add(uk)) << std::strerror(errno);
	}
	void TearDown() override {
		for (int fd : p)
			if (fd >= 0)
				close(fd);
		QueueTest::TearDown();
	}
	void make_readable() { ASSERT_EQ(1, write(p[1], "x", 1)); }
};

int get_events(int kfd, unsigned min_nr, ukevent *buf, unsigned max_nr, const timespec *t,
	       unsigned flags) {
	return kevent_get_events(kfd, min_nr, max_nr, t, buf, flags);
}

} // namespace

// With the flag, a handler that runs during a wait without a timeout ends
// it: -1/EINTR, also for a handler with SA_RESTART (as epoll_wait(2)).
TEST_P(WaitEintr, HandlerEndsTheWaitWithEintr) {
	for (int sa_flags : {0, SA_RESTART}) {
		usr1_handler h(sa_flags);
		ukevent buf[4];
		waiter w([&] { return get_events(kfd, 1, buf, 4, nullptr, KEVENT_FLAGS_EINTR); });
		w.interrupt();
		int err = 0;
		EXPECT_EQ(-1, w.join(err)) << "SA_RESTART " << (sa_flags != 0);
		EXPECT_EQ(EINTR, err);
	}
}

// ... and with a timeout and an absolute deadline alike.
TEST_P(WaitEintr, HandlerEndsATimedWait) {
	usr1_handler h(0);
	ukevent buf[4];
	for (unsigned flags : {0u, unsigned(KEVENT_FLAGS_ABSTIME)}) {
		timespec t = ms(60000);
		if (flags & KEVENT_FLAGS_ABSTIME) {
			timespec now{};
			clock_gettime(CLOCK_MONOTONIC, &now);
			t.tv_sec += now.tv_sec;
		}
		waiter w(
			[&] { return get_events(kfd, 1, buf, 4, &t, flags | KEVENT_FLAGS_EINTR); });
		w.interrupt();
		int err = 0;
		EXPECT_EQ(-1, w.join(err));
		EXPECT_EQ(EINTR, err);
	}
}

// Without the flag the handler runs and the wait goes on: it is back in the
// kernel afterwards and returns the event that comes later.
TEST_P(WaitEintr, WithoutTheFlagTheWaitGoesOn) {
	usr1_handler h(0);
	ukevent buf[4];
	waiter w([&] { return get_events(kfd, 1, buf, 4, nullptr, 0); });
	w.interrupt();
	w.interrupt(); // twice: each time it went back to waiting
	EXPECT_FALSE(w.done());
	w.block_again();
	make_readable();
	int err = 0;
	ASSERT_EQ(1, w.join(err)) << std::strerror(err);
	EXPECT_EQ(7u, buf[0].user[0]);
}

// Without the flag, a timed wait interrupted ends at its timeout with 0.
TEST_P(WaitEintr, WithoutTheFlagATimedWaitEndsAtItsTimeout) {
	usr1_handler h(0);
	ukevent buf[4];
	timespec t = ms(300);
	waiter w([&] { return get_events(kfd, 1, buf, 4, &t, 0); });
	w.interrupt();
	int err = 0;
	EXPECT_EQ(0, w.join(err)) << std::strerror(err);
}

// EINTR loses nothing: the registration is still there and reports what
// happens after.
TEST_P(WaitEintr, NothingIsLostByEintr) {
	usr1_handler h(0);
	uint64_t registered = queue_stats(kfd).registered;
	ukevent buf[4];
	waiter w([&] { return get_events(kfd, 1, buf, 4, nullptr, KEVENT_FLAGS_EINTR); });
	w.interrupt();
	int err = 0;
	ASSERT_EQ(-1, w.join(err));
	ASSERT_EQ(EINTR, err);
	EXPECT_EQ(registered, queue_stats(kfd).registered);
	make_readable();
	timespec t = ms(5000);
	ASSERT_EQ(1, get_events(kfd, 1, buf, 4, &t, KEVENT_FLAGS_EINTR)) << std::strerror(errno);
	EXPECT_EQ(7u, buf[0].user[0]);
}

// Events collected before the signal are returned, not EINTR: one event is
// ready, the call waits for two, the signal ends the wait with the one.
TEST_P(WaitEintr, CollectedEventsAreReturned) {
	usr1_handler h(0);
	make_readable();
	ukevent buf[4];
	waiter w([&] { return get_events(kfd, 2, buf, 4, nullptr, KEVENT_FLAGS_EINTR); });
	w.interrupt();
	int err = 0;
	ASSERT_EQ(1, w.join(err)) << std::strerror(err);
	EXPECT_EQ(7u, buf[0].user[0]);
}

// kevent_wait(3) takes the flag too.
TEST_P(WaitEintr, KeventWaitReturnsEintr) {
	std::vector<uint64_t> mem((sizeof(kevent_ring) + 8 * sizeof(ukevent) + 7) / 8);
	int rq = kevent_init(reinterpret_cast<kevent_ring *>(mem.data()), 8, GetParam().flags);
	ASSERT_GE(rq, 0) << std::strerror(errno);
	usr1_handler h(0);
	waiter w([&] { return kevent_wait(rq, 1, 0, nullptr, KEVENT_FLAGS_EINTR); });
	w.interrupt();
	int err = 0;
	EXPECT_EQ(-1, w.join(err));
	EXPECT_EQ(EINTR, err);
	timespec zero{0, 0};
	EXPECT_EQ(-1, kevent_wait(rq, 1, 0, &zero, KEVENT_FLAGS_EINTR | 0x8u)); // unknown flag
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, kevent_close(rq));
}

// The C++ form: an interruptible get_events gives errc::interrupted in the
// error_code form and throws std::system_error in the other.
TEST_P(WaitEintr, CxxInterruptible) {
	usr1_handler h(0);
	kevent::queue q(static_cast<kevent::backend>(GetParam().flags));
	std::error_code ec;
	ukevent buf[4];
	waiter w([&] {
		auto got = q.get_events(buf, 1, std::nullopt, kevent::interruptible, ec);
		return static_cast<int>(got.size());
	});
	w.interrupt();
	int err = 0;
	EXPECT_EQ(0, w.join(err));
	EXPECT_EQ(std::errc::interrupted, ec);
	bool thrown = false;
	waiter w2([&] {
		try {
			q.get_events(buf, 1,
				     std::chrono::steady_clock::now() + std::chrono::hours(1),
				     kevent::interruptible);
		} catch (const std::system_error &e) {
			thrown = e.code() == std::errc::interrupted;
		}
		return 0;
	});
	w2.interrupt();
	w2.join(err);
	EXPECT_TRUE(thrown);
}

KEVENT_INSTANTIATE_BACKENDS(WaitEintr);
