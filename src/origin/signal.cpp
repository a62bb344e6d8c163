// SPDX-License-Identifier: MIT
// SIGNAL origin: id.raw[0] = signal number; ret_data[0] = deliveries
// coalesced. KEVENT_SIGNAL_NOMASK: the queue consumes the signal.
//
// How: a process-wide handler, installed while any queue watches the signal,
// counts each delivery and writes a process-wide eventfd that every queue
// with signal kevents watches edge-triggered; a queue then compares each
// kevent's count with what it saw last. The handler then runs what was there
// before (the user's handler, or the default action) unless a registration
// asked for NOMASK. The last watcher gone, the old disposition is put back
// exactly. Signal masks are never touched, so this works whatever thread the
// kernel picks, which signalfd(2) cannot do without every thread blocking the
// signal (see kevent_signal(7)).
//
// Standing in for a disposition must not change what the kernel does with
// it: the handler keeps the flags the kernel itself reads (SA_NOCLDSTOP and
// SA_NOCLDWAIT when a child stops or exits, SA_ONSTACK, SA_NODEFER, sa_mask,
// SA_RESTART of a handler that interrupts system calls on purpose), and
// emulates SA_RESETHAND, which the kernel would apply to *our* handler.
// SIGCHLD set to SIG_IGN is stood in for with SA_NOCLDWAIT: the kernel
// still reaps the children, and (Linux) still sends SIGCHLD, which is
// counted (tests/regress/sigchld_watch_breaks_autoreap_test.cpp).
//
// The program's own sigaction(2)/signal(3) calls while a signal is watched
// do not replace ours: libkevent defines both (signal_chain.cpp), as
// Android's libsigchain does, and such a call only changes the disposition
// recorded here, which ours runs — so a kevent survives a later SIG_IGN,
// SIG_DFL or handler of the program (kevent_signal(7)).
//
// LOCKING: reg_mu guards the dispositions and the watcher counts, and is
// held across fork(2) (pthread_atfork) so a child never inherits it taken; the
// handler reads only atomics and the recorded disposition, which a chained
// sigaction of the program replaces while ours is installed: it writes the
// next of a few copies and then publishes its index (record_old), so a
// handler running meanwhile reads a whole one (SA_RESETHAND's one run is an
// atomic flag, not a change of it).
#include "origin/origin.hpp"
#include "origin/signal_chain.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <memory>
#include <mutex>
#include <new>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/poll.h>
#include <unistd.h>
#include <vector>

