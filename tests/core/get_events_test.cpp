// SPDX-License-Identifier: MIT
// get_events_test.cpp — kevent_get_events(3) and semantics.md
// "kevent_get_events": argument checks, timeouts (relative and
// KEVENT_FLAGS_ABSTIME), min_nr/max_nr, FIFO order, coalescing, exactly-once
// delivery, ONESHOT vs default mode, and forced wake-ups. Only the C ABI is
// used. Timing is checked only with lower bounds (plus very generous upper
// bounds where a call must not block).
#include "kevent_test.hpp"

#include <kevent/kevent.hpp>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using kevent_test::cookie_of;
using kevent_test::get;
using kevent_test::make;
using kevent_test::ms;
using kevent_test::queue_stats;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

std::string describe(const ukevent &uk) {
	std::ostringstream os;
	os << "{id=" << uk.id.raw_u64 << " type=" << uk.type << " event=0x" << std::hex << uk.event
	   << " req=0x" << uk.req_flags << " ret=0x" << uk.ret_flags << std::dec << " ret_data={"
	   << uk.ret_data[0] << "," << static_cast<int32_t>(uk.ret_data[1])
	   << "} cookie=" << cookie_of(uk) << "}";
	return os.str();
}

timespec mono_now() {
	timespec t{};
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t;
}

timespec plus_ms(timespec t, long msec) {
	t.tv_sec += msec / 1000;
	t.tv_nsec += (msec % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	} else if (t.tv_nsec < 0) {
		t.tv_sec--;
		t.tv_nsec += 1000000000L;
	}
	return t;
}

bool not_before(const timespec &a, const timespec &b) {
	return a.tv_sec > b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec >= b.tv_nsec);
}

long long ms_since(steady_clock::time_point t0) {
	return std::chrono::duration_cast<milliseconds>(steady_clock::now() - t0).count();
}

constexpr uint64_t kRescueId = 0x7e5c0e;

} // namespace

class GetEvents : public kevent_test::QueueTest {
protected:
	void add_unotify(uint64_t id, unsigned req = 0, uint64_t cookie = 0, unsigned event = 0) {
		ukevent uk = make(KEVENT_UNOTIFY, id, event, req, cookie);
		ASSERT_EQ(0, add(uk)) << describe(uk);
	}
	// A user event (cookie 11) made ready, then a pipe's ET POLL kevent
	// (cookie 77) whose byte comes after its ADD: on the ready list the
	// user event alone, the pipe's event still in the kernel.
	void user_event_then_pipe_data(int p[2]) {
		add_unotify(1, 0, 11);
		ASSERT_EQ(0, ::pipe2(p, O_CLOEXEC | O_NONBLOCK)) << std::strerror(errno);
		ukevent pe = make(KEVENT_POLL, uint64_t(p[0]), POLLIN, KEVENT_REQ_ET, 77);
		ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &pe));
		ASSERT_EQ(1, ready(1));
		ASSERT_EQ(1, ::write(p[1], "x", 1)); // after the ADD, which would copy it back
	}
	int ready(uint64_t id) {
		ukevent r = make(KEVENT_UNOTIFY, id, 0);
		return kevent_ctl(kfd, KEVENT_CTL_READY, 1, &r);
	}
	int ready_all(const std::vector<uint64_t> &ids) {
		std::vector<ukevent> v;
		for (uint64_t id : ids)
			v.push_back(make(KEVENT_UNOTIFY, id, 0));
		return kevent_ctl(kfd, KEVENT_CTL_READY, static_cast<unsigned>(v.size()), v.data());
	}

	// A bad call fails with EINVAL, leaves buf alone and leaves the one
	// ready sentinel on the ready list, still deliverable.
	void expect_einval_changes_nothing(unsigned min_nr, unsigned max_nr,
					   const timespec *timeout, bool null_buf, unsigned flags,
					   const char *what) {
		SCOPED_TRACE(what);
		ukevent buf[8];
		std::memset(buf, 0xab, sizeof buf);
		errno = 0;
		EXPECT_EQ(-1, kevent_get_events(kfd, min_nr, max_nr, timeout,
						null_buf ? nullptr : buf, flags));
		EXPECT_EQ(EINVAL, errno);
		const auto *bytes = reinterpret_cast<const unsigned char *>(buf);
		for (size_t i = 0; i < sizeof buf; i++)
			if (bytes[i] != 0xab) {
				ADD_FAILURE() << "buf written at byte " << i;
				break;
			}
		kevent_stats st = queue_stats(kfd);
		EXPECT_EQ(1u, st.ready) << "the ready sentinel was taken off the ready list";
		EXPECT_EQ(1u, st.registered);
		EXPECT_EQ(0u, st.delivered);
	}

	void add_ready_sentinel() {
		add_unotify(1, 0, 111);
		ASSERT_EQ(1, ready(1));
	}

	void expect_sentinel_delivered() {
		auto got = get(kfd, 1, 8, 0);
		ASSERT_EQ(1u, got.size());
		EXPECT_EQ(111u, cookie_of(got[0]));
	}

	// Runs kevent_get_events(min_nr, max_nr, timeout, flags) on a thread.
	// If the call has not returned after `patience`, readies the rescue
	// kevent (added here) and sends READY num=0 so that the thread ends,
	// and sets *hung. Returns the call's result.
	int call_with_rescue(unsigned min_nr, unsigned max_nr, const timespec *timeout,
			     unsigned flags, milliseconds patience, bool *hung,
			     std::vector<ukevent> *out = nullptr) {
		ukevent rescue = make(KEVENT_UNOTIFY, kRescueId, 0);
		EXPECT_EQ(0, add(rescue));
		std::atomic<bool> done{false};
		int result = -2;
		std::vector<ukevent> buf(max_nr);
		std::thread t([&] {
			result = kevent_get_events(kfd, min_nr, max_nr, timeout, buf.data(), flags);
			done = true;
		});
		auto deadline = steady_clock::now() + patience;
		while (!done && steady_clock::now() < deadline)
			std::this_thread::sleep_for(milliseconds(5));
		*hung = !done;
		while (!done) {
			ukevent r = make(KEVENT_UNOTIFY, kRescueId, 0);
			kevent_ctl(kfd, KEVENT_CTL_READY, 1, &r);
			kevent_ctl(kfd, KEVENT_CTL_READY, 0, nullptr);
			std::this_thread::sleep_for(milliseconds(20));
		}
		t.join();
		ukevent rm = make(KEVENT_UNOTIFY, kRescueId, 0);
		EXPECT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &rm));
		if (out != nullptr && result > 0)
			out->assign(buf.begin(), buf.begin() + result);
		return result;
	}
};

