// SPDX-License-Identifier: MIT
// Limits (issue 8, part 4): 1,000,000 registrations in one queue (kevent(7):
// "There is no limit of 4096 kevents per queue"). USER kevents, added in
// batches of KEVENT_CTL_MAX; the statistics count them all, a few fire, and
// closing frees them all. Memory must stay sane: under 1 KiB per registration
// (resident set growth), a bound far above what a knode costs, so it fails only
// on a real blow-up; no timing is asserted.
#include "kevent_test.hpp"

#include <fstream>

namespace {

using namespace kevent_test;

long rss_kib() {
	std::ifstream f("/proc/self/status");
	std::string line;
	while (std::getline(f, line))
		if (line.rfind("VmRSS:", 0) == 0)
			return std::stol(line.substr(6));
	return -1;
}

class MillionRegistrations : public QueueTest {};

TEST_P(MillionRegistrations, UserEvents) {
#if defined(__SANITIZE_THREAD__)
	GTEST_SKIP() << "TSan: a million registrations under its shadow memory take minutes; "
			"the default and asan presets run it";
#endif
	constexpr unsigned total = 1000000;
	long before = rss_kib();
	std::vector<ukevent> batch(KEVENT_CTL_MAX);
	for (unsigned base = 0; base < total; base += KEVENT_CTL_MAX) {
		unsigned n = std::min<unsigned>(KEVENT_CTL_MAX, total - base);
		for (unsigned i = 0; i < n; i++)
			batch[i] = make(KEVENT_UNOTIFY, base + i, 1, 0, base + i);
		ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, n, batch.data()));
	}
	kevent_stats st = queue_stats(kfd);
	EXPECT_EQ(total, st.registered);
	EXPECT_EQ(total, st.registered_by_type[KEVENT_UNOTIFY]);
	long grown = rss_kib() - before;
	EXPECT_LT(grown, long(total)) << grown << " KiB for " << total << " registrations";
	std::cout << "[ figures  ] " << total << " registrations: RSS +" << grown << " KiB ("
		  << grown * 1024 / total << " bytes each)\n";

	// The first, the last and one in the middle fire; nothing else does.
	ukevent ready[] = {make(KEVENT_UNOTIFY, 0, 1), make(KEVENT_UNOTIFY, total / 2, 1),
			   make(KEVENT_UNOTIFY, total - 1, 1)};
	ASSERT_EQ(3, kevent_ctl(kfd, KEVENT_CTL_READY, 3, ready));
	auto got = get(kfd, 3, 8, 2000);
	ASSERT_EQ(3u, got.size());
	EXPECT_EQ(0u, cookie_of(got[0]));
	EXPECT_EQ(total / 2, cookie_of(got[1]));
	EXPECT_EQ(total - 1, cookie_of(got[2]));
	EXPECT_TRUE(get(kfd, 0, 8, 0).empty());
	// TearDown closes the queue and checks that all of them are gone.
}

KEVENT_INSTANTIATE_BACKENDS(MillionRegistrations);

} // namespace
