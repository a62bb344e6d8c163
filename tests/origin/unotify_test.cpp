// SPDX-License-Identifier: MIT
// unotify_test — the UNOTIFY origin (user events): the common contract
// (origin_contract.hpp) and kevent_unotify(7): any id and any event bits;
// KEVENT_CTL_READY delivers it, carrying the READY entry's ret_data to the
// delivery (docs/semantics.md "REMOVE / MODIFY / READY"); KEVENT_REQ_READY at
// ADD is ready-at-add unless ALWAYS_QUEUE (covered by the contract cases
// ReqReadyAtAddIsCopiedBackDoneAndNotKept and
// ReqReadyWithAlwaysQueueQueuesAnUnreadyKevent).
#include "origin_contract.hpp"

namespace {

using namespace kevent_origin;

constexpr uint64_t unotify_id(int n) {
	return 0xfeedface00000000ull | static_cast<uint64_t>(0x100 + n);
}

// A user event; trigger() marks it ready with KEVENT_CTL_READY on the queue,
// with a payload the delivery must carry.
class UnotifyTarget {
public:
	static constexpr unsigned type = KEVENT_UNOTIFY;

	explicit UnotifyTarget(int n) : n_(static_cast<uint32_t>(n)) {}
	uint64_t id() const { return unotify_id(static_cast<int>(n_)); }
	unsigned event() const { return 0xdead0000u | n_; }
	void on_added() {}
	void trigger(int q) {
		ukevent e = make(type, id(), event());
		e.ret_data[0] = payload0();
		e.ret_data[1] = payload1;
		kevent_ctl(q, KEVENT_CTL_READY, 1, &e); // not found is fine here (a removed kevent)
	}
	void check_fired(const ukevent &e) const {
		EXPECT_EQ(payload0(), e.ret_data[0])
			<< "READY's ret_data must reach the delivery: " << describe(e);
		EXPECT_EQ(payload1, e.ret_data[1]) << describe(e);
	}
	void make_ready_before_add(ukevent &e) { e.req_flags |= KEVENT_REQ_READY; }
	void check_ready_at_add(const ukevent &) const {}

private:
	static constexpr uint32_t payload1 = 0x77777777u;
	uint32_t payload0() const { return 0x5eed0000u | n_; }
	uint32_t n_;
};

using UnotifyContract = Contract<UnotifyTarget>;
KEVENT_ORIGIN_CONTRACT(UnotifyContract)
KEVENT_INSTANTIATE_BACKENDS(UnotifyContract);

// ---- kevent_unotify(7), the UNOTIFY origin's own rules -------------------------

class Unotify : public QueueTest {
protected:
	static ukevent user(uint64_t id, unsigned event = 1, unsigned req = 0,
			    uint64_t cookie = 0) {
		return make(KEVENT_UNOTIFY, id, event, req, cookie);
	}
	void add_armed(ukevent e) { ASSERT_EQ(0, add(e)) << describe(e); }
	int ready(std::vector<ukevent> &v) {
		return kevent_ctl(kfd, KEVENT_CTL_READY, static_cast<unsigned>(v.size()), v.data());
	}
};

TEST_P(Unotify, AnyIdAndAnyEventBitsAreAccepted) {
	const uint64_t ids[] = {0, 1, 0xffffffffull, 0xffffffffffffffffull, 1ull << 63};
	const unsigned events[] = {0xffffffffu, 0, 0x80000000u, 0x12345678u, 1};
	for (size_t i = 0; i < 5; i++)
		add_armed(user(ids[i], events[i], 0, i));
	EXPECT_EQ(5u, queue_stats(kfd).registered);
	EXPECT_EQ(5u, queue_stats(kfd).registered_by_type[KEVENT_UNOTIFY]);
	EXPECT_TRUE(get(kfd, 1, 8, 0).empty()) << "a user event fired by itself";
	// Each one is found by its full 64-bit id.
	ukevent r = user(0xffffffffffffffffull);
	ASSERT_EQ(1, kevent_ctl(kfd, KEVENT_CTL_READY, 1, &r));
	auto ev = get(kfd, 1, 8, 2000);
	ASSERT_EQ(1u, ev.size()) << describe(ev);
	EXPECT_EQ(0xffffffffffffffffull, ev[0].id.raw_u64);
	EXPECT_EQ(0x12345678u, ev[0].event);
	EXPECT_EQ(3u, cookie_of(ev[0]));
}

TEST_P(Unotify, CtlReadyDeliversIt) {
	add_armed(user(9, 1, 0, 99));
	std::vector<ukevent> r{user(9)};
	ASSERT_EQ(1, ready(r)) << std::strerror(errno);
	auto ev = get(kfd, 1, 8, 2000);
	ASSERT_EQ(1u, ev.size()) << describe(ev);
	EXPECT_EQ(9u, ev[0].id.raw_u64);
	EXPECT_EQ(99u, cookie_of(ev[0]));
	EXPECT_EQ(0u, ev[0].ret_flags) << "still registered after delivery: " << describe(ev[0]);
	EXPECT_EQ(1u, queue_stats(kfd).registered);
	EXPECT_TRUE(get(kfd, 1, 8, 0).empty());
}

TEST_P(Unotify, ReadyCarriesRetDataToTheDelivery) {
	add_armed(user(1, 1, 0, 1));
	add_armed(user(2, 1, 0, 2));
	std::vector<ukevent> r{user(1), user(2)};
	r[0].ret_data[0] = 0xaaaa0001u;
	r[0].ret_data[1] = 0xbbbb0001u;
	r[1].ret_data[0] = 0xaaaa0002u;
	r[1].ret_data[1] = 0xbbbb0002u;
	ASSERT_EQ(2, ready(r));
	auto ev = get(kfd, 2, 8, 2000);
	ASSERT_EQ(2u, ev.size()) << describe(ev);
	for (const auto &uk : ev) {
		uint32_t k = static_cast<uint32_t>(uk.id.raw_u64);
		EXPECT_EQ(0xaaaa0000u | k, uk.ret_data[0]) << describe(uk);
		EXPECT_EQ(0xbbbb0000u | k, uk.ret_data[1]) << describe(uk);
	}
}

TEST_P(Unotify, ReadyReturnsTheNumberMarkedAndCopiesBackMissingCompacted) {
	add_armed(user(1, 1, 0, 1));
	add_armed(user(2, 1, 0, 2));
	std::vector<ukevent> r{user(1), user(100, 1, 0, 100), user(2), user(200, 1, 0, 200)};
	ASSERT_EQ(2, ready(r)) << std::strerror(errno);
	EXPECT_EQ(100u, r[0].id.raw_u64) << describe(r[0]);
	EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, r[0].ret_flags) << describe(r[0]);
	EXPECT_EQ(-ENOENT, err_of(r[0])) << describe(r[0]);
	EXPECT_EQ(200u, r[1].id.raw_u64) << describe(r[1]);
	EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, r[1].ret_flags) << describe(r[1]);
	EXPECT_EQ(-ENOENT, err_of(r[1])) << describe(r[1]);
	// Delivered in the order they were marked.
	auto ev = get(kfd, 2, 8, 2000);
	ASSERT_EQ(2u, ev.size()) << describe(ev);
	EXPECT_EQ(1u, ev[0].id.raw_u64);
	EXPECT_EQ(2u, ev[1].id.raw_u64);
}

