// SPDX-License-Identifier: MIT
// ctl_test.cpp — kevent_ctl(3) and semantics.md "kevent_ctl — argument
// checks", "ADD — per-entry errors", "ADD — ready at add",
// "REMOVE / MODIFY / READY". Only the C ABI is used; every case that feeds
// bad input also checks that nothing else in the queue changed.
#include "kevent_test.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using kevent_test::cookie_of;
using kevent_test::get;
using kevent_test::make;
using kevent_test::queue_stats;

namespace {

constexpr unsigned kBrokenDone = KEVENT_RET_BROKEN | KEVENT_RET_DONE;

uint32_t neg(int err) { return static_cast<uint32_t>(-err); }

std::string describe(const ukevent &uk) {
	std::ostringstream os;
	os << "{id=" << uk.id.raw_u64 << " type=" << uk.type << " event=0x" << std::hex << uk.event
	   << " req=0x" << uk.req_flags << " ret=0x" << uk.ret_flags << std::dec << " ret_data={"
	   << uk.ret_data[0] << "," << static_cast<int32_t>(uk.ret_data[1])
	   << "} cookie=" << cookie_of(uk) << "}";
	return os.str();
}

// An entry that was copied back / written back with an error.
void expect_error_entry(const ukevent &uk, uint64_t id, unsigned type, uint64_t cookie, int err) {
	EXPECT_EQ(id, uk.id.raw_u64) << describe(uk);
	EXPECT_EQ(type, uk.type) << describe(uk);
	EXPECT_EQ(cookie, cookie_of(uk)) << describe(uk);
	EXPECT_EQ(kBrokenDone, uk.ret_flags) << describe(uk);
	EXPECT_EQ(neg(err), uk.ret_data[1])
		<< "expected -" << std::strerror(err) << " " << describe(uk);
}

} // namespace

class Ctl : public kevent_test::QueueTest {
protected:
	static constexpr uint64_t kSentinelId = 0x5e47;
	static constexpr uint64_t kSentinelCookie = 0xc0ffee;

	// A persistent UNOTIFY kevent that must survive every rejected call.
	// Returns the queue's statistics with it registered.
	kevent_stats add_sentinel() {
		ukevent s = make(KEVENT_UNOTIFY, kSentinelId, 0x1, 0, kSentinelCookie);
		EXPECT_EQ(0, add(s)) << describe(s);
		return queue_stats(kfd);
	}

	// The queue looks as it did in `before`: the same registrations, the
	// same ready list (nothing new on it), and the sentinel still registered
	// and deliverable with its own cookie. `totals` also compares the
	// added/removed/delivered counters (for calls rejected as a whole).
	void expect_unchanged(const kevent_stats &before, bool totals = true) {
		kevent_stats now = queue_stats(kfd);
		EXPECT_EQ(before.registered, now.registered) << "registrations changed";
		for (unsigned t = 0; t < KEVENT_MAX; t++)
			EXPECT_EQ(before.registered_by_type[t], now.registered_by_type[t])
				<< "type " << t;
		EXPECT_EQ(before.ready, now.ready) << "the ready list changed";
		if (totals) {
			EXPECT_EQ(before.added, now.added);
			EXPECT_EQ(before.removed, now.removed);
			EXPECT_EQ(before.delivered, now.delivered);
		}
		if (before.ready == 0) {
			EXPECT_EQ(0u, get(kfd, 0, 8, 0).size()) << "an event became ready";
		}
		ukevent r = make(KEVENT_UNOTIFY, kSentinelId, 0);
		ASSERT_EQ(1, kevent_ctl(kfd, KEVENT_CTL_READY, 1, &r))
			<< "sentinel lost: " << describe(r);
		auto got = get(kfd, 1, 8, 0);
		bool seen = false;
		for (const ukevent &g : got)
			if (g.id.raw_u64 == kSentinelId && g.type == KEVENT_UNOTIFY) {
				seen = true;
				EXPECT_EQ(kSentinelCookie, cookie_of(g)) << describe(g);
				EXPECT_EQ(0x1u, g.event) << describe(g);
				EXPECT_EQ(0u, g.ret_flags) << describe(g);
			}
		EXPECT_TRUE(seen) << "the sentinel was not delivered";
	}

	int ctl(unsigned cmd, std::vector<ukevent> &v) {
		return kevent_ctl(kfd, cmd, static_cast<unsigned>(v.size()), v.data());
	}

	int ready(uint64_t id) {
		ukevent r = make(KEVENT_UNOTIFY, id, 0);
		return kevent_ctl(kfd, KEVENT_CTL_READY, 1, &r);
	}

	bool is_registered(uint64_t id, unsigned type) {
		// A MODIFY to the same values would change the kevent; REMOVE would
		// remove it. Use READY for UNOTIFY only (the callers' case).
		EXPECT_EQ(static_cast<unsigned>(KEVENT_UNOTIFY), type);
		ukevent r = make(type, id, 0);
		int n = kevent_ctl(kfd, KEVENT_CTL_READY, 1, &r);
		EXPECT_GE(n, 0) << std::strerror(errno);
		if (n == 1) { // consume what we just made ready
			auto got = get(kfd, 1, 64, 0);
			EXPECT_FALSE(got.empty());
		}
		return n == 1;
	}
};

// ---- argument checks: the call fails as a whole, nothing is touched ----------

