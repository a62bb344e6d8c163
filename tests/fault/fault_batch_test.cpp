// SPDX-License-Identifier: MIT
// Fault injection: one ADD batch of every origin at once (issue 8, part 3).
// A batch attaches every entry, then looks at the backend once: a fault in
// the middle must fail only the entry it hit (copied back BROKEN|DONE with
// the injected errno, compacted in input order), or the whole call (-1, no
// entry touched); the others stay registered and fire.
#include "scenario.hpp"

namespace {

using namespace kevent_fault;

class FaultBatch : public FaultTest {
protected:
	bool one(long k, int variant) {
		int fds = open_fds();
		bool failed = false;
		{
			auto srcs = make_sources(all_types());
			int kfd = new_queue();
			std::vector<ukevent> batch;
			for (size_t i = 0; i < srcs.size(); i++)
				batch.push_back(srcs[i]->entry(100 + i));
			int r;
			{
				armed a(k, variant);
				r = kevent_ctl(kfd, KEVENT_CTL_ADD, unsigned(batch.size()),
					       batch.data());
			}
			int err = errno;
			// cookie -> registered?
			std::set<size_t> lost; // entries to add again
			std::vector<ukevent> early;
			if (r < 0) {
				failed = true;
				expect_clean_errno(err, "kevent_ctl");
				for (size_t i = 0; i < srcs.size(); i++)
					lost.insert(i);
			} else {
				EXPECT_LE(r, int(batch.size()));
				size_t prev = 0;
				for (int i = 0; i < r; i++) {
					const ukevent &e = batch[size_t(i)];
					size_t idx = size_t(kevent_test::cookie_of(e) - 100);
					EXPECT_TRUE(i == 0 || idx > prev) << "not in input order";
					prev = idx;
					EXPECT_TRUE(e.ret_flags & KEVENT_RET_DONE);
					if (e.ret_flags & KEVENT_RET_BROKEN) {
						failed = true;
						expect_clean_errno(-static_cast<int>(e.ret_data[1]),
								   "an entry");
						lost.insert(idx);
					} else {
						early.push_back(e);
					}
				}
			}
			EXPECT_EQ(srcs.size() - lost.size() - early.size(),
				  kevent_test::queue_stats(kfd).registered);
			std::set<uint64_t> want;
			for (size_t i = 0; i < srcs.size(); i++) {
				uint64_t cookie = 100 + i;
				if (lost.count(i)) {
					ukevent again = srcs[i]->entry(cookie = 200 + i);
					EXPECT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &again))
						<< "type " << again.type;
				}
				want.insert(cookie);
			}
			for (auto &s : srcs) {
				bool came = std::any_of(early.begin(), early.end(), [&](auto &e) {
					return e.type == s->type();
				});
				if (!came)
					s->trigger(kfd);
			}
			expect_delivered(kfd, want, early);
			EXPECT_EQ(0, kevent_close(kfd));
		}
		expect_nothing_left(fds);
		return failed;
	}
};

TEST_P(FaultBatch, EveryOrigin) {
	for_each_fault("batch ADD", [&](long k, int v) { return one(k, v); });
}

KEVENT_INSTANTIATE_BACKENDS(FaultBatch);

} // namespace
