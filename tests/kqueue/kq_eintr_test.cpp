// SPDX-License-Identifier: MIT
// kevent() of the kqueue layer fails with EINTR when a signal handler runs
// while it waits and no event is ready (FreeBSD's kern_kevent), through
// KEVENT_FLAGS_EINTR (kevent_get_events(3)); what was added is not lost.
#include "../support/interrupt.hpp"
#include "kq_test.hpp"

using kevent_test::usr1_handler;
using kevent_test::waiter;
using kq_test::KqTest;

namespace {

class KqEintr : public KqTest {};

TEST_P(KqEintr, HandlerEndsTheWaitWithEintrAndNothingIsLost) {
	int p[2];
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC | O_NONBLOCK));
	ASSERT_EQ(0, kq_test::change(kq, static_cast<uintptr_t>(p[0]), EVFILT_READ, EV_ADD));
	usr1_handler h(SA_RESTART); // BSD: EINTR whatever SA_RESTART says
	for (long timeout_ms : {-1L, 60000L}) {
		struct kevent out[4];
		waiter w([&] { return kq_test::wait_once(kq, out, 4, timeout_ms); });
		w.interrupt();
		int err = 0;
		EXPECT_EQ(-1, w.join(err)) << "timeout " << timeout_ms;
		EXPECT_EQ(EINTR, err);
	}
	ASSERT_EQ(1, write(p[1], "x", 1));
	struct kevent out[4];
	ASSERT_EQ(1, kq_test::wait(kq, out, 4, 5000)) << std::strerror(errno);
	EXPECT_EQ(static_cast<uintptr_t>(p[0]), out[0].ident);
	close(p[0]);
	close(p[1]);
}

} // namespace

KQ_INSTANTIATE(KqEintr);