TEST_P(Ctl, UnknownCmdIsEINVALAndChangesNothing) {
	const kevent_stats before = add_sentinel();
	for (unsigned cmd : {4u, 5u, 1000u, ~0u}) {
		ukevent uk = make(KEVENT_UNOTIFY, kSentinelId, 0, 0, 1);
		const ukevent orig = uk;
		errno = 0;
		EXPECT_EQ(-1, kevent_ctl(kfd, cmd, 1, &uk)) << "cmd " << cmd;
		EXPECT_EQ(EINVAL, errno) << "cmd " << cmd;
		EXPECT_EQ(0, std::memcmp(&uk, &orig, sizeof uk))
			<< "entry touched: " << describe(uk);
		// num == 0 does not make an unknown cmd valid.
		errno = 0;
		EXPECT_EQ(-1, kevent_ctl(kfd, cmd, 0, nullptr)) << "cmd " << cmd;
		EXPECT_EQ(EINVAL, errno) << "cmd " << cmd;
	}
	expect_unchanged(before);
}

TEST_P(Ctl, NullArgWithNonZeroNumIsEINVALAndChangesNothing) {
	const kevent_stats before = add_sentinel();
	for (unsigned cmd :
	     {KEVENT_CTL_ADD, KEVENT_CTL_REMOVE, KEVENT_CTL_MODIFY, KEVENT_CTL_READY}) {
		for (unsigned num : {1u, 2u, 64u}) {
			errno = 0;
			EXPECT_EQ(-1, kevent_ctl(kfd, cmd, num, nullptr))
				<< "cmd " << cmd << " num " << num;
			EXPECT_EQ(EINVAL, errno) << "cmd " << cmd << " num " << num;
		}
	}
	expect_unchanged(before);
}

TEST_P(Ctl, NumAboveCtlMaxIsEINVALAndTouchesNoEntry) {
	const kevent_stats before = add_sentinel();
	const size_t n = static_cast<size_t>(KEVENT_CTL_MAX) + 1;
	// ADD: distinct, valid, queued entries — were any processed, the
	// registration count would move.
	std::vector<ukevent> adds(n);
	for (size_t i = 0; i < n; i++)
		adds[i] = make(KEVENT_UNOTIFY, 1000000 + i, 0, 0, i);
	const std::vector<ukevent> adds_orig = adds;
	errno = 0;
	EXPECT_EQ(-1, ctl(KEVENT_CTL_ADD, adds));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, std::memcmp(adds.data(), adds_orig.data(), n * sizeof(ukevent)));
	// REMOVE / MODIFY / READY naming the sentinel: were any processed, the
	// sentinel would be gone, changed or ready.
	for (unsigned cmd : {KEVENT_CTL_REMOVE, KEVENT_CTL_MODIFY, KEVENT_CTL_READY}) {
		std::vector<ukevent> v(n, make(KEVENT_UNOTIFY, kSentinelId, 0x2, KEVENT_REQ_ONESHOT,
					       9));
		const std::vector<ukevent> orig = v;
		errno = 0;
		EXPECT_EQ(-1, ctl(cmd, v)) << "cmd " << cmd;
		EXPECT_EQ(EINVAL, errno) << "cmd " << cmd;
		EXPECT_EQ(0, std::memcmp(v.data(), orig.data(), n * sizeof(ukevent)))
			<< "cmd " << cmd;
	}
	// The largest num of all, with a one-entry array: rejected before any read.
	ukevent one = make(KEVENT_UNOTIFY, kSentinelId, 0, 0, 3);
	errno = 0;
	EXPECT_EQ(-1, kevent_ctl(kfd, KEVENT_CTL_REMOVE, ~0u, &one));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0u, one.ret_flags);
	expect_unchanged(before);
}

TEST_P(Ctl, NumEqualToCtlMaxIsAccepted) {
	const size_t n = KEVENT_CTL_MAX;
	std::vector<ukevent> adds(n);
	for (size_t i = 0; i < n; i++)
		adds[i] = make(KEVENT_UNOTIFY, i, 0, 0, i);
	ASSERT_EQ(0, ctl(KEVENT_CTL_ADD, adds)) << std::strerror(errno);
	EXPECT_EQ(n, queue_stats(kfd).registered);
	std::vector<ukevent> rms(n);
	for (size_t i = 0; i < n; i++)
		rms[i] = make(KEVENT_UNOTIFY, i, 0);
	ASSERT_EQ(0, ctl(KEVENT_CTL_REMOVE, rms)) << std::strerror(errno);
	for (size_t i = 0; i < n; i++)
		if (rms[i].ret_flags != KEVENT_RET_DONE) {
			ADD_FAILURE() << "entry " << i << ": " << describe(rms[i]);
			break;
		}
	EXPECT_EQ(0u, queue_stats(kfd).registered);
}

TEST_P(Ctl, NumZeroDoesNothingAndReturnsZero) {
	const kevent_stats before = add_sentinel();
	for (unsigned cmd :
	     {KEVENT_CTL_ADD, KEVENT_CTL_REMOVE, KEVENT_CTL_MODIFY, KEVENT_CTL_READY}) {
		EXPECT_EQ(0, kevent_ctl(kfd, cmd, 0, nullptr))
			<< "cmd " << cmd << ": " << std::strerror(errno);
		// A non-NULL arg with num == 0 is not read: the entry would
		// otherwise remove / modify / ready the sentinel.
		ukevent uk = make(KEVENT_UNOTIFY, kSentinelId, 0x4, KEVENT_REQ_ONESHOT, 5);
		const ukevent orig = uk;
		EXPECT_EQ(0, kevent_ctl(kfd, cmd, 0, &uk))
			<< "cmd " << cmd << ": " << std::strerror(errno);
		EXPECT_EQ(0, std::memcmp(&uk, &orig, sizeof uk))
			<< "cmd " << cmd << ": " << describe(uk);
	}
	expect_unchanged(before, /*totals=*/true);
}

// ---- ADD ----------------------------------------------------------------------

