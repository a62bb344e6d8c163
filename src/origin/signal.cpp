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
// LOCKING: reg_mu guards the dispositions and the watcher counts; the
// handler reads only atomics and the saved disposition, which is written
// before the handler is installed and not changed while it is.
#include "origin/origin.hpp"

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

namespace kevent::detail {
namespace {

constexpr int max_signal = 65; // _NSIG on Linux

struct signal_slot {
	std::atomic<uint64_t> count{0};   // deliveries seen by the handler
	std::atomic<bool> consume{false}; // some watcher asked for NOMASK
	int watchers = 0;                 // reg_mu
	int nomask_watchers = 0;          // reg_mu
	struct sigaction old {};          // disposition before the first watcher
};

signal_slot slots[max_signal];
std::mutex reg_mu;
std::atomic<int> notify_fd{-1}; // created once, lives as long as the process

// fork(2): the child has no watchers of its own — the queues it inherited
// are the parent's and never run their teardown there (docs/semantics.md,
// "fork(2)") — so it gets back the dispositions we stood in for, and a
// fresh eventfd at its first watcher rather than one shared with the parent
// (whose wake-ups would reach the other process's queues). The lock is held
// across fork so that the counts are not half-changed in the child.
void child_after_fork() {
	for (int sig = 1; sig < max_signal; sig++) {
		signal_slot &s = slots[sig];
		if (s.watchers > 0)
			sigaction(sig, &s.old, nullptr);
		s.watchers = s.nomask_watchers = 0;
		s.consume.store(false, std::memory_order_relaxed);
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

// Ours, with the mask and the flags of the disposition it stands in for, so
// the chained handler runs as it would have (SA_RESETHAND is done by hand in
// run_previous: the kernel would reset *our* handler).
struct sigaction ours(const struct sigaction &old) {
	struct sigaction sa {};
	sa.sa_sigaction = handler;
	sa.sa_mask = old.sa_mask;
	sa.sa_flags = SA_SIGINFO | SA_RESTART | (old.sa_flags & (SA_NODEFER | SA_ONSTACK));
	return sa;
}

// What the process would have done without us.
void run_previous(int sig, siginfo_t *info, void *ctx) {
	struct sigaction &old = slots[sig].old;
	if (old.sa_flags & SA_RESETHAND) {
		// One shot: this delivery runs it, later ones the default.
		struct sigaction once = old;
		old.sa_handler = SIG_DFL;
		old.sa_flags &= ~(SA_SIGINFO | SA_RESETHAND);
		if (once.sa_flags & SA_SIGINFO) {
			if (once.sa_sigaction)
				once.sa_sigaction(sig, info, ctx);
			return;
		}
		if (once.sa_handler != SIG_IGN && once.sa_handler != SIG_DFL) {
			once.sa_handler(sig);
			return;
		}
	}
	if (old.sa_flags & SA_SIGINFO) {
		if (old.sa_sigaction)
			old.sa_sigaction(sig, info, ctx);
		return;
	}
	if (old.sa_handler == SIG_IGN)
		return;
	if (old.sa_handler != SIG_DFL) {
		old.sa_handler(sig);
		return;
	}
	if (default_is_ignore(sig))
		return;
	// The default action (terminate, core, stop): let the kernel do it.
	struct sigaction dfl {};
	dfl.sa_handler = SIG_DFL;
	sigaction(sig, &dfl, nullptr);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
	raise(sig);
	// Still here: it was a stop signal and we were continued.
	struct sigaction again = ours(old);
	sigaction(sig, &again, nullptr);
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
	std::lock_guard lk(reg_mu);
	if (notify_fd.load() < 0) {
		int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (fd < 0)
			return -errno;
		notify_fd.store(fd, std::memory_order_release);
	}
	signal_slot &s = slots[sig];
	if (s.watchers == 0) {
		if (sigaction(sig, nullptr, &s.old) < 0)
			return -errno;
		struct sigaction sa = ours(s.old);
		s.consume.store(consume, std::memory_order_release);
		if (sigaction(sig, &sa, nullptr) < 0)
			return -errno;
	}
	s.watchers++;
	if (consume && s.nomask_watchers++ == 0)
		s.consume.store(true, std::memory_order_release);
	return 0;
}

// Last watcher gone: put back exactly what was there.
void unwatch_signal(int sig, bool consume) {
	std::lock_guard lk(reg_mu);
	signal_slot &s = slots[sig];
	if (consume && --s.nomask_watchers == 0)
		s.consume.store(false, std::memory_order_release);
	if (--s.watchers == 0)
		sigaction(sig, &s.old, nullptr);
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
	auto &st = svc.state(KEVENT_SIGNAL);
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
	auto &v = static_cast<signal_state *>(svc.state(KEVENT_SIGNAL).get())->kevents;
	std::erase(v, ext);
	unwatch_signal(signal_of(n.uk), nomask(n.uk));
}

} // namespace

const origin_ops signal_origin = {
	.name = "signal",
	.uses_fd = false,
	.watches_sources = false,
	.validate = validate,
	.attach = attach,
	.detach = detach,
};

} // namespace kevent::detail
