// SPDX-License-Identifier: MIT
// origin_contract_fixture.hpp — the fixture of the common origin contract,
// Contract<Target> (origin_contract.hpp says what a Target provides): the
// helpers every case uses, and the cases, each declared here and defined in
// the origin_contract_<topic>.hpp that states its rules.
#pragma once

#include "origin_support.hpp"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>

namespace kevent_origin {

template <class T> class Contract : public QueueTest {
protected:
	static constexpr uint64_t cookie_a = 0x0123456789abcdefull;
	static constexpr uint64_t cookie_b = 0xfedcba9876543210ull;
	static constexpr unsigned bad_req_flag = 0x100u; // outside KEVENT_REQ_MASK

	ukevent entry(const T &t, unsigned req = 0, uint64_t cookie = cookie_a) const {
		return make(T::type, t.id(), t.event(), req, cookie);
	}

	static int ctl(int q, unsigned cmd, ukevent &e) { return kevent_ctl(q, cmd, 1, &e); }

	// ADD a target that is not ready: nothing may be copied back.
	void add_armed(int q, T &t, unsigned req = 0, uint64_t cookie = cookie_a) {
		ukevent e = entry(t, req, cookie);
		EXPECT_EQ(0, ctl(q, KEVENT_CTL_ADD, e)) << describe(e);
		t.on_added();
	}

	// REMOVE / MODIFY by key; returns the written-back entry.
	ukevent remove(int q, const T &t) {
		ukevent e = entry(t);
		EXPECT_EQ(0, ctl(q, KEVENT_CTL_REMOVE, e)) << std::strerror(errno);
		return e;
	}
	ukevent modify(int q, const T &t, unsigned req, uint64_t cookie) {
		ukevent e = entry(t, req, cookie);
		EXPECT_EQ(0, ctl(q, KEVENT_CTL_MODIFY, e)) << std::strerror(errno);
		return e;
	}

	// Up to 8 events, waiting generously for the first one.
	static std::vector<ukevent> wait(int q) { return get(q, 1, 8, 2000); }
	// What is ready right now (zero timeout).
	static std::vector<ukevent> now(int q) { return get(q, 1, 8, 0); }
	static void expect_nothing(int q, long wait_ms = 0) {
		auto ev = get(q, 1, 8, wait_ms);
		EXPECT_TRUE(ev.empty()) << "unexpected delivery " << describe(ev);
	}

	static uint64_t registered(int q) { return queue_stats(q).registered; }

	static void expect_delivery(const ukevent &ev, const T &t, unsigned req, uint64_t cookie,
				    unsigned ret_flags) {
		EXPECT_EQ(t.id(), ev.id.raw_u64) << describe(ev);
		EXPECT_EQ(T::type, ev.type) << describe(ev);
		EXPECT_EQ(t.event(), ev.event) << describe(ev);
		EXPECT_EQ(req, ev.req_flags) << describe(ev);
		EXPECT_EQ(cookie, cookie_of(ev)) << describe(ev);
		EXPECT_EQ(ret_flags, ev.ret_flags) << describe(ev);
	}

	static void expect_written_back(const ukevent &e, unsigned ret_flags, int32_t err = 0) {
		EXPECT_EQ(ret_flags, e.ret_flags) << describe(e);
		if (ret_flags & KEVENT_RET_BROKEN) {
			EXPECT_EQ(err, err_of(e))
				<< describe(e) << " errno " << std::strerror(-err_of(e));
		}
	}

	// ---- ADD, REMOVE and MODIFY, every origin (origin_contract_registration.hpp)
	void add_keeps_unready_kevent_registered();
	void add_same_key_twice_is_eexist();
	void add_with_bad_req_flags_is_einval();
	void remove_deletes_and_stops_delivery();
	void remove_drops_a_queued_kevent();
	void remove_missing_is_broken_enoent();
	void modify_missing_is_broken_enoent();
	void modify_replaces_cookie_and_req_flags();
	void modify_with_bad_flags_changes_nothing();
	void modify_of_unready_kevent_queues_nothing();

	// ---- delivery modes and ready at ADD, every origin (origin_contract_delivery.hpp)
	void oneshot_is_delivered_once_done_and_removed();
	void mode_does_not_come_back_without_new_activity(unsigned mode);
	void mode_comes_back_on_new_activity(unsigned mode, bool consume_between);
	void last_check_delivers_a_kevent_still_ready();
	void always_queue_keeps_a_ready_at_add_kevent_queued();
	void req_ready_with_always_queue_queues_an_unready_kevent();
	void ready_at_add_is_copied_back_done_and_not_kept();
	void req_ready_at_add_is_copied_back_done_and_not_kept();
	void copied_back_entries_are_compacted_in_input_order();
	void cookie_round_trips_untouched();
	void activity_makes_the_queue_descriptor_readable(unsigned mode);

	// ---- two queues and kevent_close, every origin (origin_contract_queues.hpp)
	void two_queues_are_independent();
	void close_with_registrations_frees_them();

	// ---- CONDITION: readiness is a state that lasts until consumed
	// (origin_contract_condition.hpp)
	void level_repeats_while_ready_and_stops_once_consumed();
	void check_skips_an_event_consumed_before_delivery(unsigned mode);
	void last_check_skips_a_queued_kevent_no_longer_ready();
	void modify_queues_a_kevent_that_is_ready_now();
	void modify_from_level_to_default_stops_repeating();
	void modify_from_default_to_level_repeats();

	// ---- BROKEN: the origin can stop being servable (origin_contract_broken.hpp)
	void broken_is_delivered_once(unsigned mode);
	void broken_at_add_is_copied_back_broken_done();

	// ---- FD: id.raw[0] is a file descriptor (origin_contract_fd.hpp)
	void add_on_closed_fd_is_ebadf();
	void fd_closed_under_registration_then_remove_succeeds();
	void fd_closed_under_registration_then_modify_is_broken_once();
	void fd_closed_under_a_queued_last_check_kevent_is_broken_once();
	void fd_number_reused_by_add_breaks_old_kevent_once();
	void fd_number_reused_new_file_never_reaches_old_kevent(unsigned mode);
	void fd_number_reused_then_modify_breaks_old_kevent();
	void fd_number_reused_under_a_queued_last_check_kevent_is_broken_once();
};

} // namespace kevent_origin