// ---- argument checks ------------------------------------------------------------

TEST_P(GetEvents, MaxNrZeroIsEINVAL) {
	add_ready_sentinel();
	timespec zero{0, 0};
	expect_einval_changes_nothing(0, 0, &zero, false, 0, "max_nr 0, min_nr 0");
	expect_einval_changes_nothing(0, 0, nullptr, false, 0, "max_nr 0, NULL timeout");
	expect_sentinel_delivered();
}

TEST_P(GetEvents, MinNrAboveMaxNrIsEINVAL) {
	add_ready_sentinel();
	timespec zero{0, 0};
	expect_einval_changes_nothing(5, 4, &zero, false, 0, "min 5 > max 4");
	expect_einval_changes_nothing(2, 1, nullptr, false, 0, "min 2 > max 1, NULL timeout");
	expect_sentinel_delivered();
}

TEST_P(GetEvents, NullBufIsEINVAL) {
	add_ready_sentinel();
	timespec zero{0, 0};
	expect_einval_changes_nothing(1, 4, &zero, true, 0, "buf NULL");
	expect_einval_changes_nothing(0, 4, &zero, true, 0, "buf NULL, min_nr 0");
	expect_sentinel_delivered();
}

TEST_P(GetEvents, BadTimeoutIsEINVAL) {
	add_ready_sentinel();
	timespec nsec_too_big{0, 1000000000L};
	timespec nsec_negative{0, -1};
	timespec sec_negative{-1, 0};
	expect_einval_changes_nothing(1, 4, &nsec_too_big, false, 0, "tv_nsec = 1e9");
	expect_einval_changes_nothing(1, 4, &nsec_negative, false, 0, "tv_nsec = -1");
	expect_einval_changes_nothing(1, 4, &sec_negative, false, 0, "tv_sec = -1");
	expect_einval_changes_nothing(1, 4, &nsec_too_big, false, KEVENT_FLAGS_ABSTIME,
				      "ABSTIME, tv_nsec = 1e9");
	expect_einval_changes_nothing(1, 4, &nsec_negative, false, KEVENT_FLAGS_ABSTIME,
				      "ABSTIME, tv_nsec = -1");
	expect_sentinel_delivered();
}

TEST_P(GetEvents, UnknownFlagsIsEINVAL) {
	add_ready_sentinel();
	timespec zero{0, 0};
	for (unsigned bad :
	     {0x8u, 0x80u, 0x80000000u,
	      KEVENT_FLAGS_ABSTIME | KEVENT_FLAGS_EINTR | KEVENT_FLAGS_ALL_READY | 0x8u})
		expect_einval_changes_nothing(1, 4, &zero, false, bad,
					      ("flags " + std::to_string(bad)).c_str());
	expect_sentinel_delivered();
}

// ---- blocking and timeouts ------------------------------------------------------