namespace kevent::detail::signal_origin {
namespace {

constexpr int max_signal = 65; // _NSIG on Linux

struct signal_slot {
	std::atomic<uint64_t> count{0};   // deliveries seen by the handler
	std::atomic<bool> consume{false}; // some watcher asked for NOMASK
	// SA_RESETHAND: the program's one-shot handler has been run; the
	// deliveries after it get the default action.
	std::atomic<bool> reset_done{false};
	int watchers = 0;        // reg_mu
	int nomask_watchers = 0; // reg_mu
	bool installed = false;  // reg_mu: ours stands in for old()
	// The program's disposition: before the first watcher, then what its
	// own sigaction calls set. Copies, published by index (LOCKING).
	static constexpr unsigned copies = 8;
	struct sigaction olds[copies] {};
	std::atomic<unsigned> old_index{0};
	const struct sigaction &old() const {
		return olds[old_index.load(std::memory_order_acquire) % copies];
	}
	void record_old(const struct sigaction &sa) {
		unsigned next = old_index.load(std::memory_order_relaxed) + 1;
		olds[next % copies] = sa;
		old_index.store(next, std::memory_order_release);
	}
};

signal_slot slots[max_signal];
std::mutex reg_mu;
// This thread holds reg_mu: a handler that interrupted it and calls
// sigaction goes straight to the kernel (chain() cannot take the lock).
thread_local bool holds_reg_mu __attribute__((tls_model("initial-exec"))) = false;
struct reg_lock {
	reg_lock() {
		reg_mu.lock();
		holds_reg_mu = true;
	}
	~reg_lock() {
		holds_reg_mu = false;
		reg_mu.unlock();
	}
	reg_lock(const reg_lock &) = delete;
	reg_lock &operator=(const reg_lock &) = delete;
};
std::atomic<int> notify_fd{-1}; // created once, lives as long as the process

// fork(2): the child has no watchers of its own — the queues it inherited
// are the parent's and never run their teardown there (docs/semantics.md,
// "fork(2)") — so it gets back the dispositions we stood in for, and a
// fresh eventfd at its first watcher rather than one shared with the parent
// (whose wake-ups would reach the other process's queues). The lock is held
// across fork: held by a parent thread that the child does not have, it
// would stay locked there for ever (tests/regress/
// signal_fork_child_hangs_test.cpp), and the counts would be half-changed.
// Nothing is taken while reg_mu is held, so no lock order.
void child_after_fork() {
	for (int sig = 1; sig < max_signal; sig++) {
		signal_slot &s = slots[sig];
		if (s.watchers > 0 && s.installed)
			real_sigaction(sig, &s.old(), nullptr);
		s.watchers = s.nomask_watchers = 0;
		s.installed = false;
		s.consume.store(false, std::memory_order_relaxed);
		s.reset_done.store(false, std::memory_order_relaxed);
	}
	if (int fd = notify_fd.exchange(-1); fd >= 0)
		::close(fd);
	reg_mu.unlock();
}
const int fork_hook =
	pthread_atfork([] { reg_mu.lock(); }, [] { reg_mu.unlock(); }, child_after_fork);

bool default_is_ignore(int sig) {
	return sig == SIGCHLD || sig == SIGCONT || sig == SIGURG || sig == SIGWINCH;
}

void handler(int sig, siginfo_t *info, void *ctx);

bool is_handler(const struct sigaction &sa) {
	return sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN;
}

// Ours, with the mask and the flags of the disposition it stands in for, so
// the kernel treats the process and the chained handler as it would have.
// SA_RESETHAND is done by hand in run_previous (the kernel would reset
// *our* handler); SA_SIGINFO is always ours (the chained handler gets what
// it asked for). `consumed`: a NOMASK watcher takes every delivery.
struct sigaction ours(int sig, const struct sigaction &old, bool consumed) {
	struct sigaction sa {};
	sa.sa_sigaction = handler;
	sa.sa_mask = old.sa_mask;
	constexpr int kept = SA_NODEFER | SA_ONSTACK | SA_NOCLDSTOP | SA_NOCLDWAIT;
	sa.sa_flags = SA_SIGINFO | (old.sa_flags & kept);
	// SIGCHLD ignored: the kernel reaps the children. Ours in its place
	// would leave zombies; SA_NOCLDWAIT keeps the reaping, and Linux
	// still sends the SIGCHLD, which is counted.
	if (sig == SIGCHLD && old.sa_handler == SIG_IGN)
		sa.sa_flags |= SA_NOCLDWAIT;
	// A program's handler without SA_RESTART is there to make a system
	// call fail with EINTR (an alarm() timeout); with no handler of the
	// program's to run (SIG_DFL, SIG_IGN, or consumed) nothing would have
	// interrupted one, so restart it.
	bool program_runs = is_handler(old) && !consumed;
	sa.sa_flags |= program_runs ? (old.sa_flags & SA_RESTART) : SA_RESTART;
	return sa;
}

// The disposition the kernel would hold now, had we never stood in: a
// one-shot handler that has run is SIG_DFL (Linux keeps the flags).
struct sigaction current_of(const signal_slot &s) {
	struct sigaction sa = s.old();
	if ((sa.sa_flags & SA_RESETHAND) && is_handler(sa) &&
	    s.reset_done.load(std::memory_order_acquire))
		sa.sa_handler = SIG_DFL;
	return sa;
}

// What the process would have done without us.
void run_previous(int sig, siginfo_t *info, void *ctx) {
	const struct sigaction &old = slots[sig].old();
	bool run_handler = is_handler(old);
	// One shot: the first delivery runs it, later ones the default, even
	// when two threads take the signal at once.
	if (run_handler && (old.sa_flags & SA_RESETHAND) &&
	    slots[sig].reset_done.exchange(true, std::memory_order_acq_rel))
		run_handler = false;
	if (run_handler) {
		if (old.sa_flags & SA_SIGINFO)
			old.sa_sigaction(sig, info, ctx);
		else
			old.sa_handler(sig);
		return;
	}
	if (old.sa_handler == SIG_IGN)
		return;
	if (default_is_ignore(sig))
		return;
	// The default action (terminate, core, stop): let the kernel do it.
	struct sigaction dfl {};
	dfl.sa_handler = SIG_DFL;
	real_sigaction(sig, &dfl, nullptr);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
	raise(sig);
	// Still here: it was a stop signal and we were continued.
	struct sigaction again = ours(sig, old, false); // not consumed: we ran it
	real_sigaction(sig, &again, nullptr);
}

void handler(int sig, siginfo_t *info, void *ctx) {
	int saved = errno;
	if (sig > 0 && sig < max_signal) {
		slots[sig].count.fetch_add(1, std::memory_order_release);
		uint64_t one = 1;
		ssize_t r = write(notify_fd.load(std::memory_order_acquire), &one, sizeof one);
		(void)r;
		if (!slots[sig].consume.load(std::memory_order_acquire))
			run_previous(sig, info, ctx);
	}
	errno = saved;
}

int signal_of(const ukevent &uk) { return static_cast<int>(uk.id.raw[0]); }
bool nomask(const ukevent &uk) { return (uk.id.raw_u64 & KEVENT_SIGNAL_NOMASK) != 0; }

// First watcher: save the disposition, install ours. 0 or -errno.
int watch_signal(int sig, bool consume) {
	(void)fork_hook;
	reg_lock lk;
	if (notify_fd.load() < 0) {
		int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (fd < 0)
			return -errno;
		notify_fd.store(fd, std::memory_order_release);
	}
	signal_slot &s = slots[sig];
	if (s.watchers == 0) {
		struct sigaction before {};
		if (real_sigaction(sig, nullptr, &before) < 0)
			return -errno;
		s.record_old(before);
		s.consume.store(consume, std::memory_order_release);
		s.reset_done.store(false, std::memory_order_release);
		struct sigaction sa = ours(sig, s.old(), consume);
		if (real_sigaction(sig, &sa, nullptr) < 0)
			return -errno;
		s.installed = true;
	} else if (consume && s.nomask_watchers == 0 && s.installed) {
		// From now on consumed: restart what the program's handler
		// (which no longer runs) would have interrupted.
		struct sigaction sa = ours(sig, s.old(), true);
		if (real_sigaction(sig, &sa, nullptr) < 0)
			return -errno;
	}
	s.watchers++;
	if (consume && s.nomask_watchers++ == 0)
		s.consume.store(true, std::memory_order_release);
	return 0;
}

// Last watcher gone: put back exactly what was there (or what the kernel
// would have made of it: a one-shot handler that ran is SIG_DFL).
void unwatch_signal(int sig, bool consume) {
	reg_lock lk;
	signal_slot &s = slots[sig];
	bool unconsumed = consume && --s.nomask_watchers == 0;
	if (unconsumed)
		s.consume.store(false, std::memory_order_release);
	if (--s.watchers == 0 && s.installed) {
		struct sigaction back = current_of(s);
		real_sigaction(sig, &back, nullptr);
		s.installed = false;
	} else if (unconsumed && s.installed) {
		// The program's handler runs again, with its own SA_RESTART.
		struct sigaction sa = ours(sig, s.old(), false);
		real_sigaction(sig, &sa, nullptr);
	}
}

// Per kevent: the handler's count when this queue last looked.
struct signal_ext final : origin_ext {
	uint64_t seen = 0;
	knode *node = nullptr;
};

// Per queue: the watch of the process-wide eventfd and the signal kevents.
struct signal_state final : origin_state, fd_source {
	explicit signal_state(origin_services &svc) : svc_(svc) {}
	~signal_state() override { svc_.unwatch_source(*this); }

