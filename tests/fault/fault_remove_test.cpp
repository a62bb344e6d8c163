// SPDX-License-Identifier: MIT
// Fault injection: REMOVE of a batch holding one kevent of every origin
// (issue 8, part 3). REMOVE frees and takes watches out; nothing there may
// fail for want of memory: every entry comes back DONE, nothing stays
// registered, and the same sources register again and fire.
#include "scenario.hpp"

namespace {

using namespace kevent_fault;

class FaultRemove : public FaultTest {
protected:
	bool one(long k, int variant) {
		int fds = open_fds();
		bool failed = false;
		{
			sources srcs = make_sources(all_types());
			int kfd = new_queue();
			register_all(kfd, srcs, 100);
			std::vector<ukevent> batch;
			for (auto &s : srcs)
				batch.push_back(s->entry(0));
			int r;
			{
				armed a(k, variant);
				r = kevent_ctl(kfd, KEVENT_CTL_REMOVE, unsigned(batch.size()),
					       batch.data());
			}
			if (r < 0) {
				failed = true;
				expect_clean_errno(errno, "kevent_ctl");
				// "then no entry was touched" (kevent_ctl(3)) is not
				// asked of an out-of-memory failure: finish the job.
				kevent_ctl(kfd, KEVENT_CTL_REMOVE, unsigned(batch.size()),
					   batch.data());
			} else {
				EXPECT_EQ(0, r);
				for (const ukevent &e : batch)
					EXPECT_EQ(KEVENT_RET_DONE, e.ret_flags)
						<< type_name(e.type);
			}
			EXPECT_EQ(0u, kevent_test::queue_stats(kfd).registered);
			std::set<uint64_t> want = register_all(kfd, srcs, 200);
			trigger_all(kfd, srcs);
			expect_delivered(kfd, want);
			EXPECT_EQ(0, kevent_close(kfd));
		}
		expect_nothing_left(fds);
		return failed;
	}
};

TEST_P(FaultRemove, EveryOrigin) {
	for_each_fault("REMOVE", [&](long k, int v) { return one(k, v); });
}

KEVENT_INSTANTIATE_BACKENDS(FaultRemove);

} // namespace