TEST_P(GetEvents, ZeroTimeoutReturnsZeroAtOnceWhenNothingIsReady) {
	add_unotify(1); // registered, not ready
	timespec zero{0, 0};
	bool hung = false;
	EXPECT_EQ(0, call_with_rescue(1, 4, &zero, 0, milliseconds(2000), &hung));
	EXPECT_FALSE(hung) << "a zero timeout blocked";
}

TEST_P(GetEvents, MinNrZeroDoesNotBlock) {
	add_unotify(1);
	bool hung = false;
	// Even with no timeout at all.
	EXPECT_EQ(0, call_with_rescue(0, 4, nullptr, 0, milliseconds(2000), &hung));
	EXPECT_FALSE(hung) << "min_nr 0 with a NULL timeout blocked";
}

TEST_P(GetEvents, MinNrZeroReturnsWhatIsReady) {
	for (uint64_t id = 1; id <= 3; id++)
		add_unotify(id, 0, id);
	ASSERT_EQ(2, ready_all({2, 3}));
	auto got = get(kfd, 0, 8, 0);
	ASSERT_EQ(2u, got.size());
	EXPECT_EQ(2u, got[0].id.raw_u64);
	EXPECT_EQ(3u, got[1].id.raw_u64);
}

TEST_P(GetEvents, RelativeTimeoutWaitsAtLeastTheTimeout) {
	add_unotify(1);
	timespec t = ms(50);
	ukevent buf[4];
	auto t0 = steady_clock::now();
	EXPECT_EQ(0, kevent_get_events(kfd, 1, 4, &t, buf, 0)) << std::strerror(errno);
	long long took = ms_since(t0);
	EXPECT_GE(took, 50) << "returned before the timeout";
	EXPECT_LT(took, 2000) << "a 50 ms timeout took " << took << " ms";
}

TEST_P(GetEvents, RelativeTimeoutWithSubMillisecondPartIsNotRoundedDown) {
	add_unotify(1);
	timespec t{0, 30500000L}; // 30.5 ms
	ukevent buf[4];
	timespec start = mono_now();
	EXPECT_EQ(0, kevent_get_events(kfd, 1, 4, &t, buf, 0)) << std::strerror(errno);
	EXPECT_TRUE(not_before(mono_now(), plus_ms(start, 30))) << "returned before 30 ms";
}

TEST_P(GetEvents, AbsoluteTimeoutInThePastReturnsAtOnce) {
	add_unotify(1);
	bool hung = false;
	timespec past = plus_ms(mono_now(), -1000);
	EXPECT_EQ(0,
		  call_with_rescue(1, 4, &past, KEVENT_FLAGS_ABSTIME, milliseconds(2000), &hung));
	EXPECT_FALSE(hung) << "an absolute timeout in the past blocked";
	timespec epoch{0, 0};
	EXPECT_EQ(0,
		  call_with_rescue(1, 4, &epoch, KEVENT_FLAGS_ABSTIME, milliseconds(2000), &hung));
	EXPECT_FALSE(hung) << "an absolute timeout of 0 blocked";
}

TEST_P(GetEvents, AbsoluteTimeoutInTheFutureWaitsUntilThen) {
	add_unotify(1);
	timespec deadline = plus_ms(mono_now(), 50);
	ukevent buf[4];
	EXPECT_EQ(0, kevent_get_events(kfd, 1, 4, &deadline, buf, KEVENT_FLAGS_ABSTIME))
		<< std::strerror(errno);
	timespec end = mono_now();
	EXPECT_TRUE(not_before(end, deadline)) << "returned before the absolute deadline";
	EXPECT_FALSE(not_before(end, plus_ms(deadline, 2000))) << "returned 2 s after the deadline";
}

TEST_P(GetEvents, AbsoluteTimeoutReturnsEventsReadyBeforeIt) {
	add_unotify(1, 0, 11);
	ASSERT_EQ(1, ready(1));
	timespec deadline = plus_ms(mono_now(), 60000);
	ukevent buf[4];
	EXPECT_EQ(1, kevent_get_events(kfd, 1, 4, &deadline, buf, KEVENT_FLAGS_ABSTIME))
		<< std::strerror(errno);
	EXPECT_EQ(11u, cookie_of(buf[0]));
}

