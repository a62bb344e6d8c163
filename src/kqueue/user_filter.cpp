// SPDX-License-Identifier: MIT
// EVFILT_USER: the knote's state (triggered, the 24 stored fflags, data) is
// the layer's; a libkevent UNOTIFY kevent per knote carries the trigger to
// a thread that waits (kevent_ctl READY). Without EV_CLEAR a triggered
// event stays triggered and is reported by every call, as FreeBSD's.
// LOCKING: called under kq::mu (kq.hpp).
#include "kqueue/kq.hpp"

#include <cerrno>

namespace kqlayer {
namespace {

ukevent user_kevent(const knote &k) {
	ukevent uk{};
	uk.type = KEVENT_UNOTIFY;
	uk.id.raw_u64 = k.serial;
	set_cookie(uk, k.serial);
	return uk;
}

// FreeBSD's filt_usertouch: NOTE_TRIGGER, then the control bits.
void apply_fflags(knote &k, unsigned fflags) {
	unsigned v = fflags & NOTE_FFLAGSMASK;
	switch (fflags & NOTE_FFCTRLMASK) {
	case NOTE_FFAND:
		k.sfflags &= v;
		break;
	case NOTE_FFOR:
		k.sfflags |= v;
		break;
	case NOTE_FFCOPY:
		k.sfflags = v;
		break;
	default:
		break; // NOTE_FFNOP
	}
}

void post(kq &q, knote &k) {
	if (k.active && !k.disabled) {
		q.enqueue(k);
		ukevent uk = user_kevent(k);
		q.ctl(KEVENT_CTL_READY, uk); // wakes a thread that waits
	}
}

int attach(kq &q, knote &k, const struct kevent &kev) {
	k.sfflags = kev.fflags & NOTE_FFLAGSMASK;
	k.sdata = kev.data;
	if (int r = add_native(q, k, user_kevent(k)))
		return r;
	k.active = (kev.fflags & NOTE_TRIGGER) != 0;
	post(q, k);
	return 0;
}

void detach(kq &q, knote &k) {
	remove_native(q, k, user_kevent(k));
	q.dequeue(k);
}

int touch(kq &q, knote &k, const struct kevent &kev) {
	if (kev.fflags & NOTE_TRIGGER)
		k.active = true;
	apply_fflags(k, kev.fflags);
	k.sdata = kev.data;
	post(q, k);
	return 0;
}

// The UNOTIFY kevent follows the knote's state (added disabled with
// EV_ADD|EV_DISABLE); the trigger itself is the knote's, posted again.
void set_enabled(kq &q, knote &k, bool on) {
	enable_native(q, k, user_kevent(k));
	if (on)
		post(q, k);
}

void report(kq &q, knote &k, const ukevent &) {
	if (k.active && !k.disabled)
		q.enqueue(k);
}

bool emit(kq &q, knote &k, struct kevent &out) {
	if (!k.active)
		return false;
	out.fflags = k.sfflags;
	out.data = k.sdata;
	if (k.flags & EV_CLEAR) {
		k.active = false;
	} else if (!(k.flags & (EV_ONESHOT | EV_DISPATCH))) {
		// Still triggered: the next call reports it again.
		ukevent uk = user_kevent(k);
		q.ctl(KEVENT_CTL_READY, uk);
	}
	return true;
}

} // namespace

const filter_ops user_filter = {attach, detach, touch, set_enabled, report, emit};

} // namespace kqlayer
