// SPDX-License-Identifier: MIT
// EVFILT_PROC: a libkevent PROC kevent (a pidfd; kevent_proc(7)). NOTE_EXIT
// only: data = the wait status (a child's; it is not reaped), delivered
// with EV_EOF|EV_ONESHOT. NOTE_FORK, NOTE_EXEC and NOTE_TRACK are refused
// with EINVAL: Linux tells no process of another's fork or exec without
// tracing it (docs/kqueue.md).
// LOCKING: called under kq::mu (kq.hpp).
#include "kqueue/kq.hpp"

#include <cerrno>

namespace kqlayer {
namespace {

ukevent proc_kevent(const knote &k) {
	ukevent uk{};
	uk.type = KEVENT_PROC;
	uk.id.raw[0] = static_cast<uint32_t>(k.ident);
	uk.event = KEVENT_PROC_EXIT;
	uk.req_flags = KEVENT_REQ_ALWAYS_QUEUE;
	set_cookie(uk, k.serial);
	return uk;
}

int attach(kq &q, knote &k, const struct kevent &kev) {
	if ((kev.fflags & ~NOTE_EXIT) || kev.ident == 0 || kev.ident > INT32_MAX)
		return EINVAL;
	k.sfflags = kev.fflags;
	return add_native(q, k, proc_kevent(k));
}

void detach(kq &q, knote &k) {
	remove_native(q, k, proc_kevent(k));
	q.dequeue(k);
}

int touch(kq &, knote &k, const struct kevent &kev) {
	if (kev.fflags & ~NOTE_EXIT)
		return EINVAL;
	k.sfflags = kev.fflags;
	return 0;
}

void set_enabled(kq &q, knote &k, bool) { enable_native(q, k, proc_kevent(k)); }

void report(kq &q, knote &k, const ukevent &uk) {
	k.registered = false; // a PROC kevent is gone once it reports
	k.count = static_cast<int32_t>(uk.ret_data[0]);
	k.active = true;
	if (!k.disabled)
		q.enqueue(k);
}

bool emit(kq &, knote &k, struct kevent &out) {
	if (!k.active)
		return false;
	out.fflags = NOTE_EXIT & k.sfflags;
	out.data = k.count;
	out.flags |= EV_EOF | EV_ONESHOT;
	return true;
}

} // namespace

const filter_ops proc_filter = {attach, detach, touch, set_enabled, report, emit};

const filter_ops *filter_for(short filter) {
	switch (filter) {
	case EVFILT_READ:
	case EVFILT_WRITE:
		return &fd_filter;
	case EVFILT_TIMER:
		return &timer_filter;
	case EVFILT_USER:
		return &user_filter;
	case EVFILT_SIGNAL:
		return &signal_filter;
	case EVFILT_PROC:
		return &proc_filter;
	case EVFILT_VNODE:
		return &vnode_filter;
	default:
		return nullptr;
	}
}

} // namespace kqlayer