// min_nr is honoured: the call does not return after the first of three
// events.
//
//   main                                 readier
//   ----                                 -------
//   get_events(min 3, max 8, 5 s) ──┐    sleep 30 ms; READY a
//        (blocked, 1 ready)         │    sleep 30 ms; READY b
//        (blocked, 2 ready)         │    sleep 30 ms; READY c
//   returns 3: a, b, c  ◀───────────┘
TEST_P(GetEvents, MinNrIsHonoured) {
	for (uint64_t id = 1; id <= 3; id++)
		add_unotify(id, 0, id);
	std::thread readier([this] {
		for (uint64_t id = 1; id <= 3; id++) {
			std::this_thread::sleep_for(milliseconds(30));
			EXPECT_EQ(1, ready(id));
		}
	});
	timespec t = ms(5000);
	ukevent buf[8];
	int n = kevent_get_events(kfd, 3, 8, &t, buf, 0);
	readier.join();
	ASSERT_EQ(3, n) << std::strerror(errno);
	for (int i = 0; i < 3; i++)
		EXPECT_EQ(static_cast<uint64_t>(i + 1), buf[i].id.raw_u64) << describe(buf[i]);
}

TEST_P(GetEvents, MinNrNotReachedReturnsWhatIsReadyAtTimeout) {
	for (uint64_t id = 1; id <= 3; id++)
		add_unotify(id, 0, id);
	ASSERT_EQ(2, ready_all({1, 2}));
	timespec t = ms(100);
	ukevent buf[8];
	auto t0 = steady_clock::now();
	int n = kevent_get_events(kfd, 3, 8, &t, buf, 0);
	long long took = ms_since(t0);
	ASSERT_EQ(2, n) << std::strerror(errno);
	EXPECT_GE(took, 100) << "returned below min_nr before the timeout";
	EXPECT_EQ(1u, buf[0].id.raw_u64);
	EXPECT_EQ(2u, buf[1].id.raw_u64);
}

TEST_P(GetEvents, MaxNrIsHonoured) {
	std::vector<uint64_t> ids;
	for (uint64_t id = 1; id <= 10; id++) {
		add_unotify(id, 0, id);
		ids.push_back(id);
	}
	ASSERT_EQ(10, ready_all(ids));
	ukevent buf[16];
	std::memset(buf, 0xab, sizeof buf);
	timespec zero{0, 0};
	ASSERT_EQ(4, kevent_get_events(kfd, 1, 4, &zero, buf, 0));
	const auto *bytes = reinterpret_cast<const unsigned char *>(&buf[4]);
	for (size_t i = 0; i < sizeof(ukevent); i++)
		ASSERT_EQ(0xab, bytes[i]) << "written past max_nr";
	EXPECT_EQ(6u, queue_stats(kfd).ready);
	ASSERT_EQ(4, kevent_get_events(kfd, 1, 4, &zero, buf + 4, 0));
	ASSERT_EQ(2, kevent_get_events(kfd, 1, 4, &zero, buf + 8, 0));
	EXPECT_EQ(0, kevent_get_events(kfd, 1, 4, &zero, buf + 10, 0));
	for (uint64_t i = 0; i < 10; i++)
		EXPECT_EQ(i + 1, buf[i].id.raw_u64) << "position " << i;
}

TEST_P(GetEvents, DeliveryIsFifo) {
	const std::vector<uint64_t> order = {5, 3, 9, 1, 7, 2};
	for (uint64_t id : order)
		add_unotify(id, 0, id);
	// Some readied one by one, some in one batch: the ready list keeps the
	// order in which they became ready.
	ASSERT_EQ(1, ready(5));
	ASSERT_EQ(1, ready(3));
	ASSERT_EQ(3, ready_all({9, 1, 7}));
	ASSERT_EQ(1, ready(2));
	auto got = get(kfd, 1, 16, 0);
	ASSERT_EQ(order.size(), got.size());
	for (size_t i = 0; i < order.size(); i++)
		EXPECT_EQ(order[i], got[i].id.raw_u64) << "position " << i;
}

TEST_P(GetEvents, ReadyingTheSameKeventFiveTimesDeliversItOnce) {
	add_unotify(1, 0, 11);
	add_unotify(2, 0, 22);
	for (int i = 0; i < 5; i++)
		ASSERT_EQ(1, ready(1));
	ASSERT_EQ(2, ready_all({1, 1}));
	EXPECT_EQ(1u, queue_stats(kfd).ready) << "a kevent is on the ready list more than once";
	ASSERT_EQ(1, ready(2));
	auto got = get(kfd, 1, 16, 0);
	ASSERT_EQ(2u, got.size());
	EXPECT_EQ(1u, got[0].id.raw_u64);
	EXPECT_EQ(2u, got[1].id.raw_u64);
	EXPECT_EQ(0u, get(kfd, 0, 16, 0).size());
}

