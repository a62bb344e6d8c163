// SPDX-License-Identifier: MIT
// EVFILT_TIMER: one timerfd per knote, watched by a libkevent POLL kevent.
// Any number of timers of one period live in one kqueue (a libkevent TIMER
// kevent is keyed by its interval), and a disabled timer keeps counting in
// its timerfd: re-enabled, it reports the expirations it collected.
// Periodic unless EV_ONESHOT or NOTE_ABSTIME; data = expirations since the
// last delivery (implicitly EV_CLEAR, as FreeBSD).
// LOCKING: called under kq::mu (kq.hpp).
#include "kqueue/kq.hpp"

#include <cerrno>
#include <poll.h>
#include <sys/timerfd.h>
#include <unistd.h>

namespace kqlayer {
namespace {

ukevent poll_kevent(const knote &k) {
	ukevent uk{};
	uk.type = KEVENT_POLL;
	uk.id.raw[0] = static_cast<uint32_t>(k.own_fd);
	uk.event = POLLIN;
	uk.req_flags = KEVENT_REQ_ALWAYS_QUEUE | KEVENT_REQ_LEVEL;
	set_cookie(uk, k.serial);
	return uk;
}

// data in the unit fflags names, as a timespec. false: invalid.
bool to_timespec(intptr_t data, unsigned fflags, timespec &ts) {
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
	ts.tv_sec = static_cast<time_t>(data / per_sec);
	ts.tv_nsec = static_cast<long>((data % per_sec) * ns_per);
	return true;
}

int arm(knote &k) {
	timespec t;
	if (!to_timespec(k.sdata, k.sfflags, t))
		return EINVAL;
	itimerspec its{};
	its.it_value = t;
	bool abs = (k.sfflags & NOTE_ABSTIME) != 0;
	if (!abs && t.tv_sec == 0 && t.tv_nsec == 0)
		its.it_value.tv_nsec = 1; // 0: expire at once (0 would disarm)
	if (!abs && !(k.flags & EV_ONESHOT))
		its.it_interval = its.it_value;
	if (abs && t.tv_sec == 0 && t.tv_nsec == 0)
		its.it_value.tv_nsec = 1; // the epoch: long past
	if (timerfd_settime(k.own_fd, abs ? TFD_TIMER_ABSTIME : 0, &its, nullptr) < 0)
		return errno;
	return 0;
}

int start(kq &q, knote &k) {
	ukevent uk = poll_kevent(k);
	if (int r = q.ctl(KEVENT_CTL_ADD, uk))
		return r;
	k.registered = true;
	return 0;
}

void stop(kq &q, knote &k) {
	if (k.registered) {
		ukevent uk = poll_kevent(k);
		q.ctl(KEVENT_CTL_REMOVE, uk);
		k.registered = false;
	}
}

int attach(kq &q, knote &k, const struct kevent &kev) {
	constexpr unsigned known = NOTE_SECONDS | NOTE_MSECONDS | NOTE_USECONDS | NOTE_NSECONDS |
				   NOTE_ABSTIME;
	if (kev.fflags & ~known)
		return EINVAL;
	k.sfflags = kev.fflags;
	k.sdata = kev.data;
	k.own_fd = timerfd_create((kev.fflags & NOTE_ABSTIME) ? CLOCK_REALTIME : CLOCK_MONOTONIC,
				  TFD_NONBLOCK | TFD_CLOEXEC);
	if (k.own_fd < 0)
		return errno;
	int r = arm(k);
	if (!r && !k.disabled)
		r = start(q, k);
	if (r) {
		close(k.own_fd);
		k.own_fd = -1;
	}
	return r;
}

void detach(kq &q, knote &k) {
	stop(q, k);
	if (k.own_fd >= 0)
		close(k.own_fd);
	k.own_fd = -1;
	q.dequeue(k);
}

int touch(kq &q, knote &k, const struct kevent &kev) {
	// FreeBSD restarts a timer that is added again, with its new period;
	// what it had counted is dropped. Other changes leave it running.
	if (!(kev.flags & EV_ADD))
		return 0;
	timespec t;
	if (!to_timespec(kev.data, kev.fflags, t) || ((kev.fflags ^ k.sfflags) & NOTE_ABSTIME))
		return EINVAL; // the clock of the timerfd is chosen at ADD
	k.sfflags = kev.fflags;
	k.sdata = kev.data;
	k.count = 0;
	k.active = false;
	q.dequeue(k);
	uint64_t drain;
	while (read(k.own_fd, &drain, sizeof drain) == sizeof drain) {
	}
	return arm(k);
}

void set_enabled(kq &q, knote &k, bool on) {
	if (on) {
		start(q, k); // level: reports at once what it counted meanwhile
		if (k.active)
			q.enqueue(k);
	} else {
		stop(q, k);
	}
}

void report(kq &q, knote &k, const ukevent &) {
	uint64_t n;
	if (read(k.own_fd, &n, sizeof n) == sizeof n && n > 0) {
		k.count += static_cast<intptr_t>(n);
		k.active = true;
		q.enqueue(k);
	}
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