// kevent_ctl(3) ADD: copied-back entries are compacted to the front of arg in
// input order; the call returns how many there are. Queued entries are not
// copied.
TEST_P(Ctl, AddCopiesBackCompactedInInputOrder) {
	std::vector<ukevent> v = {
		make(KEVENT_UNOTIFY, 100, 0, 0, 1000),                // queued
		make(KEVENT_MAX, 201, 0, 0, 1001),                    // bad type: EINVAL
		make(KEVENT_UNOTIFY, 101, 0, KEVENT_REQ_READY, 1002), // ready at add: DONE
		make(KEVENT_UNOTIFY, 102, 0, 0, 1003),                // queued
		make(KEVENT_UNOTIFY, 103, 0, 0x100u, 1004),           // unknown flag: EINVAL
		make(KEVENT_POSIX_TIMER, 202, 0, 0, 1005),            // ENOSYS
		make(KEVENT_UNOTIFY, 104, 0, KEVENT_REQ_READY, 1006), // ready at add: DONE
		make(KEVENT_UNOTIFY, 100, 0, 0, 1007),                // duplicate of [0]: EEXIST
		make(KEVENT_UNOTIFY, 105, 0, 0, 1008),                // queued
	};
	ASSERT_EQ(6, ctl(KEVENT_CTL_ADD, v)) << std::strerror(errno);

	expect_error_entry(v[0], 201, KEVENT_MAX, 1001, EINVAL);
	EXPECT_EQ(101u, v[1].id.raw_u64) << describe(v[1]);
	EXPECT_EQ(1002u, cookie_of(v[1])) << describe(v[1]);
	EXPECT_EQ(KEVENT_RET_DONE, v[1].ret_flags) << describe(v[1]);
	expect_error_entry(v[2], 103, KEVENT_UNOTIFY, 1004, EINVAL);
	expect_error_entry(v[3], 202, KEVENT_POSIX_TIMER, 1005, ENOSYS);
	EXPECT_EQ(104u, v[4].id.raw_u64) << describe(v[4]);
	EXPECT_EQ(1006u, cookie_of(v[4])) << describe(v[4]);
	EXPECT_EQ(KEVENT_RET_DONE, v[4].ret_flags) << describe(v[4]);
	expect_error_entry(v[5], 100, KEVENT_UNOTIFY, 1007, EEXIST);

	// Kept: 100, 102, 105 — and nothing is on the ready list.
	kevent_stats st = queue_stats(kfd);
	EXPECT_EQ(3u, st.registered);
	EXPECT_EQ(3u, st.registered_by_type[KEVENT_UNOTIFY]);
	EXPECT_EQ(0u, st.ready);
	EXPECT_EQ(0u, get(kfd, 0, 8, 0).size());
	EXPECT_TRUE(is_registered(100, KEVENT_UNOTIFY));
	EXPECT_TRUE(is_registered(102, KEVENT_UNOTIFY));
	EXPECT_TRUE(is_registered(105, KEVENT_UNOTIFY));
	// Ready-at-add entries were not kept.
	EXPECT_FALSE(is_registered(101, KEVENT_UNOTIFY));
	EXPECT_FALSE(is_registered(104, KEVENT_UNOTIFY));
	// The first of the duplicate pair kept its own cookie.
	ASSERT_EQ(1, ready(100));
	auto got = get(kfd, 1, 8, 0);
	ASSERT_EQ(1u, got.size());
	EXPECT_EQ(1000u, cookie_of(got[0])) << describe(got[0]);
}

TEST_P(Ctl, AddAllQueuedReturnsZero) {
	std::vector<ukevent> v = {make(KEVENT_UNOTIFY, 1, 0), make(KEVENT_UNOTIFY, 2, 0),
				  make(KEVENT_UNOTIFY, 3, 0)};
	EXPECT_EQ(0, ctl(KEVENT_CTL_ADD, v)) << std::strerror(errno);
	EXPECT_EQ(3u, queue_stats(kfd).registered);
}

TEST_P(Ctl, AddBadTypeIsEINVALEntry) {
	const kevent_stats before = add_sentinel();
	std::vector<ukevent> v = {make(KEVENT_MAX, 1, 0, 0, 11), make(1000, 2, 0, 0, 12),
				  make(~0u, 3, 0, 0, 13)};
	ASSERT_EQ(3, ctl(KEVENT_CTL_ADD, v)) << std::strerror(errno);
	expect_error_entry(v[0], 1, KEVENT_MAX, 11, EINVAL);
	expect_error_entry(v[1], 2, 1000, 12, EINVAL);
	expect_error_entry(v[2], 3, ~0u, 13, EINVAL);
	expect_unchanged(before, false);
}

TEST_P(Ctl, AddPosixTimerIsENOSYSEntry) {
	const kevent_stats before = add_sentinel();
	ukevent uk = make(KEVENT_POSIX_TIMER, kevent_test::timer_id(100), 0x1, 0, 21);
	ASSERT_EQ(1, add(uk)) << std::strerror(errno);
	expect_error_entry(uk, kevent_test::timer_id(100), KEVENT_POSIX_TIMER, 21, ENOSYS);
	expect_unchanged(before, false);
}

TEST_P(Ctl, AddUnknownReqFlagIsEINVALEntry) {
	const kevent_stats before = add_sentinel();
	std::vector<ukevent> v = {make(KEVENT_UNOTIFY, 1, 0, 0x100u, 31),
				  make(KEVENT_UNOTIFY, 2, 0, 0x80000000u, 32),
				  make(KEVENT_UNOTIFY, 3, 0, ~KEVENT_REQ_MASK, 33),
				  // a valid flag plus an unknown one
				  make(KEVENT_UNOTIFY, 4, 0, KEVENT_REQ_ONESHOT | 0x100u, 34)};
	ASSERT_EQ(4, ctl(KEVENT_CTL_ADD, v)) << std::strerror(errno);
	for (unsigned i = 0; i < 4; i++)
		expect_error_entry(v[i], i + 1, KEVENT_UNOTIFY, 31 + i, EINVAL);
	expect_unchanged(before, false);
}

