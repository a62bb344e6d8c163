// SPDX-License-Identifier: MIT
// TIMER origin: id.raw[0] = seconds, id.raw[1] = nanoseconds of the interval;
// periodic unless ONESHOT; ret_data[0] = expirations since the last delivery.
// event carries KEVENT_TIMER_FIRED plus the clock (REALTIME/BOOTTIME, else
// monotonic) and ABSTIME (first expiry = ret_data of the ADD entry).
// NAMED: id is the caller's name for the timer, not its interval; the
// interval comes from ret_data of the ADD entry, so any number of timers of
// one period live in one queue (kevent_timer(7)).
#include "core/timer_service.hpp"
#include "origin/origin.hpp"
#include "sys/clock.hpp"

#include <cerrno>

namespace kevent::detail::timer_origin {
namespace {

constexpr uint32_t option_bits = KEVENT_TIMER_REALTIME | KEVENT_TIMER_BOOTTIME |
				 KEVENT_TIMER_ABSTIME | KEVENT_TIMER_NAMED;

int64_t interval_of(const ukevent &uk) {
	return int64_t(uk.id.raw[0]) * sys::ns_per_s + uk.id.raw[1];
}

// The interval of a named timer: ret_data of its ADD entry, unless that
// holds the absolute first expiry (NAMED|ABSTIME is a one-shot).
int64_t named_interval_of(const ukevent &req) {
	if (req.event & KEVENT_TIMER_ABSTIME)
		return 0;
	return int64_t(req.ret_data[0]) * sys::ns_per_s + req.ret_data[1];
}

} // namespace

int validate(const ukevent &uk) {
	if (!(uk.event & KEVENT_TIMER_FIRED) || (uk.event & ~(KEVENT_TIMER_FIRED | option_bits)))
		return EINVAL;
	if ((uk.event & KEVENT_TIMER_REALTIME) && (uk.event & KEVENT_TIMER_BOOTTIME))
		return EINVAL;
	// A named timer's interval is in ret_data, read by attach() only: a
	// MODIFY entry's ret_data means nothing.
	if (uk.event & KEVENT_TIMER_NAMED)
		return 0;
	if (uk.id.raw[1] >= sys::ns_per_s)
		return EINVAL;
	if (interval_of(uk) == 0 && !(uk.req_flags & KEVENT_REQ_ONESHOT))
		return EINVAL; // a periodic timer of period 0 would never stop firing
	return 0;
}

int attach(origin_services &svc, knode &n, const ukevent &req, bool &ready_now) {
	const ukevent &uk = n.uk;
	n.tm = timer_link{}; // the knode's union: a TIMER keeps a deadline, not an fd watch
	n.tm.clock = (uk.event & KEVENT_TIMER_REALTIME)   ? clock_kind::realtime
		     : (uk.event & KEVENT_TIMER_BOOTTIME) ? clock_kind::boottime
							  : clock_kind::monotonic;
	const bool named = (uk.event & KEVENT_TIMER_NAMED) != 0;
	if (named && !(uk.event & KEVENT_TIMER_ABSTIME) && req.ret_data[1] >= sys::ns_per_s)
		return -EINVAL;
	const int64_t interval = named ? named_interval_of(req) : interval_of(uk);
	if (named && interval == 0 && !(uk.req_flags & KEVENT_REQ_ONESHOT))
		return -EINVAL; // as validate() for a keyed timer of period 0
	n.tm.interval = (uk.req_flags & KEVENT_REQ_ONESHOT) ? 0 : interval;
	int64_t now = svc.timers().batch_now(static_cast<int>(n.tm.clock));
	if (uk.event & KEVENT_TIMER_ABSTIME) {
		if (req.ret_data[1] >= sys::ns_per_s)
			return -EINVAL;
		n.tm.expiry = int64_t(req.ret_data[0]) * sys::ns_per_s + req.ret_data[1];
	} else {
		n.tm.expiry = sys::add_sat(now, interval);
	}
	if (n.tm.interval == 0 && n.tm.expiry <= now) {
		n.uk.ret_data[0] = 1; // a one-shot that is already due
		ready_now = true;
		return 0;
	}
	return svc.timers().schedule(&n);
}

void detach(origin_services &svc, knode &n) { svc.timers().cancel(&n); }

void on_deliver(origin_services &svc, knode &n, ukevent &out) { svc.timers().deliver(&n, out); }

void on_user_ready(knode &n, const ukevent &) {
	if (n.uk.ret_data[0] == 0)
		n.uk.ret_data[0] = 1; // a forced expiry still reports one
}

// MODIFY may change the flags, never the event bits: the clock and ABSTIME
// were read at ADD, and the deadline runs on that clock
// (kevent_timer(7)). A named one-shot stays one: its interval was read at
// ADD and not kept, so it could not become periodic.
int check_modify(const knode &n, const ukevent &req) {
	if (req.event != n.uk.event)
		return EINVAL;
	if ((n.uk.event & KEVENT_TIMER_NAMED) && n.req(KEVENT_REQ_ONESHOT) &&
	    !(req.req_flags & KEVENT_REQ_ONESHOT))
		return EINVAL;
	return 0;
}

} // namespace kevent::detail::timer_origin
