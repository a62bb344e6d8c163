// SPDX-License-Identifier: MIT
// TIMER origin: id.raw[0] = seconds, id.raw[1] = nanoseconds of the interval;
// periodic unless ONESHOT; ret_data[0] = expirations since the last delivery.
// event carries KEVENT_TIMER_FIRED plus the clock (REALTIME/BOOTTIME, else
// monotonic) and ABSTIME (first expiry = ret_data of the ADD entry).
#include "core/timer_service.hpp"
#include "origin/origin.hpp"
#include "sys/clock.hpp"

#include <cerrno>

namespace kevent::detail::timer_origin {
namespace {

constexpr uint32_t option_bits = KEVENT_TIMER_REALTIME | KEVENT_TIMER_BOOTTIME |
				 KEVENT_TIMER_ABSTIME;

int64_t interval_of(const ukevent &uk) {
	return int64_t(uk.id.raw[0]) * sys::ns_per_s + uk.id.raw[1];
}

} // namespace

int validate(const ukevent &uk) {
	if (!(uk.event & KEVENT_TIMER_FIRED) || (uk.event & ~(KEVENT_TIMER_FIRED | option_bits)))
		return EINVAL;
	if ((uk.event & KEVENT_TIMER_REALTIME) && (uk.event & KEVENT_TIMER_BOOTTIME))
		return EINVAL;
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
	n.tm.interval = (uk.req_flags & KEVENT_REQ_ONESHOT) ? 0 : interval_of(uk);
	int64_t now = svc.timers().batch_now(static_cast<int>(n.tm.clock));
	if (uk.event & KEVENT_TIMER_ABSTIME) {
		if (req.ret_data[1] >= sys::ns_per_s)
			return -EINVAL;
		n.tm.expiry = int64_t(req.ret_data[0]) * sys::ns_per_s + req.ret_data[1];
	} else {
		n.tm.expiry = sys::add_sat(now, interval_of(uk));
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
// (kevent_timer(7)).
int check_modify(const knode &n, const ukevent &req) {
	return req.event != n.uk.event ? EINVAL : 0;
}

} // namespace kevent::detail::timer_origin