TEST_P(Ctl, AddEtWithLevelIsEINVALEntry) {
	const kevent_stats before = add_sentinel();
	ukevent uk = make(KEVENT_UNOTIFY, 1, 0, KEVENT_REQ_ET | KEVENT_REQ_LEVEL, 41);
	ASSERT_EQ(1, add(uk)) << std::strerror(errno);
	expect_error_entry(uk, 1, KEVENT_UNOTIFY, 41, EINVAL);
	expect_unchanged(before, false);
}

TEST_P(Ctl, AddDuplicateKeyIsEEXISTEntry) {
	ukevent first = make(KEVENT_UNOTIFY, 7, 0x1, 0, 70);
	ASSERT_EQ(0, add(first));
	const kevent_stats before = add_sentinel();
	// Same key, different event, flags and cookie.
	ukevent dup = make(KEVENT_UNOTIFY, 7, 0x2, KEVENT_REQ_ONESHOT, 71);
	ASSERT_EQ(1, add(dup)) << std::strerror(errno);
	expect_error_entry(dup, 7, KEVENT_UNOTIFY, 71, EEXIST);
	// A duplicate that would be ready at add is still EEXIST, not DONE.
	ukevent dup_ready = make(KEVENT_UNOTIFY, 7, 0x2, KEVENT_REQ_READY, 72);
	ASSERT_EQ(1, add(dup_ready)) << std::strerror(errno);
	expect_error_entry(dup_ready, 7, KEVENT_UNOTIFY, 72, EEXIST);
	// The registered one is unchanged: its event, flags and cookie.
	ASSERT_EQ(1, ready(7));
	auto got = get(kfd, 1, 8, 0);
	ASSERT_EQ(1u, got.size());
	EXPECT_EQ(70u, cookie_of(got[0])) << describe(got[0]);
	EXPECT_EQ(0x1u, got[0].event) << describe(got[0]);
	EXPECT_EQ(0u, got[0].req_flags) << describe(got[0]);
	EXPECT_EQ(0u, got[0].ret_flags) << describe(got[0]);
	expect_unchanged(before, false);
}

TEST_P(Ctl, AddSameIdWithDifferentTypeIsAnotherKey) {
	int p[2];
	ASSERT_EQ(0, ::pipe2(p, O_CLOEXEC));
	const uint64_t id = static_cast<uint32_t>(p[0]);
	std::vector<ukevent> v = {make(KEVENT_PIPE, id, KEVENT_PIPE_RECV, 0, 1),
				  make(KEVENT_POLL, id, POLLIN, 0, 2),
				  make(KEVENT_UNOTIFY, id, 0, 0, 3)};
	ASSERT_EQ(0, ctl(KEVENT_CTL_ADD, v)) << describe(v[0]) << describe(v[1]) << describe(v[2]);
	kevent_stats st = queue_stats(kfd);
	EXPECT_EQ(3u, st.registered);
	EXPECT_EQ(1u, st.registered_by_type[KEVENT_PIPE]);
	EXPECT_EQ(1u, st.registered_by_type[KEVENT_POLL]);
	EXPECT_EQ(1u, st.registered_by_type[KEVENT_UNOTIFY]);
	// Removing one key leaves the others.
	ukevent rm = make(KEVENT_UNOTIFY, id, 0);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &rm));
	EXPECT_EQ(KEVENT_RET_DONE, rm.ret_flags) << describe(rm);
	EXPECT_EQ(2u, queue_stats(kfd).registered);
	// Data on the pipe fires both fd kevents, each with its own cookie.
	ASSERT_EQ(1, ::write(p[1], "x", 1));
	auto got = get(kfd, 2, 8, 5000);
	ASSERT_EQ(2u, got.size());
	uint64_t cookies = cookie_of(got[0]) + cookie_of(got[1]);
	EXPECT_EQ(3u, cookies) << describe(got[0]) << describe(got[1]);
	std::vector<ukevent> rms = {make(KEVENT_PIPE, id, 0), make(KEVENT_POLL, id, 0)};
	EXPECT_EQ(0, ctl(KEVENT_CTL_REMOVE, rms));
	EXPECT_EQ(KEVENT_RET_DONE, rms[0].ret_flags) << describe(rms[0]);
	EXPECT_EQ(KEVENT_RET_DONE, rms[1].ret_flags) << describe(rms[1]);
	::close(p[0]);
	::close(p[1]);
}

// kevent(7): the key is (id, type); the cookie is not part of it.
TEST_P(Ctl, CookieIsNotPartOfTheKey) {
	ukevent a = make(KEVENT_UNOTIFY, 8, 0, 0, 801);
	ASSERT_EQ(0, add(a));
	ukevent b = make(KEVENT_UNOTIFY, 8, 0, 0, 802);
	ASSERT_EQ(1, add(b));
	expect_error_entry(b, 8, KEVENT_UNOTIFY, 802, EEXIST);
	// REMOVE with yet another cookie finds it.
	ukevent rm = make(KEVENT_UNOTIFY, 8, 0, 0, 803);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &rm));
	EXPECT_EQ(KEVENT_RET_DONE, rm.ret_flags) << describe(rm);
	EXPECT_EQ(0u, queue_stats(kfd).registered);
}

