// SPDX-License-Identifier: MIT
// EVFILT_SIGNAL: one signalfd per kqueue holds the signals its knotes
// watch, watched by one libkevent POLL kevent. The signal is blocked in the
// thread that adds the knote, so it stays pending for the signalfd whatever
// the disposition: a later sigaction(SIG_IGN) by the program (libevent sets
// it right after adding) does not lose it, as kqueue counts ignored signals.
// When the last knote of a signal in the process goes, a signal that was
// unblocked before is unblocked again. data = deliveries since the last
// report (implicitly EV_CLEAR). docs/kqueue.md: how this differs from BSD.
// LOCKING: called under kq::mu (kq.hpp); sig_mu guards the process-wide
// counts and is taken under kq::mu only.
#include "kqueue/kq.hpp"

#include <cerrno>
#include <mutex>
#include <poll.h>
#include <pthread.h>
#include <sys/signalfd.h>
#include <unistd.h>

namespace kqlayer {
namespace {

std::mutex sig_mu;
int users[NSIG];          // knotes in the process, by signal
bool unblock_after[NSIG]; // the signal was unblocked when the first came

ukevent poll_kevent(const kq &q) {
	ukevent uk{};
	uk.type = KEVENT_POLL;
	uk.id.raw[0] = static_cast<uint32_t>(q.sigfd);
	uk.event = POLLIN;
	uk.req_flags = KEVENT_REQ_ALWAYS_QUEUE | KEVENT_REQ_LEVEL;
	set_cookie(uk, signal_cookie);
	return uk;
}

int attach(kq &q, knote &k, const struct kevent &) {
	int sig = static_cast<int>(k.ident);
	if (k.ident >= NSIG || sig <= 0 || sig == SIGKILL || sig == SIGSTOP)
		return EINVAL;
	sigset_t next = q.sigs;
	sigaddset(&next, sig);
	bool fresh = q.sigfd < 0;
	int fd = signalfd(q.sigfd, &next, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return errno;
	if (fresh) {
		q.sigfd = fd;
		ukevent uk = poll_kevent(q);
		if (int r = q.ctl(KEVENT_CTL_ADD, uk)) {
			close(fd);
			q.sigfd = -1;
			return r;
		}
	}
	q.sigs = next;
	std::lock_guard g(sig_mu);
	if (users[sig]++ == 0) {
		sigset_t one, old;
		sigemptyset(&one);
		sigaddset(&one, sig);
		pthread_sigmask(SIG_BLOCK, &one, &old);
		unblock_after[sig] = !sigismember(&old, sig);
	}
	return 0;
}

void detach(kq &q, knote &k) {
	int sig = static_cast<int>(k.ident);
	q.dequeue(k);
	sigdelset(&q.sigs, sig);
	if (q.sigfd >= 0)
		signalfd(q.sigfd, &q.sigs, 0);
	std::lock_guard g(sig_mu);
	if (--users[sig] == 0 && unblock_after[sig]) {
		sigset_t one;
		sigemptyset(&one);
		sigaddset(&one, sig);
		pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
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
	if (q.sigfd < 0)
		return;
	signalfd_siginfo si[16];
	ssize_t r;
	while ((r = read(q.sigfd, si, sizeof si)) > 0) {
		for (size_t i = 0; i < static_cast<size_t>(r) / sizeof si[0]; i++) {
			auto it = q.notes.find(
				{static_cast<uintptr_t>(si[i].ssi_signo), EVFILT_SIGNAL});
			if (it == q.notes.end())
				continue;
			knote &k = *it->second;
			k.count++;
			k.active = true;
			if (!k.disabled)
				q.enqueue(k);
		}
	}
}

void close_signals(kq &q) {
	if (q.sigfd >= 0)
		close(q.sigfd);
	q.sigfd = -1;
}

const filter_ops signal_filter = {attach, detach, touch, set_enabled, report, emit};

} // namespace kqlayer
