// SPDX-License-Identifier: MIT
// EVFILT_SIGNAL: every kqueue that watches a signal counts each delivery
// (BSD), so the signals go to one process-wide hub: a signalfd holding the
// union of the watched signals, and per signal the number of deliveries
// seen. Each kqueue with signal knotes watches the signalfd and its own
// doorbell (an eventfd) with libkevent POLL kevents: whichever kqueue finds
// the signalfd readable drains it, adds to the totals and rings every
// doorbell; each kqueue then credits its knotes with what the totals grew
// by since they last looked (deliveries before the ADD do not count).
//
// The signal is blocked in the thread that adds the knote, so it stays
// pending for the signalfd whatever the disposition: a later
// sigaction(SIG_IGN) by the program (libevent sets it right after adding)
// does not lose it, as kqueue counts ignored signals. When the last knote
// of a signal in the process goes, a signal that was unblocked before is
// unblocked again. data = deliveries since the last report (implicitly
// EV_CLEAR). docs/kqueue.md: how this differs from BSD.
//
// LOCKING: called under kq::mu (kq.hpp); hub.mu guards the hub and is taken
// under kq::mu only, never the other way round.
#include "kqueue/kq.hpp"

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <vector>

namespace kqlayer {
namespace {

struct signal_hub {
	std::mutex mu;
	int sigfd = -1;
	sigset_t set;
	int users[NSIG] = {};          // knotes in the process, by signal
	bool unblock_after[NSIG] = {}; // the signal was unblocked when the first came
	uint64_t total[NSIG] = {};     // deliveries seen, by signal
	std::vector<int> doorbells;    // one eventfd per kqueue with signal knotes
	signal_hub() { sigemptyset(&set); }
};
signal_hub *hub = new signal_hub; // made anew in a fork child; never destroyed

ukevent poll_kevent(int fd, uint32_t tag) {
	ukevent uk{};
	uk.type = KEVENT_POLL;
	uk.id.raw[0] = static_cast<uint32_t>(fd);
	uk.id.raw[1] = tag;
	uk.event = POLLIN;
	uk.req_flags = KEVENT_REQ_ALWAYS_QUEUE | KEVENT_REQ_LEVEL;
	set_cookie(uk, signal_cookie);
	return uk;
}

// The kqueue's doorbell and its watch of the hub's signalfd. 0 or errno.
int join(kq &q) {
	if (q.sigfd >= 0)
		return 0;
	int bell = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (bell < 0)
		return errno;
	ukevent b = poll_kevent(bell, 0), s = poll_kevent(hub->sigfd, 0);
	int r = q.ctl(KEVENT_CTL_ADD, b);
	if (!r && (r = q.ctl(KEVENT_CTL_ADD, s)) != 0)
		q.ctl(KEVENT_CTL_REMOVE, b);
	if (r) {
		close(bell);
		return r;
	}
	q.sigfd = bell;
	hub->doorbells.push_back(bell);
	return 0;
}

int attach(kq &q, knote &k, const struct kevent &) {
	int sig = static_cast<int>(k.ident);
	if (k.ident >= NSIG || sig <= 0 || sig == SIGKILL || sig == SIGSTOP)
		return EINVAL;
	std::lock_guard g(hub->mu);
	sigset_t next = hub->set;
	sigaddset(&next, sig);
	int fd = signalfd(hub->sigfd, &next, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return errno;
	hub->sigfd = fd;
	hub->set = next;
	if (int r = join(q))
		return r; // the signal stays in the set, unblocked: harmless
	if (hub->users[sig]++ == 0) {
		sigset_t one, old;
		sigemptyset(&one);
		sigaddset(&one, sig);
		pthread_sigmask(SIG_BLOCK, &one, &old);
		hub->unblock_after[sig] = !sigismember(&old, sig);
	}
	k.sdata = static_cast<intptr_t>(hub->total[sig]); // what it has seen
	return 0;
}

void detach(kq &q, knote &k) {
	int sig = static_cast<int>(k.ident);
	q.dequeue(k);
	std::lock_guard g(hub->mu);
	if (hub->users[sig] > 0 && --hub->users[sig] == 0) {
		sigdelset(&hub->set, sig);
		if (hub->sigfd >= 0)
			signalfd(hub->sigfd, &hub->set, 0);
		if (hub->unblock_after[sig]) {
			sigset_t one;
			sigemptyset(&one);
			sigaddset(&one, sig);
			pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
		}
	}
}

int touch(kq &, knote &, const struct kevent &) { return 0; }

void set_enabled(kq &q, knote &k, bool on) {
	if (on && k.active)
		q.enqueue(k);
}

void report(kq &, knote &, const ukevent &) {}

bool emit(kq &, knote &k, struct kevent &out) {
	if (!k.active)
		return false;
	out.data = k.count;
	k.count = 0;
	k.active = false;
	return true;
}

} // namespace

void drain_signals(kq &q) {
	std::lock_guard g(hub->mu);
	if (hub->sigfd >= 0) {
		signalfd_siginfo si[16];
		ssize_t r;
		bool any = false;
		while ((r = read(hub->sigfd, si, sizeof si)) > 0) {
			for (size_t i = 0; i < static_cast<size_t>(r) / sizeof si[0]; i++)
				if (si[i].ssi_signo < NSIG) {
					hub->total[si[i].ssi_signo]++;
					any = true;
				}
		}
		if (any)
			for (int bell : hub->doorbells)
				eventfd_write(bell, 1);
	}
	if (q.sigfd >= 0) {
		eventfd_t v;
		eventfd_read(q.sigfd, &v);
	}
	for (auto &e : q.notes) {
		knote &k = *e.second;
		if (k.filter != EVFILT_SIGNAL)
			continue;
		auto seen = static_cast<uint64_t>(k.sdata);
		uint64_t now = hub->total[k.ident];
		if (now == seen)
			continue;
		k.count += static_cast<intptr_t>(now - seen);
		k.sdata = static_cast<intptr_t>(now);
		k.active = true;
		if (!k.disabled)
			q.enqueue(k);
	}
}

void signals_after_fork() {
	// The child has no kqueue left: the signals the layer blocked are
	// unblocked again (as deleting their knotes would have), and the hub
	// starts empty. The one thread of the child: its lock is made anew.
	for (int sig = 1; sig < NSIG; sig++)
		if (hub->users[sig] > 0 && hub->unblock_after[sig]) {
			sigset_t one;
			sigemptyset(&one);
			sigaddset(&one, sig);
			pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
		}
	if (hub->sigfd >= 0)
		close(hub->sigfd);
	for (int bell : hub->doorbells)
		close(bell);
	hub = new signal_hub;
}

void close_signals(kq &q) {
	if (q.sigfd < 0)
		return;
	std::lock_guard g(hub->mu);
	auto &d = hub->doorbells;
	d.erase(std::remove(d.begin(), d.end(), q.sigfd), d.end());
	close(q.sigfd);
	q.sigfd = -1;
}

const filter_ops signal_filter = {attach, detach, touch, set_enabled, report, emit};

} // namespace kqlayer