TEST_P(Ctl, AddReadyAtAddIsCopiedBackDoneAndNotKept) {
	ukevent uk = make(KEVENT_UNOTIFY, 9, 0x3, KEVENT_REQ_READY, 901);
	uk.ret_flags = KEVENT_RET_BROKEN | KEVENT_RET_COPY_FAILED; // garbage: must be cleared
	ASSERT_EQ(1, add(uk)) << std::strerror(errno);
	EXPECT_EQ(KEVENT_RET_DONE, uk.ret_flags) << describe(uk);
	EXPECT_EQ(9u, uk.id.raw_u64);
	EXPECT_EQ(static_cast<unsigned>(KEVENT_UNOTIFY), uk.type);
	EXPECT_EQ(0x3u, uk.event);
	EXPECT_EQ(901u, cookie_of(uk));
	kevent_stats st = queue_stats(kfd);
	EXPECT_EQ(0u, st.registered);
	EXPECT_EQ(0u, st.ready);
	EXPECT_EQ(0u, get(kfd, 0, 8, 0).size()) << "a copied-back event was also queued";
	EXPECT_FALSE(is_registered(9, KEVENT_UNOTIFY));
}

TEST_P(Ctl, AddAlwaysQueueReadyAtAddStaysRegisteredAndIsDelivered) {
	ukevent uk =
		make(KEVENT_UNOTIFY, 10, 0x1, KEVENT_REQ_READY | KEVENT_REQ_ALWAYS_QUEUE, 1001);
	ASSERT_EQ(0, add(uk)) << "ALWAYS_QUEUE entry copied back: " << describe(uk);
	kevent_stats st = queue_stats(kfd);
	EXPECT_EQ(1u, st.registered);
	EXPECT_EQ(1u, st.ready);
	auto got = get(kfd, 1, 8, 0);
	ASSERT_EQ(1u, got.size());
	EXPECT_EQ(10u, got[0].id.raw_u64);
	EXPECT_EQ(1001u, cookie_of(got[0]));
	EXPECT_EQ(0u, got[0].ret_flags) << "persistent kevent delivered with " << describe(got[0]);
	// Still registered after delivery (not ONESHOT), and not ready any more.
	EXPECT_EQ(1u, queue_stats(kfd).registered);
	EXPECT_EQ(0u, get(kfd, 0, 8, 0).size());
	EXPECT_TRUE(is_registered(10, KEVENT_UNOTIFY));
}

TEST_P(Ctl, AddClearsRetFlagsOfQueuedEntry) {
	ukevent uk = make(KEVENT_UNOTIFY, 11, 0, 0, 1101);
	uk.ret_flags = KEVENT_RET_BROKEN | KEVENT_RET_DONE;
	ASSERT_EQ(0, add(uk)) << describe(uk);
	ASSERT_EQ(1, ready(11));
	auto got = get(kfd, 1, 8, 0);
	ASSERT_EQ(1u, got.size());
	EXPECT_EQ(0u, got[0].ret_flags) << describe(got[0]);
	EXPECT_EQ(1u, queue_stats(kfd).registered) << "garbage ret_flags made the kevent go away";
}

TEST_P(Ctl, AddUnotifyAcceptsAnyEventBits) {
	std::vector<ukevent> v = {make(KEVENT_UNOTIFY, 1, 0xffffffffu),
				  make(KEVENT_UNOTIFY, 2, 0x80000000u), make(KEVENT_UNOTIFY, 3, 0)};
	ASSERT_EQ(0, ctl(KEVENT_CTL_ADD, v)) << describe(v[0]);
	EXPECT_EQ(3u, queue_stats(kfd).registered);
	ASSERT_EQ(1, ready(1));
	auto got = get(kfd, 1, 8, 0);
	ASSERT_EQ(1u, got.size());
	EXPECT_EQ(0xffffffffu, got[0].event);
}

// ---- REMOVE -------------------------------------------------------------------

TEST_P(Ctl, RemoveFoundIsDoneAndReturnsZero) {
	const kevent_stats before = add_sentinel();
	ukevent uk = make(KEVENT_UNOTIFY, 12, 0x5, 0, 1201);
	ASSERT_EQ(0, add(uk));
	ukevent rm = make(KEVENT_UNOTIFY, 12, 0x5, 0, 1201);
	rm.ret_flags = KEVENT_RET_COPY_FAILED; // garbage: written back as DONE only
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &rm)) << std::strerror(errno);
	EXPECT_EQ(KEVENT_RET_DONE, rm.ret_flags) << describe(rm);
	EXPECT_EQ(12u, rm.id.raw_u64);
	EXPECT_EQ(1201u, cookie_of(rm));
	EXPECT_FALSE(is_registered(12, KEVENT_UNOTIFY));
	expect_unchanged(before, false);
}

TEST_P(Ctl, RemoveMissingIsBrokenDoneENOENTInPlace) {
	const kevent_stats before = add_sentinel();
	std::vector<ukevent> adds = {make(KEVENT_UNOTIFY, 1, 0), make(KEVENT_UNOTIFY, 3, 0)};
	ASSERT_EQ(0, ctl(KEVENT_CTL_ADD, adds));
	std::vector<ukevent> v = {make(KEVENT_UNOTIFY, 1, 0, 0, 11),
				  make(KEVENT_UNOTIFY, 2, 0, 0, 12),
				  make(KEVENT_UNOTIFY, 3, 0, 0, 13),
				  make(KEVENT_PIPE, kSentinelId, 0, 0, 14)}; // id of the sentinel,
									     // other type
	ASSERT_EQ(0, ctl(KEVENT_CTL_REMOVE, v)) << std::strerror(errno);
	// Written back in place, not compacted.
	EXPECT_EQ(1u, v[0].id.raw_u64);
	EXPECT_EQ(KEVENT_RET_DONE, v[0].ret_flags) << describe(v[0]);
	expect_error_entry(v[1], 2, KEVENT_UNOTIFY, 12, ENOENT);
	EXPECT_EQ(3u, v[2].id.raw_u64);
	EXPECT_EQ(KEVENT_RET_DONE, v[2].ret_flags) << describe(v[2]);
	expect_error_entry(v[3], kSentinelId, KEVENT_PIPE, 14, ENOENT);
	expect_unchanged(before, false);
}

