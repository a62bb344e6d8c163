// SPDX-License-Identifier: MIT
// Limits (issue 8, part 4): 100,000 descriptors opened, registered, closed
// without REMOVE and their numbers reused, in rounds of 1,000 pipes (well
// inside the 20,000-descriptor limit). The cookie names the round: an event
// that is not BROKEN must carry the current round — no stale event ever
// reaches a reused number — and every current pipe's event arrives.
#include "kevent_test.hpp"

#include <fcntl.h>
#include <set>
#include <unistd.h>

namespace {

using namespace kevent_test;

class FdReuse : public QueueTest {};

TEST_P(FdReuse, HundredThousandDescriptors) {
#if defined(__SANITIZE_THREAD__)
	constexpr unsigned rounds = 10; // TSan: 10,000 descriptors are enough to race
#else
	constexpr unsigned rounds = 100;
#endif
	constexpr unsigned per_round = 1000;
	unsigned long cycled = 0, broken = 0;
	std::vector<int> ends(2 * per_round);
	std::vector<ukevent> batch(per_round);
	std::vector<ukevent> buf(2 * per_round);
	for (unsigned round = 1; round <= rounds; round++) {
		for (unsigned i = 0; i < per_round; i++) {
			ASSERT_EQ(0, pipe2(&ends[2 * i], O_NONBLOCK | O_CLOEXEC));
			uint64_t cookie = uint64_t(round) << 32 | i;
			batch[i] = make(KEVENT_PIPE, unsigned(ends[2 * i]), KEVENT_PIPE_RECV, 0,
					cookie);
		}
		cycled += per_round * 2;
		// A reused number: the old kevent goes BROKEN, the ADD proceeds.
		ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, per_round, batch.data()))
			<< -int(batch[0].ret_data[1]);
		// Every other pipe gets data.
		for (unsigned i = 0; i < per_round; i += 2)
			ASSERT_EQ(1, write(ends[2 * i + 1], "x", 1));
		std::set<unsigned> fired;
		timespec t = ms(2000);
		while (fired.size() < per_round / 2) {
			int n = kevent_get_events(kfd, 1, unsigned(buf.size()), &t, buf.data(), 0);
			ASSERT_GT(n, 0) << "round " << round << ": " << fired.size() << " came";
			for (int k = 0; k < n; k++) {
				const ukevent &e = buf[size_t(k)];
				uint64_t c = cookie_of(e);
				if (e.ret_flags & KEVENT_RET_BROKEN) {
					EXPECT_LT(c >> 32, round) << "a current kevent broke";
					broken++;
					continue;
				}
				ASSERT_EQ(round, c >> 32) << "a stale event reached a reused "
							     "number";
				EXPECT_EQ(0u, c & 1) << "a pipe without data fired";
				fired.insert(unsigned(c));
			}
		}
		for (int fd : ends)
			close(fd); // no REMOVE: the numbers come back next round
	}
	std::cout << "[ figures  ] " << cycled << " descriptors cycled, " << broken
		  << " stale kevents delivered BROKEN\n";
}

KEVENT_INSTANTIATE_BACKENDS(FdReuse);

} // namespace
