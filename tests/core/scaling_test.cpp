// SPDX-License-Identifier: MIT
// scaling_test — the cost of one ready event must not grow with the number of
// idle registrations (the point of the 4-ary timer heap and of harvesting
// only what the backend reports). Each case measures, in one run, the time
// per ready event of one active socket pair with 10 idle registrations and
// with many (100,000 timers; 10,000 sockets), and prints the figures.
//
// No timing is asserted (machines here are small and shared, DESIGN.md
// "Measuring"); what is asserted is that every round delivers exactly the
// active event, whatever sits idle beside it.
#include "kevent_test.hpp"

#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace kevent_test;

class fd_pair {
public:
	fd_pair() {
		int sv[2];
		ok_ = ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0;
		if (ok_) {
			a_ = sv[0];
			b_ = sv[1];
		}
	}
	fd_pair(fd_pair &&o) noexcept
	    : a_(std::exchange(o.a_, -1)), b_(std::exchange(o.b_, -1)), ok_(o.ok_) {}
	fd_pair(const fd_pair &) = delete;
	fd_pair &operator=(const fd_pair &) = delete;
	fd_pair &operator=(fd_pair &&) = delete;
	~fd_pair() {
		if (a_ >= 0)
			::close(a_);
		if (b_ >= 0)
			::close(b_);
	}
	bool ok() const { return ok_; }
	int a() const { return a_; }
	int b() const { return b_; }

private:
	int a_ = -1, b_ = -1;
	bool ok_ = false;
};

struct figures {
	double median_ns, min_ns, max_ns;
};

// Rounds of: make the active socket readable, take its event, read the byte.
// Returns ns per ready event over `reps` repetitions of `rounds` rounds.
figures time_per_ready_event(int q, const fd_pair &active, int rounds = 2000, int reps = 5) {
	std::vector<double> per_event;
	char c = 'x';
	ukevent buf[8];
	timespec two_s = ms(2000);
	for (int r = 0; r < reps; r++) {
		auto start = std::chrono::steady_clock::now();
		for (int i = 0; i < rounds; i++) {
			if (::write(active.b(), &c, 1) != 1) {
				ADD_FAILURE() << "write: " << std::strerror(errno);
				return {};
			}
			int n = kevent_get_events(q, 1, 8, &two_s, buf, 0);
			if (n != 1 || buf[0].id.raw[0] != static_cast<uint32_t>(active.a())) {
				ADD_FAILURE()
					<< "round " << i << ": expected the active event, got " << n
					<< " events (" << std::strerror(errno) << ")";
				return {};
			}
			if (::read(active.a(), &c, 1) != 1) {
				ADD_FAILURE() << "read: " << std::strerror(errno);
				return {};
			}
		}
		std::chrono::duration<double, std::nano> d =
			std::chrono::steady_clock::now() - start;
		per_event.push_back(d.count() / rounds);
	}
	std::sort(per_event.begin(), per_event.end());
	return {per_event[per_event.size() / 2], per_event.front(), per_event.back()};
}

void print(const char *what, const figures &f) {
	std::printf("[ scaling  ] %-40s %9.0f ns per ready event (median of 5; min %.0f, max "
		    "%.0f)\n",
		    what, f.median_ns, f.min_ns, f.max_ns);
	std::fflush(stdout);
}

// Adds idle timers [from, to): intervals of 10 s + (i + 1) ns, all distinct.
void add_idle_timers(int q, uint32_t from, uint32_t to) {
	std::vector<ukevent> batch;
	for (uint32_t off = from; off < to; off += 50000) {
		batch.clear();
		for (uint32_t i = off; i < std::min(to, off + 50000); i++) {
			kevent_id id{};
			id.raw[0] = 10;
			id.raw[1] = i + 1;
			batch.push_back(make(KEVENT_TIMER, id.raw_u64, KEVENT_TIMER_FIRED));
		}
		ASSERT_EQ(0, kevent_ctl(q, KEVENT_CTL_ADD, static_cast<unsigned>(batch.size()),
					batch.data()))
			<< std::strerror(errno);
	}
}

void add_active(int q, const fd_pair &active) {
	ASSERT_TRUE(active.ok()) << std::strerror(errno);
	ukevent e = make(KEVENT_SOCKET, static_cast<uint32_t>(active.a()), KEVENT_SOCKET_RECV);
	ASSERT_EQ(0, kevent_ctl(q, KEVENT_CTL_ADD, 1, &e)) << std::strerror(errno);
}

class Scaling : public QueueTest {};

TEST_P(Scaling, TimePerReadyEventWith10vs100000IdleTimers) {
	fd_pair active;
	add_active(kfd, active);
	ASSERT_NO_FATAL_FAILURE(add_idle_timers(kfd, 0, 10));
	figures few = time_per_ready_event(kfd, active);
	ASSERT_FALSE(HasFailure());
	ASSERT_NO_FATAL_FAILURE(add_idle_timers(kfd, 10, 100000));
	EXPECT_EQ(100001u, queue_stats(kfd).registered);
	figures many = time_per_ready_event(kfd, active);
	ASSERT_FALSE(HasFailure());
	print("10 idle timers", few);
	print("100,000 idle timers", many);
	std::cout << "[ scaling  ] ratio 100,000 / 10 timers: " << many.median_ns / few.median_ns
		  << std::endl;
}