TEST_P(Ctl, RemoveTwiceInOneBatchFindsItOnce) {
	const kevent_stats before = add_sentinel();
	ukevent uk = make(KEVENT_UNOTIFY, 17, 0);
	ASSERT_EQ(0, add(uk));
	std::vector<ukevent> v = {make(KEVENT_UNOTIFY, 17, 0, 0, 1),
				  make(KEVENT_UNOTIFY, 17, 0, 0, 2)};
	ASSERT_EQ(0, ctl(KEVENT_CTL_REMOVE, v));
	EXPECT_EQ(KEVENT_RET_DONE, v[0].ret_flags) << describe(v[0]);
	expect_error_entry(v[1], 17, KEVENT_UNOTIFY, 2, ENOENT);
	expect_unchanged(before, false);
}

TEST_P(Ctl, RemoveDropsReadyKeventFromReadyList) {
	const kevent_stats before = add_sentinel();
	ukevent uk = make(KEVENT_UNOTIFY, 13, 0, 0, 1301);
	ASSERT_EQ(0, add(uk));
	ASSERT_EQ(1, ready(13));
	ASSERT_EQ(1u, queue_stats(kfd).ready);
	ukevent rm = make(KEVENT_UNOTIFY, 13, 0);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &rm));
	EXPECT_EQ(KEVENT_RET_DONE, rm.ret_flags) << describe(rm);
	EXPECT_EQ(0u, queue_stats(kfd).ready);
	EXPECT_EQ(0u, get(kfd, 0, 8, 0).size()) << "a removed kevent was delivered";
	expect_unchanged(before, false);
}

TEST_P(Ctl, RemoveOneOfSeveralReadyKeepsTheOthersInOrder) {
	std::vector<ukevent> adds = {make(KEVENT_UNOTIFY, 1, 0, 0, 1),
				     make(KEVENT_UNOTIFY, 2, 0, 0, 2),
				     make(KEVENT_UNOTIFY, 3, 0, 0, 3)};
	ASSERT_EQ(0, ctl(KEVENT_CTL_ADD, adds));
	std::vector<ukevent> rd = {make(KEVENT_UNOTIFY, 1, 0), make(KEVENT_UNOTIFY, 2, 0),
				   make(KEVENT_UNOTIFY, 3, 0)};
	ASSERT_EQ(3, ctl(KEVENT_CTL_READY, rd));
	ukevent rm = make(KEVENT_UNOTIFY, 2, 0);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &rm));
	auto got = get(kfd, 1, 8, 0);
	ASSERT_EQ(2u, got.size());
	EXPECT_EQ(1u, got[0].id.raw_u64);
	EXPECT_EQ(3u, got[1].id.raw_u64);
}

// ---- MODIFY -------------------------------------------------------------------

TEST_P(Ctl, ModifyReplacesEventFlagsAndCookie) {
	ukevent uk = make(KEVENT_UNOTIFY, 14, 0x1, 0, 1401);
	ASSERT_EQ(0, add(uk));
	ukevent mod = make(KEVENT_UNOTIFY, 14, 0x6, KEVENT_REQ_ONESHOT, 1402);
	mod.ret_flags = KEVENT_RET_BROKEN; // garbage: must be cleared
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_MODIFY, 1, &mod)) << std::strerror(errno);
	EXPECT_EQ(KEVENT_RET_DONE, mod.ret_flags) << describe(mod);
	EXPECT_EQ(1u, queue_stats(kfd).registered);
	EXPECT_EQ(0u, get(kfd, 0, 8, 0).size()) << "MODIFY made a user event ready";

	ASSERT_EQ(1, ready(14));
	auto got = get(kfd, 1, 8, 0);
	ASSERT_EQ(1u, got.size());
	EXPECT_EQ(0x6u, got[0].event) << describe(got[0]);
	EXPECT_EQ(KEVENT_REQ_ONESHOT, got[0].req_flags) << describe(got[0]);
	EXPECT_EQ(1402u, cookie_of(got[0])) << describe(got[0]);
	// The new flags rule: ONESHOT now, so it is gone after delivery.
	EXPECT_EQ(KEVENT_RET_DONE, got[0].ret_flags) << describe(got[0]);
	EXPECT_EQ(0u, queue_stats(kfd).registered);
}

TEST_P(Ctl, ModifyMissingIsBrokenDoneENOENTAndAddsNothing) {
	const kevent_stats before = add_sentinel();
	ukevent mod = make(KEVENT_UNOTIFY, 15, 0x1, 0, 1501);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_MODIFY, 1, &mod)) << std::strerror(errno);
	expect_error_entry(mod, 15, KEVENT_UNOTIFY, 1501, ENOENT);
	EXPECT_FALSE(is_registered(15, KEVENT_UNOTIFY)) << "MODIFY created a kevent";
	expect_unchanged(before, false);
}

TEST_P(Ctl, ModifyInvalidFlagsIsBrokenDoneEINVALAndChangesNothing) {
	const kevent_stats before = add_sentinel();
	for (unsigned bad :
	     {0x100u, KEVENT_REQ_ET | KEVENT_REQ_LEVEL, KEVENT_REQ_ONESHOT | 0x1000u}) {
		ukevent mod = make(KEVENT_UNOTIFY, kSentinelId, 0x7, bad, 99);
		ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_MODIFY, 1, &mod)) << std::strerror(errno);
		expect_error_entry(mod, kSentinelId, KEVENT_UNOTIFY, 99, EINVAL);
	}
	// expect_unchanged delivers the sentinel and checks its old event,
	// cookie and (persistent) ret_flags.
	expect_unchanged(before, false);
	// Still persistent: it is still registered after that delivery.
	EXPECT_EQ(before.registered, queue_stats(kfd).registered);
}

