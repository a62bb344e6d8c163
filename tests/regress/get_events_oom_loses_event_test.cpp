// SPDX-License-Identifier: MIT
// Regression (issue 8, fault injection): an INODE kevent allocated while
// its events were being reported (a copy of the watch's user list, the
// name record) and while being delivered (the names handed over). Out of
// memory there escaped from kevent_get_events as ENOMEM (a failure its page
// does not list) after events had left the ready list or the backend's
// report: they were lost for good. Now the event is delivered, flagged
// KEVENT_INODE_OVERFLOW when a name could not be kept (rescan).
#include "scenario.hpp"

namespace {

using namespace kevent_fault;

TEST(GetEventsOomLosesEvent, EveryEventArrives) {
	for (long k = 1;; k++) {
		sources srcs = make_sources({KEVENT_INODE, KEVENT_PIPE});
		int kfd = kevent_init(nullptr, 0, KEVENT_INIT_EPOLL) /* the path the bug was on */;
		ASSERT_GE(kfd, 0);
		std::set<uint64_t> want = register_all(kfd, srcs, 1, KEVENT_REQ_ONESHOT);
		trigger_all(kfd, srcs);
		std::vector<ukevent> buf(4);
		timespec t = kevent_test::ms(2000);
		int r;
		{
			armed a(k, 0);
			r = kevent_get_events(kfd, 2, 4, &t, buf.data(), 0);
		}
		bool reached = fired();
		EXPECT_GE(r, 0) << std::strerror(errno) << " for " << describe();
		buf.resize(size_t(r < 0 ? 0 : r));
		expect_delivered(kfd, want, buf);
		EXPECT_EQ(0, kevent_close(kfd));
		if (!reached)
			break;
	}
}

} // namespace
