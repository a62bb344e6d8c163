// SPDX-License-Identifier: MIT
// Regression (issue 8, fault injection): a SIGNAL ADD installed the
// library's handler, then allocated (the queue's list of signal kevents);
// out of memory there left the handler installed for good, with a watcher
// count nobody would ever drop: the signal's old disposition never came
// back. The ADD now allocates everything before it touches the disposition.
#include "scenario.hpp"

namespace {

using namespace kevent_fault;

void *handler_of(int sig) {
	struct sigaction sa {};
	sigaction(sig, nullptr, &sa);
	return reinterpret_cast<void *>(sa.sa_handler);
}

TEST(SignalAddOomKeepsHandler, DispositionComesBack) {
	void *before = handler_of(SIGURG);
	long failures = 0;
	for (long k = 1;; k++) {
		int kfd = kevent_init(nullptr, 0, KEVENT_INIT_EPOLL) /* the path the bug was on */;
		ASSERT_GE(kfd, 0);
		ukevent uk = signal_source().entry(1);
		int r;
		{
			armed a(k, 0);
			r = kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &uk);
		}
		bool reached = fired();
		if (reached && r == 1) {
			failures++;
			EXPECT_EQ(before, handler_of(SIGURG)) << describe();
		}
		EXPECT_EQ(0, kevent_close(kfd));
		EXPECT_EQ(before, handler_of(SIGURG)) << describe();
		if (!reached)
			break;
	}
	EXPECT_GT(failures, 0);
}

} // namespace
