// SPDX-License-Identifier: MIT
// EVFILT_SIGNAL on the native SIGNAL kevent (kqueue(3), docs/kqueue.md): as
// on BSD the program's disposition stays in force beside the count — its
// handler runs, also one set after EV_ADD — and no signal mask is touched.
#include "kq_test.hpp"

#include <atomic>
#include <csignal>
#include <pthread.h>

using namespace kq_test;
using KqSignalHandler = KqTest;

namespace {
std::atomic<int> runs{0};
void count_run(int) { runs.fetch_add(1); }
} // namespace

TEST_P(KqSignalHandler, HandlerSetAfterAddRunsAndIsCounted) {
	struct sigaction mine {
	}, old{};
	mine.sa_handler = count_run;
	sigemptyset(&mine.sa_mask);
	ASSERT_EQ(0, change(kq, SIGUSR2, EVFILT_SIGNAL, EV_ADD, 0, 0, (void *)7));
	sigset_t cur;
	pthread_sigmask(SIG_BLOCK, nullptr, &cur);
	EXPECT_FALSE(sigismember(&cur, SIGUSR2)) << "the layer blocked the signal";
	runs = 0;
	ASSERT_EQ(0, sigaction(SIGUSR2, &mine, &old));
	ASSERT_EQ(0, raise(SIGUSR2));
	ASSERT_EQ(0, raise(SIGUSR2));
	struct kevent ev[1];
	ASSERT_EQ(1, wait(kq, ev, 1, 5000));
	EXPECT_EQ(static_cast<uintptr_t>(SIGUSR2), ev[0].ident);
	EXPECT_EQ(2, ev[0].data);
	EXPECT_EQ((void *)7, ev[0].udata);
	EXPECT_EQ(2, runs.load());
	ASSERT_EQ(0, change(kq, SIGUSR2, EVFILT_SIGNAL, EV_DELETE));
	ASSERT_EQ(0, raise(SIGUSR2)); // the handler, now the kernel's
	EXPECT_EQ(3, runs.load());
	sigaction(SIGUSR2, &old, nullptr);
}

KQ_INSTANTIATE(KqSignalHandler);
