// SPDX-License-Identifier: MIT
// Fault injection: kevent_get_events taking one ready kevent of every
// origin (issue 8, part 3), half of them ONESHOT (freed at delivery). A
// fault may not lose an event nor deliver one twice: what the faulted call
// returns plus what later calls return is every event, once. The call
// itself documents no out-of-memory error (kevent_get_events(3)).
#include "scenario.hpp"

namespace {

using namespace kevent_fault;

class FaultGetEvents : public FaultTest {
protected:
	bool one(long k, int variant) {
		int fds = open_fds();
		bool failed = false;
		{
			sources srcs = make_sources(all_types());
			int kfd = new_queue();
			std::set<uint64_t> want;
			for (size_t i = 0; i < srcs.size(); i++) {
				ukevent uk = srcs[i]->entry(100 + i);
				if (i % 2)
					uk.req_flags |= KEVENT_REQ_ONESHOT;
				EXPECT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &uk));
				want.insert(100 + i);
			}
			trigger_all(kfd, srcs);
			// Let the timer be due and the child be gone: the one call
			// below then finds everything at once.
			std::this_thread::sleep_for(std::chrono::milliseconds(25));
			std::vector<ukevent> buf(16);
			timespec t = kevent_test::ms(2000);
			int r;
			{
				armed a(k, variant);
				r = kevent_get_events(kfd, unsigned(srcs.size()), 16, &t,
						      buf.data(), 0);
			}
			if (r < 0) {
				failed = true;
				ADD_FAILURE() << "kevent_get_events: " << std::strerror(errno)
					      << " for " << describe();
				r = 0;
			}
			buf.resize(size_t(r));
			expect_delivered(kfd, want, buf);
			EXPECT_EQ(0, kevent_close(kfd));
		}
		expect_nothing_left(fds);
		return failed;
	}
};

TEST_P(FaultGetEvents, EveryOrigin) {
	for_each_fault("get_events", [&](long k, int v) { return one(k, v); });
}

KEVENT_INSTANTIATE_BACKENDS(FaultGetEvents);

} // namespace
