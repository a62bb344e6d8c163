// SPDX-License-Identifier: MIT
// EVFILT_SIGNAL: a libkevent SIGNAL kevent (kevent_signal(7)) per knote.
// Every kqueue that watches a signal counts each delivery, as BSD's do, and
// the program's own disposition stays in force: its handler runs, SIG_IGN
// ignores (the delivery still counted), SIG_DFL does the default action —
// also when the program sets it after adding, as libevent sets SIG_IGN right
// after its EV_ADD, because libkevent chains the program's later
// sigaction/signal behind its handler (kevent_signal(7), "The program's own
// dispositions while watched"). No signal mask is touched. data =
// deliveries since the last report (implicitly EV_CLEAR); a disabled knote
// keeps counting and reports the sum when enabled.
//
// LOCKING: called under kq::mu (kq.hpp).
#include "kqueue/kq.hpp"

#include <cerrno>

namespace kqlayer {
namespace {

ukevent signal_kevent(const knote &k) {
	ukevent uk{};
	uk.type = KEVENT_SIGNAL;
	uk.id.raw[0] = static_cast<uint32_t>(k.ident);
	uk.event = KEVENT_SIGNAL_DELIVERY;
	uk.req_flags = KEVENT_REQ_ALWAYS_QUEUE;
	set_cookie(uk, k.serial);
	return uk;
}

int attach(kq &q, knote &k, const struct kevent &) {
	int sig = static_cast<int>(k.ident);
	if (k.ident >= NSIG || sig <= 0 || sig == SIGKILL || sig == SIGSTOP)
		return EINVAL;
	ukevent uk = signal_kevent(k);
	if (int r = q.ctl(KEVENT_CTL_ADD, uk))
		return r;
	k.registered = true;
	k.flags |= EV_CLEAR; // FreeBSD's filt_sigattach: reported in the event's flags
	return 0;
}

void detach(kq &q, knote &k) {
	remove_native(q, k, signal_kevent(k));
	q.dequeue(k);
}

int touch(kq &, knote &, const struct kevent &) { return 0; }

void set_enabled(kq &q, knote &k, bool on) {
	if (on && k.active)
		q.enqueue(k);
}

// ret_data[0]: deliveries coalesced since the kevent last reported.
void report(kq &q, knote &k, const ukevent &uk) {
	k.count += static_cast<intptr_t>(uk.ret_data[0]);
	k.active = true;
	if (!k.disabled)
		q.enqueue(k);
}

bool emit(kq &, knote &k, struct kevent &out) {
	if (!k.active)
		return false;
	out.data = k.count;
	k.count = 0;
	k.active = false;
	return true;
}

} // namespace

const filter_ops signal_filter = {attach, detach, touch, set_enabled, report, emit};

} // namespace kqlayer
