// SPDX-License-Identifier: MIT
// The libkevent kevent under a knote: added, removed and enabled or disabled
// the same way by every filter that has one (fd, timer, proc, user).
// Disabling is libkevent's own disabled state (KEVENT_REQ_DISABLED,
// kevent(7)): the kevent stays registered and keeps collecting what its
// origin reports, and enabling it queues it if anything came meanwhile, as
// FreeBSD's EV_DISABLE/EV_ENABLE do.
// LOCKING: called under kq::mu (kq.hpp).
#include "kqueue/kq.hpp"

namespace kqlayer {

int add_native(kq &q, knote &k, ukevent uk) {
	if (k.disabled)
		uk.req_flags |= KEVENT_REQ_DISABLED;
	if (int r = q.ctl(KEVENT_CTL_ADD, uk))
		return r;
	k.registered = true;
	return 0;
}

void remove_native(kq &q, knote &k, ukevent uk) {
	if (k.registered) {
		q.ctl(KEVENT_CTL_REMOVE, uk);
		k.registered = false;
	}
}

void enable_native(kq &q, knote &k, ukevent uk) {
	if (k.registered) {
		if (k.disabled)
			uk.req_flags |= KEVENT_REQ_DISABLED;
		q.ctl(KEVENT_CTL_MODIFY, uk);
	}
	// A kevent that reported and is gone (a one-shot timer, a PROC) left
	// its report in the knote.
	if (!k.disabled && k.active)
		q.enqueue(k); // what the layer had taken before the disable
}

} // namespace kqlayer
