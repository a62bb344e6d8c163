// SPDX-License-Identifier: MIT
// EVFILT_TIMER: a libkevent named timer per knote (KEVENT_TIMER_NAMED,
// kevent_timer(7)), named by the knote's serial, so any number of timers of
// one period live in one kqueue. A disabled timer is a disabled libkevent
// timer (native.cpp): it keeps counting, and re-enabled reports the
// expirations it collected. Periodic unless EV_ONESHOT or NOTE_ABSTIME
// (CLOCK_REALTIME, fires once); data = expirations since the last delivery
// (implicitly EV_CLEAR, as FreeBSD).
// LOCKING: called under kq::mu (kq.hpp).
#include "kqueue/kq.hpp"

#include <cerrno>
#include <cstdint>

namespace kqlayer {
namespace {

// data in the unit fflags names, as seconds and nanoseconds. false: invalid.
bool to_interval(intptr_t data, unsigned fflags, uint32_t &sec, uint32_t &nsec) {
	if (data < 0)
		return false;
	unsigned unit = fflags & (NOTE_SECONDS | NOTE_MSECONDS | NOTE_USECONDS | NOTE_NSECONDS);
	long long ns_per;
	switch (unit) {
	case 0:
	case NOTE_MSECONDS:
		ns_per = 1000000;
		break;
	case NOTE_SECONDS:
		ns_per = 1000000000;
		break;
	case NOTE_USECONDS:
		ns_per = 1000;
		break;
	case NOTE_NSECONDS:
		ns_per = 1;
		break;
	default:
		return false; // two units
	}
	long long per_sec = 1000000000 / ns_per;
	long long s = data / per_sec;
	// libkevent's seconds are 32 bits: a longer timer (past 2106) never
	// fires in practice, and is clamped as FreeBSD clamps its own.
	sec = s > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(s);
	nsec = static_cast<uint32_t>((data % per_sec) * ns_per);
	return true;
}

// The knote's libkevent timer; false: invalid data or fflags.
bool timer_kevent(const knote &k, ukevent &uk) {
	uk = ukevent{};
	if (!to_interval(k.sdata, k.sfflags, uk.ret_data[0], uk.ret_data[1]))
		return false;
	uk.type = KEVENT_TIMER;
	uk.id.raw_u64 = k.serial;
	uk.event = KEVENT_TIMER_FIRED | KEVENT_TIMER_NAMED;
	uk.req_flags = KEVENT_REQ_ALWAYS_QUEUE;
	if (k.sfflags & NOTE_ABSTIME) {
		// FreeBSD: an absolute time on the wall clock, reported once.
		uk.event |= KEVENT_TIMER_REALTIME | KEVENT_TIMER_ABSTIME;
		uk.req_flags |= KEVENT_REQ_ONESHOT;
	} else if (k.flags & EV_ONESHOT) {
		uk.req_flags |= KEVENT_REQ_ONESHOT;
	} else if (uk.ret_data[0] == 0 && uk.ret_data[1] == 0) {
		// A periodic timer of 0 expires as often as it can; libkevent
		// holds a delivered-but-unread timer's deadline, so it does not
		// spin.
		uk.ret_data[1] = 1;
	}
	set_cookie(uk, k.serial);
	return true;
}

int start(kq &q, knote &k) {
	ukevent uk;
	if (!timer_kevent(k, uk))
		return EINVAL;
	return add_native(q, k, uk);
}

void stop(kq &q, knote &k) {
	ukevent uk;
	if (timer_kevent(k, uk))
		remove_native(q, k, uk);
	k.registered = false;
}

int attach(kq &q, knote &k, const struct kevent &kev) {
	constexpr unsigned known = NOTE_SECONDS | NOTE_MSECONDS | NOTE_USECONDS | NOTE_NSECONDS |
				   NOTE_ABSTIME;
	if (kev.fflags & ~known)
		return EINVAL;
	k.sfflags = kev.fflags;
	k.sdata = kev.data;
	k.flags |= EV_CLEAR; // FreeBSD's filt_timerattach: reported in the event's flags
	return start(q, k);
}

void detach(kq &q, knote &k) {
	stop(q, k);
	q.dequeue(k);
}

int touch(kq &q, knote &k, const struct kevent &kev) {
	// FreeBSD restarts a timer that is added again, with its new period;
	// what it had counted is dropped. Other changes leave it running.
	if (!(kev.flags & EV_ADD))
		return 0;
	knote probe = k;
	probe.sfflags = kev.fflags;
	probe.sdata = kev.data;
	ukevent uk;
	if ((kev.fflags &
	     ~(NOTE_SECONDS | NOTE_MSECONDS | NOTE_USECONDS | NOTE_NSECONDS | NOTE_ABSTIME)) ||
	    !timer_kevent(probe, uk))
		return EINVAL; // nothing changed
	stop(q, k);
	k.sfflags = kev.fflags;
	k.sdata = kev.data;
	k.count = 0;
	k.active = false;
	q.dequeue(k);
	// A new name and cookie: an expiry of the old timer that another
	// thread has taken from libkevent but not yet handed over is dropped.
	q.by_serial.erase(k.serial);
	k.serial = q.next_serial++;
	q.by_serial[k.serial] = &k;
	return start(q, k);
}

void set_enabled(kq &q, knote &k, bool) {
	ukevent uk;
	if (timer_kevent(k, uk))
		enable_native(q, k, uk);
}

void report(kq &q, knote &k, const ukevent &uk) {
	if (uk.ret_flags & KEVENT_RET_DONE)
		k.registered = false; // a one-shot libkevent timer is gone
	if (uk.ret_data[0] == 0)
		return;
	k.count += static_cast<intptr_t>(uk.ret_data[0]);
	k.active = true;
	if (!k.disabled)
		q.enqueue(k);
}

bool emit(kq &, knote &k, struct kevent &out) {
	if (!k.active)
		return false;
	out.data = k.count;
	out.fflags = 0;
	k.count = 0;
	k.active = false;
	return true;
}

} // namespace

const filter_ops timer_filter = {attach, detach, touch, set_enabled, report, emit};

} // namespace kqlayer