TEST_P(Ctl, ModifyMixedBatchWritesEachEntryInPlace) {
	std::vector<ukevent> adds = {make(KEVENT_UNOTIFY, 1, 0, 0, 1),
				     make(KEVENT_UNOTIFY, 2, 0, 0, 2)};
	ASSERT_EQ(0, ctl(KEVENT_CTL_ADD, adds));
	std::vector<ukevent> v = {make(KEVENT_UNOTIFY, 1, 0, 0, 11),
				  make(KEVENT_UNOTIFY, 9, 0, 0, 19),
				  make(KEVENT_UNOTIFY, 2, 0, 0x100u, 12)};
	ASSERT_EQ(0, ctl(KEVENT_CTL_MODIFY, v)) << std::strerror(errno);
	EXPECT_EQ(1u, v[0].id.raw_u64);
	EXPECT_EQ(KEVENT_RET_DONE, v[0].ret_flags) << describe(v[0]);
	expect_error_entry(v[1], 9, KEVENT_UNOTIFY, 19, ENOENT);
	expect_error_entry(v[2], 2, KEVENT_UNOTIFY, 12, EINVAL);
	std::vector<ukevent> rd = {make(KEVENT_UNOTIFY, 1, 0), make(KEVENT_UNOTIFY, 2, 0)};
	ASSERT_EQ(2, ctl(KEVENT_CTL_READY, rd));
	auto got = get(kfd, 2, 8, 0);
	ASSERT_EQ(2u, got.size());
	EXPECT_EQ(11u, cookie_of(got[0])) << "modified";
	EXPECT_EQ(2u, cookie_of(got[1])) << "rejected MODIFY changed the kevent";
}

// kevent_ctl(3) MODIFY re-checks readiness: a kevent that is ready under its
// new event bits goes on the ready list; MODIFY itself copies nothing back.
// POLL on the write end of an empty pipe: POLLIN never, POLLOUT at once.
TEST_P(Ctl, ModifyThatMakesAKeventReadyQueuesItAndCopiesNothingBack) {
	int p[2];
	ASSERT_EQ(0, ::pipe2(p, O_CLOEXEC));
	const uint64_t id = static_cast<uint32_t>(p[1]);
	ukevent uk = make(KEVENT_POLL, id, POLLIN, 0, 1801);
	ASSERT_EQ(0, add(uk)) << describe(uk);
	EXPECT_EQ(0u, get(kfd, 0, 8, 0).size());
	ukevent mod = make(KEVENT_POLL, id, POLLOUT, 0, 1802);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_MODIFY, 1, &mod)) << std::strerror(errno);
	EXPECT_EQ(KEVENT_RET_DONE, mod.ret_flags) << describe(mod);
	EXPECT_EQ(1u, queue_stats(kfd).registered);
	auto got = get(kfd, 1, 8, 2000);
	ASSERT_EQ(1u, got.size()) << "MODIFY did not queue the now-ready kevent";
	EXPECT_EQ(1802u, cookie_of(got[0])) << describe(got[0]);
	EXPECT_TRUE(got[0].ret_data[0] & POLLOUT) << describe(got[0]);
	EXPECT_EQ(0u, got[0].ret_flags) << describe(got[0]);
	ukevent rm = make(KEVENT_POLL, id, 0);
	EXPECT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &rm));
	::close(p[0]);
	::close(p[1]);
}

// ---- READY --------------------------------------------------------------------

TEST_P(Ctl, ReadyReturnsNumberMarkedAndCopiesBackMissingCompacted) {
	std::vector<ukevent> adds = {make(KEVENT_UNOTIFY, 1, 0, 0, 1),
				     make(KEVENT_UNOTIFY, 2, 0, 0, 2),
				     make(KEVENT_UNOTIFY, 3, 0, 0, 3)};
	ASSERT_EQ(0, ctl(KEVENT_CTL_ADD, adds));
	std::vector<ukevent> v = {make(KEVENT_UNOTIFY, 1, 0, 0, 0),
				  make(KEVENT_UNOTIFY, 50, 0, 0, 50),
				  make(KEVENT_UNOTIFY, 2, 0, 0, 0),
				  make(KEVENT_UNOTIFY, 51, 0, 0, 51),
				  make(KEVENT_PIPE, 3, 0, 0, 52), // id 3 of another type: not found
				  make(KEVENT_UNOTIFY, 3, 0, 0, 0)};
	ASSERT_EQ(3, ctl(KEVENT_CTL_READY, v)) << std::strerror(errno);
	expect_error_entry(v[0], 50, KEVENT_UNOTIFY, 50, ENOENT);
	expect_error_entry(v[1], 51, KEVENT_UNOTIFY, 51, ENOENT);
	expect_error_entry(v[2], 3, KEVENT_PIPE, 52, ENOENT);
	EXPECT_EQ(3u, queue_stats(kfd).ready);
	auto got = get(kfd, 1, 8, 0);
	ASSERT_EQ(3u, got.size());
	for (unsigned i = 0; i < 3; i++) {
		EXPECT_EQ(i + 1u, got[i].id.raw_u64) << describe(got[i]);
		EXPECT_EQ(i + 1u, cookie_of(got[i]))
			<< "READY changed the cookie: " << describe(got[i]);
	}
	EXPECT_EQ(0u, get(kfd, 0, 8, 0).size()) << "a not-found READY entry made something ready";
}