TEST_P(GetEvents, EventsAreDeliveredExactlyOnceAcrossCalls) {
	std::vector<uint64_t> ids;
	for (uint64_t id = 100; id < 120; id++) {
		add_unotify(id, id % 2 ? KEVENT_REQ_ONESHOT : 0u, id);
		ids.push_back(id);
	}
	ASSERT_EQ(20, ready_all(ids));
	std::map<uint64_t, int> seen;
	for (int round = 0; round < 20; round++) {
		auto got = get(kfd, 0, 3, 0);
		if (got.empty())
			break;
		for (const ukevent &g : got)
			seen[g.id.raw_u64]++;
	}
	ASSERT_EQ(20u, seen.size());
	for (auto [id, count] : seen)
		EXPECT_EQ(1, count) << "id " << id;
	EXPECT_EQ(0u, get(kfd, 0, 8, 0).size());
	EXPECT_EQ(20u, queue_stats(kfd).delivered);
}

TEST_P(GetEvents, OneshotIsRemovedAfterDelivery) {
	add_unotify(1, KEVENT_REQ_ONESHOT, 11);
	add_unotify(2, 0, 22);
	ASSERT_EQ(2u, queue_stats(kfd).registered);
	ASSERT_EQ(1, ready(1));
	auto got = get(kfd, 1, 8, 0);
	ASSERT_EQ(1u, got.size());
	EXPECT_EQ(KEVENT_RET_DONE, got[0].ret_flags) << describe(got[0]);
	kevent_stats st = queue_stats(kfd);
	EXPECT_EQ(1u, st.registered);
	EXPECT_EQ(1u, st.registered_by_type[KEVENT_UNOTIFY]);
	ukevent rm = make(KEVENT_UNOTIFY, 1, 0);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &rm));
	EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, rm.ret_flags) << describe(rm);
	EXPECT_EQ(static_cast<uint32_t>(-ENOENT), rm.ret_data[1]) << describe(rm);
	ukevent r = make(KEVENT_UNOTIFY, 1, 0);
	EXPECT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_READY, 1, &r)) << "a delivered ONESHOT kevent was "
								  "marked";
	EXPECT_EQ(0u, get(kfd, 0, 8, 0).size());
}

TEST_P(GetEvents, DefaultModeComesBackOnlyAfterANewReady) {
	add_unotify(1, 0, 11);
	ASSERT_EQ(1, ready(1));
	auto got = get(kfd, 1, 8, 0);
	ASSERT_EQ(1u, got.size());
	EXPECT_EQ(0u, got[0].ret_flags) << describe(got[0]);
	EXPECT_EQ(1u, queue_stats(kfd).registered);
	EXPECT_EQ(0u, get(kfd, 0, 8, 0).size()) << "came back without new activity";
	ASSERT_EQ(1, ready(1));
	got = get(kfd, 1, 8, 0);
	ASSERT_EQ(1u, got.size());
	EXPECT_EQ(11u, cookie_of(got[0]));
	EXPECT_EQ(0u, got[0].ret_flags) << describe(got[0]);
	EXPECT_EQ(1u, queue_stats(kfd).registered);
}

// semantics.md "kevent_get_events": a delivered entry carries the
// registration's id, type, event, req_flags and cookie; ret_flags 0 for a
// kevent that stays registered, DONE for a ONESHOT one.
TEST_P(GetEvents, DeliveredEntryCarriesTheRegistration) {
	int anchor = 0;
	ukevent persistent = make(KEVENT_UNOTIFY, 0x1122334455667788ull, 0xf0f0, 0);
	persistent.ptr = &anchor;
	ASSERT_EQ(0, add(persistent));
	add_unotify(2, KEVENT_REQ_ONESHOT, 0xabcdef0123ull, 0x3);
	ASSERT_EQ(2, ready_all({0x1122334455667788ull, 2}));
	auto got = get(kfd, 2, 8, 0);
	ASSERT_EQ(2u, got.size());
	EXPECT_EQ(0x1122334455667788ull, got[0].id.raw_u64);
	EXPECT_EQ(static_cast<uint32_t>(KEVENT_UNOTIFY), got[0].type);
	EXPECT_EQ(0xf0f0u, got[0].event);
	EXPECT_EQ(0u, got[0].req_flags);
	EXPECT_EQ(static_cast<void *>(&anchor), got[0].ptr);
	EXPECT_EQ(0u, got[0].ret_flags);
	EXPECT_EQ(2u, got[1].id.raw_u64);
	EXPECT_EQ(0x3u, got[1].event);
	EXPECT_EQ(KEVENT_REQ_ONESHOT, got[1].req_flags);
	EXPECT_EQ(0xabcdef0123ull, cookie_of(got[1]));
	EXPECT_EQ(KEVENT_RET_DONE, got[1].ret_flags);
}