TEST_P(Unotify, ReadyTwiceBeforeDeliveryIsCoalesced) {
	add_armed(user(5));
	std::vector<ukevent> r{user(5)};
	ASSERT_EQ(1, ready(r));
	r = {user(5)};
	ASSERT_EQ(1, ready(r));
	auto ev = get(kfd, 1, 8, 2000);
	EXPECT_EQ(1u, ev.size()) << "a kevent is on the ready list at most once: " << describe(ev);
	EXPECT_TRUE(get(kfd, 1, 8, 0).empty());
}

TEST_P(Unotify, ReadyTheKeyIncludesTheType) {
	add_armed(user(7));
	ukevent wrong = make(KEVENT_TIMER, 7, KEVENT_TIMER_FIRED);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_READY, 1, &wrong));
	EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, wrong.ret_flags) << describe(wrong);
	EXPECT_TRUE(get(kfd, 1, 8, 0).empty());
}

TEST_P(Unotify, ReadyAfterRemoveIsNotFound) {
	add_armed(user(8));
	ukevent rm = user(8);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &rm));
	std::vector<ukevent> r{user(8)};
	ASSERT_EQ(0, ready(r));
	EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, r[0].ret_flags) << describe(r[0]);
	EXPECT_EQ(-ENOENT, err_of(r[0]));
	EXPECT_TRUE(get(kfd, 1, 8, 50).empty());
}

TEST_P(Unotify, ReadyDoesNotReachAnotherQueue) {
	owned_queue other(kevent_init(nullptr, 0, GetParam().flags));
	ASSERT_GE(other.get(), 0);
	add_armed(user(4, 1, 0, 1));
	ukevent o = user(4, 1, 0, 2);
	ASSERT_EQ(0, kevent_ctl(other.get(), KEVENT_CTL_ADD, 1, &o));
	std::vector<ukevent> r{user(4)};
	ASSERT_EQ(1, ready(r));
	EXPECT_EQ(1u, get(kfd, 1, 8, 2000).size());
	EXPECT_TRUE(get(other.get(), 1, 8, 50).empty());
	EXPECT_EQ(0, kevent_close(other.release()));
}

TEST_P(Unotify, ReqReadyAtAddCopiesBackTheEntryAsGiven) {
	ukevent e = user(0x42, 0xf0f0, KEVENT_REQ_READY, 0x1234);
	ASSERT_EQ(1, add(e)) << describe(e);
	EXPECT_EQ(KEVENT_RET_DONE, e.ret_flags) << describe(e);
	EXPECT_EQ(0x42u, e.id.raw_u64);
	EXPECT_EQ(KEVENT_UNOTIFY, e.type);
	EXPECT_EQ(0xf0f0u, e.event);
	EXPECT_EQ(0x1234u, cookie_of(e));
	EXPECT_EQ(0u, queue_stats(kfd).registered);
	// Not kept: READY finds nothing.
	std::vector<ukevent> r{user(0x42)};
	EXPECT_EQ(0, ready(r));
}

TEST_P(Unotify, CtlReadyWorksOnAnyOrigin) {
	ukevent t = make(KEVENT_TIMER, timer_id(60 * 1000), KEVENT_TIMER_FIRED, 0, 77);
	ASSERT_EQ(0, add(t)) << describe(t);
	ukevent r = make(KEVENT_TIMER, timer_id(60 * 1000), KEVENT_TIMER_FIRED);
	ASSERT_EQ(1, kevent_ctl(kfd, KEVENT_CTL_READY, 1, &r)) << describe(r);
	auto ev = get(kfd, 1, 8, 2000);
	ASSERT_EQ(1u, ev.size()) << describe(ev);
	EXPECT_EQ(77u, cookie_of(ev[0]));
	EXPECT_EQ(0u, ev[0].ret_flags & KEVENT_RET_BROKEN);
}

KEVENT_INSTANTIATE_BACKENDS(Unotify);

} // namespace