// 10,000 socket pairs need 20,000 descriptors plus the test's own.
constexpr rlim_t fds_needed = 21000;

bool raise_nofile(std::string &why) {
	rlimit rl{};
	::getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max; // first, up to the hard limit
	::setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur >= fds_needed)
		return true;
	// A privileged process may raise the hard limit itself.
	rlimit more{fds_needed + 100, fds_needed + 100};
	if (::setrlimit(RLIMIT_NOFILE, &more) == 0) {
		std::cout << "[ scaling  ] hard RLIMIT_NOFILE " << rl.rlim_max << " raised to "
			  << more.rlim_max << std::endl;
		return true;
	}
	why = "RLIMIT_NOFILE hard limit is " + std::to_string(rl.rlim_max) + " < " +
	      std::to_string(fds_needed) + " and cannot be raised: " + std::strerror(errno);
	return false;
}

TEST_P(Scaling, TimePerReadyEventWith10vs10000IdleSockets) {
	std::string why;
	if (!raise_nofile(why))
		GTEST_SKIP() << why;
	fd_pair active;
	add_active(kfd, active);

	std::vector<fd_pair> idle;
	idle.reserve(10000);
	auto add_idle = [&](size_t to) {
		std::vector<ukevent> batch;
		while (idle.size() < to) {
			idle.emplace_back();
			ASSERT_TRUE(idle.back().ok())
				<< "socketpair #" << idle.size() << ": " << std::strerror(errno);
			batch.push_back(make(KEVENT_SOCKET, static_cast<uint32_t>(idle.back().a()),
					     KEVENT_SOCKET_RECV));
		}
		ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, static_cast<unsigned>(batch.size()),
					batch.data()))
			<< std::strerror(errno);
	};
	ASSERT_NO_FATAL_FAILURE(add_idle(10));
	figures few = time_per_ready_event(kfd, active);
	ASSERT_FALSE(HasFailure());
	ASSERT_NO_FATAL_FAILURE(add_idle(10000));
	EXPECT_EQ(10001u, queue_stats(kfd).registered);
	figures many = time_per_ready_event(kfd, active);
	ASSERT_FALSE(HasFailure());
	print("10 idle sockets", few);
	print("10,000 idle sockets", many);
	std::cout << "[ scaling  ] ratio 10,000 / 10 sockets: " << many.median_ns / few.median_ns
		  << std::endl;

	// Remove them all in one batch while their fds are still open.
	std::vector<ukevent> rm;
	for (const auto &p : idle)
		rm.push_back(make(KEVENT_SOCKET, static_cast<uint32_t>(p.a()), KEVENT_SOCKET_RECV));
	ASSERT_EQ(0,
		  kevent_ctl(kfd, KEVENT_CTL_REMOVE, static_cast<unsigned>(rm.size()), rm.data()));
	size_t not_done = 0;
	for (const auto &uk : rm)
		not_done += uk.ret_flags != KEVENT_RET_DONE;
	EXPECT_EQ(0u, not_done);
	EXPECT_EQ(1u, queue_stats(kfd).registered);
}

// The same measure where the descriptor limit forbids 10,000 pairs: 10,000
// unbound AF_UNIX datagram sockets take one descriptor each (never readable,
// never hung up), so only 10,000 descriptors are needed.
TEST_P(Scaling, TimePerReadyEventWith10vs10000IdleDatagramSockets) {
	rlimit rl{};
	::getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	::setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < 10100)
		GTEST_SKIP() << "RLIMIT_NOFILE hard limit is " << rl.rlim_max << " < 10100";
	fd_pair active;
	add_active(kfd, active);

	std::vector<int> idle;
	auto add_idle = [&](size_t to) {
		std::vector<ukevent> batch;
		while (idle.size() < to) {
			int s = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
			ASSERT_GE(s, 0)
				<< "socket #" << idle.size() << ": " << std::strerror(errno);
			idle.push_back(s);
			batch.push_back(
				make(KEVENT_SOCKET, static_cast<uint32_t>(s), KEVENT_SOCKET_RECV));
		}
		ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, static_cast<unsigned>(batch.size()),
					batch.data()))
			<< std::strerror(errno);
	};
	struct closer {
		std::vector<int> &v;
		~closer() {
			for (int s : v)
				::close(s);
		}
	} close_idle{idle};
	ASSERT_NO_FATAL_FAILURE(add_idle(10));
	figures few = time_per_ready_event(kfd, active);
	ASSERT_FALSE(HasFailure());
	ASSERT_NO_FATAL_FAILURE(add_idle(10000));
	EXPECT_EQ(10001u, queue_stats(kfd).registered);
	figures many = time_per_ready_event(kfd, active);
	ASSERT_FALSE(HasFailure());
	print("10 idle datagram sockets", few);
	print("10,000 idle datagram sockets", many);
	std::cout << "[ scaling  ] ratio 10,000 / 10 datagram sockets: "
		  << many.median_ns / few.median_ns << std::endl;
}

KEVENT_INSTANTIATE_BACKENDS(Scaling);

} // namespace