// A waiter with no timeout is woken by READY num=0 and returns 0.
//
//   main                                   waiter
//   ----                                   ------
//   start waiter                 ───────▶  get_events(min 1, NULL timeout)
//   sleep 100 ms: still blocked?              (blocked)
//   READY num=0, repeated until it returns
//                                 ◀──────  returns 0
TEST_P(GetEvents, NullTimeoutWaiterIsWokenByReadyNumZero) {
	add_unotify(1);
	std::atomic<bool> done{false};
	int result = -2;
	std::thread waiter([&] {
		ukevent buf[4];
		result = kevent_get_events(kfd, 1, 4, nullptr, buf, 0);
		done = true;
	});
	std::this_thread::sleep_for(milliseconds(100));
	EXPECT_FALSE(done.load()) << "returned with nothing ready and no timeout";
	auto deadline = steady_clock::now() + std::chrono::seconds(10);
	while (!done && steady_clock::now() < deadline) {
		EXPECT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_READY, 0, nullptr));
		std::this_thread::sleep_for(milliseconds(20));
	}
	if (!done) {
		ADD_FAILURE() << "READY num=0 did not wake the waiter in 10 s";
		ready(1);
	}
	waiter.join();
	EXPECT_EQ(0, result);
	EXPECT_EQ(0u, queue_stats(kfd).delivered);
}

// kevent_ctl(3) / semantics.md READY: a forced wake-up (READY num=0) makes the
// waiter return 0 events; what is ready stays queued for the next call.
//
//   main                                   waiter
//   ----                                   ------
//   READY kevent 1 (1 ready)
//   start waiter                 ───────▶  get_events(min 2, NULL timeout)
//   sleep 100 ms: still blocked?              (blocked: 1 < min_nr)
//   READY num=0, repeated until it returns
//                                 ◀──────  returns 0
//   kevent 1 is still ready: get_events(0) returns it
TEST_P(GetEvents, ForcedWakeUpReturnsZeroAndLeavesReadyEventsQueued) {
	add_unotify(1, 0, 11);
	add_unotify(2, 0, 22);
	ASSERT_EQ(1, ready(1));
	std::atomic<bool> done{false};
	int result = -2;
	std::thread waiter([&] {
		ukevent buf[4];
		result = kevent_get_events(kfd, 2, 4, nullptr, buf, 0);
		done = true;
	});
	std::this_thread::sleep_for(milliseconds(100));
	EXPECT_FALSE(done.load()) << "returned below min_nr with no timeout";
	auto deadline = steady_clock::now() + std::chrono::seconds(10);
	while (!done && steady_clock::now() < deadline) {
		EXPECT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_READY, 0, nullptr));
		std::this_thread::sleep_for(milliseconds(20));
	}
	if (!done) {
		ADD_FAILURE() << "READY num=0 did not wake the waiter in 10 s";
		ready(2);
	}
	waiter.join();
	EXPECT_EQ(0, result);
	EXPECT_EQ(1u, queue_stats(kfd).ready);
	auto got = get(kfd, 1, 4, 0);
	ASSERT_EQ(1u, got.size()) << "the ready event was lost by the forced wake-up";
	EXPECT_EQ(11u, cookie_of(got[0]));
}

// A waiter with no timeout is woken by a READY of one kevent and gets it.
//
//   main                                   waiter
//   ----                                   ------
//   start waiter                 ───────▶  get_events(min 1, NULL timeout)
//   sleep 100 ms: still blocked?              (blocked)
//   READY kevent 1 (once)
//                                 ◀──────  returns 1: kevent 1
TEST_P(GetEvents, NullTimeoutWaiterIsWokenByReadyOfAKevent) {
	add_unotify(1, 0, 11);
	std::atomic<bool> done{false};
	int result = -2;
	ukevent buf[4];
	std::thread waiter([&] {
		result = kevent_get_events(kfd, 1, 4, nullptr, buf, 0);
		done = true;
	});
	std::this_thread::sleep_for(milliseconds(100));
	EXPECT_FALSE(done.load());
	ASSERT_EQ(1, ready(1));
	auto deadline = steady_clock::now() + std::chrono::seconds(10);
	while (!done && steady_clock::now() < deadline)
		std::this_thread::sleep_for(milliseconds(5));
	if (!done) {
		ADD_FAILURE() << "a READY did not wake the waiter in 10 s";
		while (!done) {
			kevent_ctl(kfd, KEVENT_CTL_READY, 0, nullptr);
			std::this_thread::sleep_for(milliseconds(20));
		}
	}
	waiter.join();
	ASSERT_EQ(1, result);
	EXPECT_EQ(11u, cookie_of(buf[0]));
}

