// SPDX-License-Identifier: MIT
// Fault injection: ADD of one kevent of each origin, with every allocation
// and every system call it makes failing in turn (issue 8, part 3). The
// entry must come back BROKEN|DONE with the injected errno (ENOMEM, EMFILE:
// kevent_ctl(3), per-entry errors) or be registered; either way the queue
// stays usable: the source fires, through the kevent that was registered or
// through a fresh ADD of the same key (so a failed ADD left no key behind).
#include "scenario.hpp"

namespace {

using namespace kevent_fault;

class FaultAdd : public FaultTest {
protected:
	void run(unsigned type) {
		for_each_fault((std::string("ADD ") + type_name(type)).c_str(),
			       [&](long k, int v) { return one(type, k, v); });
	}

	// One ADD with the fault at k; true if the entry failed.
	bool one(unsigned type, long k, int variant) {
		int fds = open_fds();
		bool failed = false;
		{
			auto src = make_source(type);
			int kfd = new_queue();
			ukevent uk = src->entry(1);
			int r;
			{
				armed a(k, variant);
				r = kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &uk);
			}
			int err = errno;
			std::vector<ukevent> early; // a ready-at-add copy is the event
			if (r < 0) {
				failed = true;
				expect_clean_errno(err, "kevent_ctl");
			} else if (r == 1 && (uk.ret_flags & KEVENT_RET_BROKEN)) {
				failed = true;
				expect_clean_errno(-static_cast<int>(uk.ret_data[1]), "the entry");
			} else if (r == 1) {
				early.push_back(uk);
			}
			EXPECT_EQ(failed || !early.empty() ? 0u : 1u,
				  kevent_test::queue_stats(kfd).registered);
			uint64_t cookie = 1;
			if (failed) {
				// The key is free again: a fresh ADD works and fires.
				ukevent again = src->entry(cookie = 2);
				EXPECT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &again))
					<< kevent_test::cookie_of(again);
			}
			if (early.empty())
				src->trigger(kfd);
			expect_delivered(kfd, {cookie}, early);
			EXPECT_EQ(0, kevent_close(kfd));
		}
		expect_nothing_left(fds);
		return failed;
	}
};

TEST_P(FaultAdd, Socket) { run(KEVENT_SOCKET); }
TEST_P(FaultAdd, Poll) { run(KEVENT_POLL); }
TEST_P(FaultAdd, Pipe) { run(KEVENT_PIPE); }
TEST_P(FaultAdd, Timer) { run(KEVENT_TIMER); }
TEST_P(FaultAdd, User) { run(KEVENT_UNOTIFY); }
TEST_P(FaultAdd, Signal) { run(KEVENT_SIGNAL); }
TEST_P(FaultAdd, Inode) { run(KEVENT_INODE); }
TEST_P(FaultAdd, Proc) { run(KEVENT_PROC); }

KEVENT_INSTANTIATE_BACKENDS(FaultAdd);

} // namespace
