// SPDX-License-Identifier: MIT
// ready_storm_test — issue 14 "beyond the list": at least 15,000
// registrations ready at once, on each backend, every delivery counted.
//
// kevent(7): a kevent is on the ready list at most once and comes back only
// on new activity. With far more ready files than io_uring's 4,096-entry CQ
// holds, the backend must still deliver each exactly once per activity
// (tests/regress/cq_overflow_duplicates_test has the bug's own scenarios).
// Two rounds: the second makes every file active again after the first was
// delivered, so polls that the kernel ended in the first round must be
// armed again and report exactly once. A LEVEL case consumes at delivery.
//
// The process's descriptor limit decides N: the soft limit is raised to the
// hard one; below 15,000 usable descriptors the case skips with the reason.
#include "kevent_test.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

using kevent_test::make;

namespace {

constexpr size_t minimum = 15000;
constexpr size_t spare = 200; // the queue's own descriptors, gtest's, stdio

// How many eventfds this process may open for the storm (soft limit raised
// to the hard one), at most `cap`.
size_t usable_fds(size_t cap) {
	rlimit rl{};
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 0;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 0;
	if (rl.rlim_cur == RLIM_INFINITY)
		return cap;
	size_t n = rl.rlim_cur > spare ? rl.rlim_cur - spare : 0;
	return std::min(n, cap);
}

} // namespace

class ReadyStorm : public kevent_test::QueueTest {
protected:
	std::vector<int> fds;
	std::vector<unsigned> seen; // deliveries by fd number
	int top = 0;

	void TearDown() override {
		for (int fd : fds)
			close(fd);
		QueueTest::TearDown();
	}

	// Open N eventfds and register them in one batch (none is ready yet).
	void setup(unsigned req) {
		size_t n = usable_fds(19000);
		if (n < minimum)
			GTEST_SKIP()
				<< "RLIMIT_NOFILE allows " << n << " descriptors for the storm, "
				<< "fewer than " << minimum;
		std::vector<ukevent> uk;
		for (size_t i = 0; i < n; i++) {
			int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
			ASSERT_GE(fd, 0) << std::strerror(errno);
			fds.push_back(fd);
			top = std::max(top, fd);
			uk.push_back(make(KEVENT_POLL, uint64_t(fd), POLLIN, req, i));
		}
		ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, static_cast<unsigned>(n), uk.data()));
		ASSERT_EQ(n, kevent_test::queue_stats(kfd).registered);
		seen.assign(static_cast<size_t>(top) + 1, 0);
	}

	// Make every file readable, then harvest until a 300 ms wait finds
	// nothing. Returns the number of deliveries; `seen` counts them per fd.
	size_t round(bool consume) {
		for (int fd : fds)
			EXPECT_EQ(0, eventfd_write(fd, 1));
		size_t total = 0;
		std::vector<ukevent> buf(4096);
		for (;;) {
			timespec t = kevent_test::ms(300);
			int r = kevent_get_events(kfd, 1, 4096, &t, buf.data(), 0);
			EXPECT_GE(r, 0) << std::strerror(errno);
			if (r <= 0)
				break;
			for (int i = 0; i < r; i++) {
				int fd = static_cast<int>(buf[i].id.raw[0]);
				if (fd < 0 || fd > top) {
					ADD_FAILURE() << "delivered a descriptor never registered: "
						      << fd;
					continue;
				}
				seen[fd]++;
				if (consume) {
					eventfd_t v;
					eventfd_read(fd, &v);
				}
			}
			total += static_cast<size_t>(r);
			if (total > 3 * fds.size())
				break; // deliveries without end: counted below
		}
		return total;
	}

	// Each descriptor delivered exactly `times` times so far.
	void expect_each(unsigned times, size_t total) {
		size_t n = fds.size(), extra = 0, missing = 0;
		for (int fd : fds) {
			extra += seen[fd] > times ? seen[fd] - times : 0;
			missing += seen[fd] < times;
		}
		std::printf("[ storm    ] N=%zu round=%u deliveries=%zu duplicates=%zu "
			    "missing=%zu\n",
			    n, times, total, extra, missing);
		EXPECT_EQ(n, total) << "deliveries in this round";
		EXPECT_EQ(0u, extra) << "deliveries beyond one per activity";
		EXPECT_EQ(0u, missing) << "descriptors not delivered";
	}
};

TEST_P(ReadyStorm, EveryReadyRegistrationDeliveredOncePerActivity) {
	setup(0);
	if (IsSkipped() || HasFatalFailure())
		return;
	expect_each(1, round(false));
	// New activity on every file: each comes back once more, no more.
	expect_each(2, round(false));
}

TEST_P(ReadyStorm, EveryReadyLevelRegistrationDeliveredOnceWhenConsumed) {
	setup(KEVENT_REQ_LEVEL);
	if (IsSkipped() || HasFatalFailure())
		return;
	expect_each(1, round(true));
	expect_each(2, round(true));
}

KEVENT_INSTANTIATE_BACKENDS(ReadyStorm);