	void on_ready(uint32_t) override {
		for (signal_ext *e : kevents) {
			uint64_t now =
				slots[signal_of(e->node->uk)].count.load(std::memory_order_acquire);
			if (now == e->seen)
				continue;
			uint64_t sum = e->node->uk.ret_data[0] + (now - e->seen);
			e->node->uk.ret_data[0] = sum > UINT32_MAX ? UINT32_MAX : uint32_t(sum);
			e->seen = now;
			svc_.make_ready(*e->node);
		}
	}

	origin_services &svc_;
	std::vector<signal_ext *> kevents;
};

} // namespace

bool chain(int sig, const struct sigaction *act, struct sigaction *oldact) {
	if (sig <= 0 || sig >= max_signal || holds_reg_mu)
		return false;
	reg_lock lk;
	signal_slot &s = slots[sig];
	if (!s.installed)
		return false;
	if (oldact)
		*oldact = current_of(s);
	if (act) {
		s.record_old(*act);
		s.reset_done.store(false, std::memory_order_release);
		// Ours again, with the flags of what it now stands in for.
		struct sigaction sa = ours(sig, s.old(), s.nomask_watchers > 0);
		if (real_sigaction(sig, &sa, nullptr) < 0)
			return false; // cannot happen for a watched signal; the kernel says why
	}
	return true;
}

int validate(const ukevent &uk) {
	int sig = signal_of(uk);
	if (uk.event != KEVENT_SIGNAL_DELIVERY ||
	    (uk.id.raw[1] & ~uint32_t(KEVENT_SIGNAL_NOMASK >> 32)))
		return EINVAL;
	if (sig <= 0 || sig > SIGRTMAX || sig >= max_signal || sig == SIGKILL || sig == SIGSTOP)
		return EINVAL;
	return 0;
}

int attach(origin_services &svc, knode &n, const ukevent &, bool &) {
	int sig = signal_of(n.uk);
	auto ext = std::make_unique<signal_ext>();
	auto &st = svc.per_queue_state(KEVENT_SIGNAL);
	std::unique_ptr<signal_state> fresh;
	if (!st)
		fresh = std::make_unique<signal_state>(svc);
	auto *state = fresh ? fresh.get() : static_cast<signal_state *>(st.get());
	// Every allocation before the handler goes in: out of memory after it
	// would leave the process's disposition changed (tests/regress/
	// signal_add_oom_keeps_handler_test.cpp).
	state->kevents.reserve(state->kevents.size() + 1);
	if (int r = watch_signal(sig, nomask(n.uk)); r < 0)
		return r;
	if (fresh) {
		int r;
		try {
			r = svc.watch_source(*fresh, notify_fd.load(), POLLIN);
		} catch (const std::bad_alloc &) {
			unwatch_signal(sig, nomask(n.uk));
			throw;
		}
		if (r < 0) {
			unwatch_signal(sig, nomask(n.uk));
			return r;
		}
		st = std::move(fresh);
	}
	ext->node = &n;
	// Deliveries before the ADD are not this kevent's.
	ext->seen = slots[sig].count.load(std::memory_order_acquire);
	state->kevents.push_back(ext.get());
	n.ext = ext.release();
	return 0;
}

void detach(origin_services &svc, knode &n) {
	auto *ext = static_cast<signal_ext *>(n.ext);
	if (!ext)
		return;
	auto &v = static_cast<signal_state *>(svc.per_queue_state(KEVENT_SIGNAL).get())->kevents;
	std::erase(v, ext);
	unwatch_signal(signal_of(n.uk), nomask(n.uk));
}

} // namespace kevent::detail::signal_origin
