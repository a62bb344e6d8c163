// SPDX-License-Identifier: MIT
// Fault injection: kevent_close of a queue holding one kevent of every
// origin (issue 8, part 3). Closing allocates nothing it could not do
// without: it returns 0 whatever fails, and frees every registration,
// descriptor and handler (the fixture checks SIGURG's disposition).
#include "scenario.hpp"

namespace {

using namespace kevent_fault;

class FaultClose : public FaultTest {
protected:
	bool one(long k, int variant) {
		int fds = open_fds();
		int r;
		{
			sources srcs = make_sources(all_types());
			int kfd = new_queue();
			register_all(kfd, srcs, 100);
			trigger_all(kfd, srcs); // some ready, some not, when it closes
			{
				armed a(k, variant);
				r = kevent_close(kfd);
			}
			EXPECT_EQ(0, r) << std::strerror(errno);
			// The number is free: nothing of the queue answers to it.
			EXPECT_EQ(-1, kevent_close(kfd));
		}
		expect_nothing_left(fds);
		// A new queue works.
		sources srcs = make_sources({KEVENT_PIPE, KEVENT_UNOTIFY});
		int kfd = new_queue();
		std::set<uint64_t> want = register_all(kfd, srcs, 300);
		trigger_all(kfd, srcs);
		expect_delivered(kfd, want);
		EXPECT_EQ(0, kevent_close(kfd));
		return r != 0;
	}
};

TEST_P(FaultClose, EveryOrigin) {
	for_each_fault("close", [&](long k, int v) { return one(k, v); });
}

KEVENT_INSTANTIATE_BACKENDS(FaultClose);

} // namespace
