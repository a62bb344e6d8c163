// SPDX-License-Identifier: MIT
// kevent_test.hpp — shared fixture for the libkevent test suites.
//
// Every suite that touches a queue is value-parameterised over the backends
// this machine offers (KEVENT_TEST_BACKENDS), so each case runs once per
// backend. TearDown closes the queue and checks libuv-style that nothing
// leaked: the process-wide statistics (kevent_get_stats(-1, ...)) must show
// no open queue, no live registration and no in-flight I/O.
#pragma once

#include <gtest/gtest.h>
#include <kevent/kevent.h>

#include <cerrno>
#include <cstring>
#include <initializer_list>
#include <map>
#include <ostream>
#include <string>
#include <time.h>
#include <vector>

namespace kevent_test {

struct backend_case {
	unsigned flags;
	const char *name;
};

// The backends every parameterised suite runs on. A backend missing here
// at run time (kevent_init fails with ENOSYS/EOPNOTSUPP) makes the case skip
// with the reason printed.
inline std::vector<backend_case> backends() {
	return {{KEVENT_INIT_EPOLL, "epoll"}, {KEVENT_INIT_URING, "uring"}};
}

// So that ctest names read "…/epoll" rather than a hex dump of the struct.
inline void PrintTo(const backend_case &c, std::ostream *os) { *os << c.name; }

inline std::string backend_name(const ::testing::TestParamInfo<backend_case> &info) {
	return info.param.name;
}

inline kevent_stats global_stats() {
	kevent_stats st{};
	EXPECT_EQ(0, kevent_get_stats(-1, &st, sizeof st)) << std::strerror(errno);
	return st;
}

inline kevent_stats queue_stats(int kfd) {
	kevent_stats st{};
	EXPECT_EQ(0, kevent_get_stats(kfd, &st, sizeof st)) << std::strerror(errno);
	return st;
}

inline timespec ms(long msec) {
	timespec t{};
	t.tv_sec = msec / 1000;
	t.tv_nsec = (msec % 1000) * 1000000L;
	return t;
}

inline ukevent make(unsigned type, uint64_t id, unsigned event, unsigned req_flags = 0,
		    uint64_t cookie = 0) {
	ukevent uk{};
	uk.id.raw_u64 = id;
	uk.type = type;
	uk.event = event;
	uk.req_flags = req_flags;
	uk.user[0] = static_cast<uint32_t>(cookie);
	uk.user[1] = static_cast<uint32_t>(cookie >> 32);
	return uk;
}

inline uint64_t cookie_of(const ukevent &uk) {
	return uk.user[0] | (static_cast<uint64_t>(uk.user[1]) << 32);
}

// Timer id: interval in raw[0] seconds, raw[1] nanoseconds.
inline uint64_t timer_id(long msec) {
	kevent_id id{};
	id.raw[0] = static_cast<uint32_t>(msec / 1000);
	id.raw[1] = static_cast<uint32_t>((msec % 1000) * 1000000L);
	return id.raw_u64;
}

// kevent_get_events with a millisecond timeout (-1 = forever); returns the
// delivered events, or fails the test on error.
inline std::vector<ukevent> get(int kfd, unsigned min_nr, unsigned max_nr, long timeout_ms) {
	std::vector<ukevent> buf(max_nr);
	timespec t = ms(timeout_ms < 0 ? 0 : timeout_ms);
	int n = kevent_get_events(kfd, min_nr, max_nr, timeout_ms < 0 ? nullptr : &t, buf.data(),
				  0);
	EXPECT_GE(n, 0) << std::strerror(errno);
	buf.resize(n < 0 ? 0 : static_cast<size_t>(n));
	return buf;
}

// Deliveries from kfd, by cookie, until every cookie in `want` came (or 2 s
// passed without any event); a BROKEN delivery fails the test.
inline std::map<uint64_t, ukevent> collect(int kfd, std::initializer_list<uint64_t> want) {
	std::map<uint64_t, ukevent> seen;
	for (;;) {
		bool all = true;
		for (uint64_t c : want)
			all &= seen.count(c) != 0;
		if (all)
			break;
		auto got = get(kfd, 1, 16, 2000);
		if (got.empty())
			break;
		for (const ukevent &uk : got) {
			EXPECT_FALSE(uk.ret_flags & KEVENT_RET_BROKEN)
				<< "cookie " << cookie_of(uk) << " broken, error "
				<< static_cast<int32_t>(uk.ret_data[1]);
			seen.emplace(cookie_of(uk), uk);
		}
	}
	return seen;
}

// Fixture: one queue per case on the backend under test.
class QueueTest : public ::testing::TestWithParam<backend_case> {
protected:
	int kfd = -1;

	void SetUp() override {
		kfd = kevent_init(nullptr, 0, GetParam().flags);
		if (kfd < 0 && (errno == ENOSYS || errno == EOPNOTSUPP)) {
			GTEST_SKIP() << "backend " << GetParam().name
				     << " is not available here: " << std::strerror(errno);
		}
		ASSERT_GE(kfd, 0) << std::strerror(errno);
	}

	void TearDown() override {
		if (kfd >= 0) {
			EXPECT_EQ(0, kevent_close(kfd)) << std::strerror(errno);
		}
		kfd = -1;
		kevent_stats st = global_stats();
		EXPECT_EQ(0u, st.queues) << "a queue leaked";
		EXPECT_EQ(0u, st.registered) << "a registration leaked";
		EXPECT_EQ(0u, st.inflight_io) << "an I/O leaked";
	}

	// ADD one entry; returns kevent_ctl's result and leaves the copied-back
	// entry (if any) in uk.
	int add(ukevent &uk) { return kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &uk); }
};

// A case one backend cannot pass, by a kernel behaviour it cannot work
// around: skipped on that backend only, with the reason in the output.
#define KEVENT_KNOWN_GAP(backend_flags, reason)                                     \
	do {                                                                        \
		if (GetParam().flags == (backend_flags))                            \
			GTEST_SKIP() << GetParam().name << " cannot: " << (reason); \
	} while (0)

#define KEVENT_INSTANTIATE_BACKENDS(suite)                                                       \
	INSTANTIATE_TEST_SUITE_P(backend, suite, ::testing::ValuesIn(::kevent_test::backends()), \
				 ::kevent_test::backend_name)

} // namespace kevent_test