// kevent_get_events(3), semantics.md "kevent_get_events": never EINTR. A signal
// alone does not end the wait (io_uring's task work arrives with the same
// EINTR, so the library cannot tell a handler ran); a handler ends it with
// kevent_ctl(READY, 0), which is async-signal-safe.
//
//   main                                   waiter (SIGUSR1 handler, no SA_RESTART)
//   ----                                   ------
//   start waiter                 ───────▶  get_events(min 1, NULL timeout)
//   pthread_kill(SIGUSR1) x5     ───────▶  handler runs; the wait goes on
//   g_wake_kfd = kfd; pthread_kill ──────▶ handler: kevent_ctl(READY, 0)
//                                 ◀──────  returns 0, not -1/EINTR
namespace {
std::atomic<int> g_signals{0};
std::atomic<int> g_wake_kfd{-1};
void count_signal(int) {
	int saved = errno; // a handler must not change what the thread sees
	g_signals++;
	if (int q = g_wake_kfd.load(); q >= 0)
		kevent_ctl(q, KEVENT_CTL_READY, 0, nullptr);
	errno = saved;
}
} // namespace

TEST_P(GetEvents, SignalDuringWaitIsNotEINTR) {
	add_unotify(1);
	struct sigaction sa {
	}, old{};
	sa.sa_handler = count_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; // no SA_RESTART: the kernel wait sees EINTR
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, &old));
	g_wake_kfd = -1;
	g_signals = 0; // per backend: the count below is this run's
	std::atomic<bool> done{false};
	int result = -2, err = 0;
	std::thread waiter([&] {
		ukevent buf[4];
		result = kevent_get_events(kfd, 1, 4, nullptr, buf, 0);
		err = errno;
		done = true;
	});
	std::this_thread::sleep_for(milliseconds(100));
	// Each signal is handled before the next is sent: two sent while the
	// first is pending would count as one (a loaded machine schedules the
	// waiter late).
	for (int i = 0; i < 5 && !done; i++) {
		int before = g_signals.load();
		pthread_kill(waiter.native_handle(), SIGUSR1);
		auto until = steady_clock::now() + std::chrono::seconds(10);
		while (g_signals.load() == before && steady_clock::now() < until)
			std::this_thread::sleep_for(milliseconds(1));
	}
	EXPECT_FALSE(done.load()) << "a signal alone ended the wait";
	g_wake_kfd = kfd;
	auto deadline = steady_clock::now() + std::chrono::seconds(10);
	while (!done && steady_clock::now() < deadline) {
		pthread_kill(waiter.native_handle(), SIGUSR1);
		std::this_thread::sleep_for(milliseconds(20));
	}
	if (!done) {
		ADD_FAILURE() << "READY from a signal handler did not end the wait in 10 s";
		while (!done) {
			kevent_ctl(kfd, KEVENT_CTL_READY, 0, nullptr);
			std::this_thread::sleep_for(milliseconds(20));
		}
	}
	waiter.join();
	g_wake_kfd = -1;
	sigaction(SIGUSR1, &old, nullptr);
	EXPECT_GE(g_signals.load(), 6);
	EXPECT_EQ(0, result) << "errno " << std::strerror(err);
}

// kevent_get_events(3) "Fairness": a call that finds events on the ready
// list may take them without looking at the kernel, but not more than 16
// calls in a row: a descriptor's event reaches the caller behind a stream
// of user events made ready and taken one by one within 17 calls.
TEST_P(GetEvents, DescriptorEventIsNotStarvedByAStreamOfUserEvents) {
	add_unotify(1);
	int p[2];
	ASSERT_EQ(0, ::pipe2(p, O_CLOEXEC | O_NONBLOCK)) << std::strerror(errno);
	ukevent pe = make(KEVENT_POLL, uint64_t(p[0]), POLLIN, 0, 77);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &pe));
	ASSERT_EQ(1, ::write(p[1], "x", 1));
	int calls = 0;
	bool seen = false;
	while (!seen && calls < 100) {
		ukevent r = make(KEVENT_UNOTIFY, 1, 0);
		ASSERT_EQ(1, kevent_ctl(kfd, KEVENT_CTL_READY, 1, &r));
		calls++;
		for (const ukevent &e : get(kfd, 1, 4, 0))
			seen |= cookie_of(e) == 77;
	}
	EXPECT_TRUE(seen) << "the pipe's event never came";
	EXPECT_LE(calls, 17) << "the pipe's event waited behind more than 16 calls";
	::close(p[0]);
	::close(p[1]);
}

// ... and KEVENT_FLAGS_ALL_READY turns the shortcut off for one call: it
// asks the kernel although the list holds a user event, and returns the
// pipe's event beside it (the call without the flag takes the list alone).
TEST_P(GetEvents, AllReadyFlagLooksAtTheKernelBesideUserEvents) {
	int p[2];
	ASSERT_NO_FATAL_FAILURE(user_event_then_pipe_data(p));
	auto plain = get(kfd, 1, 4, 0);
	ASSERT_EQ(1u, plain.size()) << "the shortcut this flag turns off was not taken";
	EXPECT_EQ(11u, cookie_of(plain[0]));
	ASSERT_EQ(1, ::write(p[1], "y", 1)); // a new edge: the pipe's event is due again
	ASSERT_EQ(1, ready(1));
	ukevent buf[4];
	timespec zero{0, 0};
	int n = kevent_get_events(kfd, 1, 4, &zero, buf, KEVENT_FLAGS_ALL_READY);
	ASSERT_EQ(2, n) << std::strerror(errno);
	std::set<uint64_t> cookies{cookie_of(buf[0]), cookie_of(buf[1])};
	EXPECT_EQ((std::set<uint64_t>{11, 77}), cookies);
	::close(p[0]);
	::close(p[1]);
}