// semantics.md READY: for UNOTIFY the delivered ret_data is the one given in
// the READY entry.
TEST_P(Ctl, ReadyRetDataIsDeliveredForUnotify) {
	ukevent uk = make(KEVENT_UNOTIFY, 16, 0, 0, 1601);
	ASSERT_EQ(0, add(uk));
	ukevent r = make(KEVENT_UNOTIFY, 16, 0);
	r.ret_data[0] = 0xdeadbeef;
	r.ret_data[1] = 0x12345678;
	ASSERT_EQ(1, kevent_ctl(kfd, KEVENT_CTL_READY, 1, &r));
	auto got = get(kfd, 1, 8, 0);
	ASSERT_EQ(1u, got.size());
	EXPECT_EQ(0xdeadbeefu, got[0].ret_data[0]) << describe(got[0]);
	EXPECT_EQ(0x12345678u, got[0].ret_data[1]) << describe(got[0]);
	EXPECT_EQ(0u, got[0].ret_flags) << describe(got[0]);
}

// kevent_ctl(3) READY: num == 0 wakes every thread blocked in the queue; they
// return 0 events.
//
//   main                              waiter
//   ----                              ------
//   start waiter            ───────▶  kevent_get_events(min 1, NULL timeout)
//   sleep 100 ms; waiter still blocked?   (blocked: nothing is ready)
//   READY num=0 (repeat until it returns)
//                                     ◀── returns 0
//   join; the rescue kevent was never needed
TEST_P(Ctl, ReadyNumZeroWakesBlockedGetEvents) {
	// Rescue: if the wake-up never arrives, readying this ends the wait (and
	// the test fails because the waiter then returns 1).
	ukevent rescue = make(KEVENT_UNOTIFY, 0x7e5c, 0);
	ASSERT_EQ(0, add(rescue));

	std::atomic<bool> done{false};
	int result = -2, err = 0;
	std::thread waiter([&] {
		ukevent buf[4];
		result = kevent_get_events(kfd, 1, 4, nullptr, buf, 0);
		err = errno;
		done = true;
	});
	std::this_thread::sleep_for(std::chrono::milliseconds(100));
	EXPECT_FALSE(done.load()) << "kevent_get_events(NULL timeout) returned with nothing ready";

	auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
	while (!done && std::chrono::steady_clock::now() < deadline) {
		EXPECT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_READY, 0, nullptr)) << std::strerror(errno);
		std::this_thread::sleep_for(std::chrono::milliseconds(20));
	}
	if (!done) {
		ADD_FAILURE() << "READY num=0 did not wake the blocked waiter in 10 s";
		ukevent r = make(KEVENT_UNOTIFY, 0x7e5c, 0);
		kevent_ctl(kfd, KEVENT_CTL_READY, 1, &r);
	}
	waiter.join();
	EXPECT_EQ(0, result) << std::strerror(err);
	EXPECT_EQ(1u, queue_stats(kfd).registered);
}

namespace {
std::atomic<int> g_handler_kfd{-1};
std::atomic<int> g_handler_result{-2};
void ready_zero_handler(int) {
	int saved = errno;
	g_handler_result = kevent_ctl(g_handler_kfd.load(), KEVENT_CTL_READY, 0, nullptr);
	errno = saved;
}
} // namespace

// kevent_ctl(3): READY with num == 0 is safe from a signal handler. The signal
// goes to the main thread (not the waiter, whose wait a signal ends anyway).
//
//   main (SIGUSR2 handler: READY num=0)      waiter (SIGUSR2 blocked)
//   ----                                      ------
//   start waiter                  ───────▶   get_events(min 1, NULL timeout)
//   sleep 100 ms: still blocked?                 (blocked)
//   raise(SIGUSR2) -> handler: READY num=0
//                                  ◀──────   returns 0
TEST_P(Ctl, ReadyNumZeroFromASignalHandlerWakesWaiter) {
	ukevent rescue = make(KEVENT_UNOTIFY, 0x7e5c, 0);
	ASSERT_EQ(0, add(rescue));
	g_handler_kfd = kfd;
	g_handler_result = -2;
	struct sigaction sa {
	}, old{};
	sa.sa_handler = ready_zero_handler;
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGUSR2, &sa, &old));

	// The waiter blocks SIGUSR2 so that only main's handler runs.
	sigset_t set, prev;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	ASSERT_EQ(0, pthread_sigmask(SIG_BLOCK, &set, &prev));
	std::atomic<bool> done{false};
	int result = -2;
	std::thread waiter([&] {
		ukevent buf[4];
		result = kevent_get_events(kfd, 1, 4, nullptr, buf, 0);
		done = true;
	});
	ASSERT_EQ(0, pthread_sigmask(SIG_SETMASK, &prev, nullptr));

	std::this_thread::sleep_for(std::chrono::milliseconds(100));
	EXPECT_FALSE(done.load());
	auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
	while (!done && std::chrono::steady_clock::now() < deadline) {
		pthread_kill(pthread_self(), SIGUSR2);
		std::this_thread::sleep_for(std::chrono::milliseconds(20));
	}
	if (!done) {
		ADD_FAILURE() << "READY num=0 from a signal handler did not wake the waiter";
		ukevent r = make(KEVENT_UNOTIFY, 0x7e5c, 0);
		kevent_ctl(kfd, KEVENT_CTL_READY, 1, &r);
	}
	waiter.join();
	sigaction(SIGUSR2, &old, nullptr);
	EXPECT_EQ(0, g_handler_result.load()) << "READY num=0 failed inside the handler";
	EXPECT_EQ(0, result);
}

KEVENT_INSTANTIATE_BACKENDS(Ctl);
