// SPDX-License-Identifier: MIT
// Fault injection: MODIFY of a batch holding one kevent of every origin
// (issue 8, part 3). The new flags add KEVENT_REQ_WAKEUP_ALL, which makes
// an fd's watch leave EPOLLEXCLUSIVE: epoll cannot MODify that, so the
// watch is taken out and added again, and that ADD may fail. An entry that
// fails comes back BROKEN|DONE with the injected errno, and its kevent is
// delivered once BROKEN (its watch is gone); the others keep working.
#include "scenario.hpp"

namespace {

using namespace kevent_fault;

class FaultModify : public FaultTest {
protected:
	bool one(long k, int variant) {
		int fds = open_fds();
		bool failed = false;
		{
			sources srcs = make_sources(all_types());
			int kfd = new_queue();
			register_all(kfd, srcs, 100);
			std::vector<ukevent> batch;
			for (size_t i = 0; i < srcs.size(); i++) {
				ukevent uk = srcs[i]->entry(200 + i);
				uk.req_flags |= KEVENT_REQ_WAKEUP_ALL;
				batch.push_back(uk);
			}
			int r;
			{
				armed a(k, variant);
				r = kevent_ctl(kfd, KEVENT_CTL_MODIFY, unsigned(batch.size()),
					       batch.data());
			}
			EXPECT_EQ(0, r) << std::strerror(errno);
			std::set<uint64_t> want, broken;
			for (size_t i = 0; i < batch.size(); i++) {
				const ukevent &e = batch[i];
				if (e.ret_flags & KEVENT_RET_BROKEN) {
					failed = true;
					expect_clean_errno(-static_cast<int>(e.ret_data[1]),
							   type_name(e.type));
					broken.insert(200 + i);
				} else {
					EXPECT_EQ(KEVENT_RET_DONE, e.ret_flags);
					want.insert(200 + i);
				}
			}
			// The broken ones come once, BROKEN; then they are gone.
			std::vector<ukevent> got;
			if (!broken.empty()) {
				auto b = kevent_test::get(kfd, unsigned(broken.size()), 16, 2000);
				for (const ukevent &e : b) {
					uint64_t c = kevent_test::cookie_of(e);
					if (broken.count(c)) {
						EXPECT_TRUE(e.ret_flags & KEVENT_RET_BROKEN);
						broken.erase(c);
					} else {
						got.push_back(e);
					}
				}
				EXPECT_TRUE(broken.empty()) << "a broken kevent did not come";
			}
			EXPECT_EQ(want.size(), kevent_test::queue_stats(kfd).registered);
			trigger_all(kfd, srcs);
			expect_delivered(kfd, want, got);
			EXPECT_EQ(0, kevent_close(kfd));
		}
		expect_nothing_left(fds);
		return failed;
	}
};

TEST_P(FaultModify, EveryOrigin) {
	for_each_fault("MODIFY", [&](long k, int v) { return one(k, v); });
}

KEVENT_INSTANTIATE_BACKENDS(FaultModify);

} // namespace