// The C++ form: queue::get_events(..., all_ready).
TEST_P(GetEvents, AllReadyFlagInTheCxxForm) {
	int p[2];
	ASSERT_NO_FATAL_FAILURE(user_event_then_pipe_data(p));
	kevent::queue q(kevent::queue::adopt, kfd); // the fixture's: released below
	ukevent buf[4];
	auto got = q.get_events(buf, 1, std::chrono::nanoseconds(0), kevent::all_ready);
	EXPECT_EQ(2u, got.size());
	(void)q.release();
	::close(p[0]);
	::close(p[1]);
}

// ... and while a LEVEL kevent is registered every call looks: it comes back
// at every call while its condition holds (kevent_get_events(3)), user
// events on the list or not.
TEST_P(GetEvents, LevelKeventComesBackAtEveryCallBesideUserEvents) {
	add_unotify(1);
	int p[2];
	ASSERT_EQ(0, ::pipe2(p, O_CLOEXEC | O_NONBLOCK)) << std::strerror(errno);
	ukevent pe = make(KEVENT_POLL, uint64_t(p[0]), POLLIN, KEVENT_REQ_LEVEL, 77);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &pe));
	ASSERT_EQ(1, ::write(p[1], "x", 1)); // after the ADD, which would copy it back
	for (int i = 0; i < 5; i++) {
		ukevent r = make(KEVENT_UNOTIFY, 1, 0);
		ASSERT_EQ(1, kevent_ctl(kfd, KEVENT_CTL_READY, 1, &r));
		std::set<uint64_t> cookies;
		for (const ukevent &e : get(kfd, 1, 4, 0))
			cookies.insert(cookie_of(e));
		EXPECT_EQ(1u, cookies.count(77)) << "call " << i << ": the LEVEL kevent is missing";
		EXPECT_EQ(2u, cookies.size()) << "call " << i;
	}
	::close(p[0]);
	::close(p[1]);
}

// ... and a call that took nothing from the list because every event on it
// failed its LAST_CHECK asks the kernel before it returns 0
// (kevent_get_events(3), "Fairness": a call that finds the list empty asks
// the kernel): here the list held only a pipe's stale event while another
// pipe's waited in the kernel, and the call used to return 0.
TEST_P(GetEvents, CallWhoseListWasAllStaleLastCheckLooksAtTheKernel) {
	int x[2], a[2], b[2];
	for (int *p : {x, a, b})
		ASSERT_EQ(0, ::pipe2(p, O_CLOEXEC | O_NONBLOCK)) << std::strerror(errno);
	ukevent xe = make(KEVENT_POLL, uint64_t(x[0]), POLLIN, 0, 9);
	ukevent ae = make(KEVENT_POLL, uint64_t(a[0]), POLLIN, KEVENT_REQ_LAST_CHECK, 1);
	ukevent be = make(KEVENT_POLL, uint64_t(b[0]), POLLIN, 0, 2);
	for (ukevent *e : {&xe, &ae, &be})
		ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, e));
	// x, then a: one look queues both, in the order they fired; a call
	// that takes one leaves a on the list.
	ASSERT_EQ(1, ::write(x[1], "x", 1));
	ASSERT_EQ(1, ::write(a[1], "a", 1));
	std::vector<ukevent> first = get(kfd, 0, 1, 0);
	ASSERT_EQ(1u, first.size());
	ASSERT_EQ(9u, cookie_of(first[0])) << "the kernel reported a before x";
	ASSERT_EQ(1u, queue_stats(kfd).ready) << "a's event is not on the list";
	char c;
	ASSERT_EQ(1, ::read(a[0], &c, 1));   // a's event is stale now
	ASSERT_EQ(1, ::write(b[1], "b", 1)); // b's waits in the kernel
	std::vector<ukevent> got = get(kfd, 0, 4, 0);
	ASSERT_EQ(1u, got.size()) << "the call returned without b's event";
	EXPECT_EQ(2u, cookie_of(got[0]));
	for (int *p : {x, a, b}) {
		::close(p[0]);
		::close(p[1]);
	}
}

KEVENT_INSTANTIATE_BACKENDS(GetEvents);
