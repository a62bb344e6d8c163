// SPDX-License-Identifier: MIT
// signal_chain — libkevent's sigaction(2), signal(3) and bsd_signal(3). A
// program (or a library: libevent sets SIG_IGN right after adding its
// signal) that sets a disposition for a signal a SIGNAL kevent watches would
// replace the origin's handler and silently end the kevent. These
// definitions come before the C library's in symbol lookup (the program
// links libkevent; libc comes last), as Android's libsigchain's do, so the
// call only records the disposition, which the origin's handler runs
// (signal.cpp); for a signal nobody watches they are the C library's.
// libkevent.so exports them in the C library's own version node (generated
// kevent.map), else references bound to sigaction@GLIBC_* in other
// libraries would pass it by. Not chained: the raw rt_sigaction system
// call, sigset(3), sysv_signal(3), and the C library's internal calls
// (system(3), posix_spawn(3)) — kevent_signal(7).
//
// LOCKING: none here; chain() takes the origin's lock (signal.cpp).
#include "origin/signal_chain.hpp"

#include <atomic>
#include <cerrno>
#include <dlfcn.h>

extern "C" int __sigaction(int, const struct sigaction *, struct sigaction *);

namespace kevent::detail::signal_origin {
namespace {

using sigaction_fn = int (*)(int, const struct sigaction *, struct sigaction *);
using signal_fn = sighandler_t (*)(int, sighandler_t);

// The next definition: the C library's, or a sanitizer's interceptor that
// comes between. A static program has no dynamic lookup: glibc's own.
sigaction_fn next_sigaction() {
	static std::atomic<sigaction_fn> fn{nullptr};
	sigaction_fn f = fn.load(std::memory_order_acquire);
	if (!f) {
		f = reinterpret_cast<sigaction_fn>(dlsym(RTLD_NEXT, "sigaction"));
		if (!f)
			f = __sigaction;
		fn.store(f, std::memory_order_release);
	}
	return f;
}

signal_fn next_signal() {
	static std::atomic<signal_fn> fn{nullptr};
	signal_fn f = fn.load(std::memory_order_acquire);
	if (!f) {
		f = reinterpret_cast<signal_fn>(dlsym(RTLD_NEXT, "signal"));
		fn.store(f, std::memory_order_release);
	}
	return f;
}

} // namespace

int real_sigaction(int sig, const struct sigaction *act, struct sigaction *oldact) {
	return next_sigaction()(sig, act, oldact);
}

} // namespace kevent::detail::signal_origin

namespace so = kevent::detail::signal_origin;

extern "C" {

__attribute__((visibility("default"))) int sigaction(int sig, const struct sigaction *act,
						     struct sigaction *oldact) {
	if (so::chain(sig, act, oldact))
		return 0;
	return so::real_sigaction(sig, act, oldact);
}

// signal(3) as glibc's (BSD semantics: SA_RESTART, the signal blocked in
// its handler), through the sigaction above when the signal is watched.
__attribute__((visibility("default"))) sighandler_t signal(int sig, sighandler_t handler) {
	if (handler == SIG_ERR || sig <= 0 || sig >= NSIG) {
		errno = EINVAL;
		return SIG_ERR;
	}
	struct sigaction act {
	}, old{};
	act.sa_handler = handler;
	sigemptyset(&act.sa_mask);
	sigaddset(&act.sa_mask, sig);
	act.sa_flags = SA_RESTART;
	if (so::chain(sig, &act, &old))
		return old.sa_handler;
	if (so::signal_fn f = so::next_signal())
		return f(sig, handler); // keeps siginterrupt(3)'s choice
	if (so::real_sigaction(sig, &act, &old) < 0)
		return SIG_ERR;
	return old.sa_handler;
}

__attribute__((visibility("default"))) sighandler_t bsd_signal(int sig, sighandler_t handler) {
	return signal(sig, handler);
}

} // extern "C"
