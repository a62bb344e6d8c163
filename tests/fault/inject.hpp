// SPDX-License-Identifier: MIT
// inject.hpp — fault injection for the test executables of tests/fault and
// tests/regress (issue 8, part 3).
//
// How: the tests link libkevent statically, so a definition of epoll_ctl,
// eventfd, ... in the test executable wins over libc's for the library's
// calls too (inject.cpp); it forwards to the next definition (libc, or a
// sanitizer's interceptor) through dlsym(RTLD_NEXT). operator new is
// replaced as well. Nothing in src/ changes.
//
// Every interposed call is a *fault point*. A scenario runs once armed but
// without a fault (the dry run counts the points it reaches: N), then once
// for every k in 1..N and every errno its point can give, failing exactly
// the k-th point. Only the thread that armed the injector counts, and only
// while armed: gtest's own allocations between calls are never failed.
//
// Adding a fault point is one line in KEVENT_FAULT_POINTS plus, for a
// libc function, a three-line interposer in inject.cpp. Calls that cannot
// be interposed (liburing's inline io_uring_enter) reach the injector
// through kevent_fault_hit(), a C function the test executable defines:
// the backend declares it weak and calls it when it is there, e.g.
//   extern "C" __attribute__((weak)) int kevent_fault_hit(const char *point);
//   if (kevent_fault_hit) if (int e = kevent_fault_hit("io_uring_enter")) return -e;
// (it returns the errno to fail with, or 0).
#pragma once

#include <cerrno>
#include <cstddef>
#include <string>

// name, errnos the kernel (or the allocator) can give there. Only failures
// the real call can produce are injected: epoll_ctl fails with ENOMEM/ENOSPC
// only where it allocates (an ADD of a new item; the kernel's EEXIST check
// comes first), timerfd_settime cannot fail for want of memory at all, but
// is kept (as ENOMEM: the worst it could do) so that a lost deadline shows.
#define KEVENT_FAULT_POINTS(X)                                                  \
	X(alloc, ENOMEM) /* operator new: std::bad_alloc */                     \
	X(epoll_create1, EMFILE, ENOMEM)                                        \
	X(epoll_ctl_add, ENOMEM, ENOSPC) /* EPOLL_CTL_ADD of a new item only */ \
	X(eventfd, EMFILE, ENOMEM)                                              \
	X(timerfd_create, EMFILE, ENOMEM)                                       \
	X(timerfd_settime, ENOMEM)                                              \
	X(signalfd, EMFILE, ENOMEM)                                             \
	X(inotify_init1, EMFILE, ENOMEM)                                        \
	X(inotify_add_watch, ENOSPC, ENOMEM)                                    \
	X(pidfd_open, EMFILE, ENOMEM) /* syscall(SYS_pidfd_open, ...) */        \
	X(memfd_create, EMFILE, ENOMEM)                                         \
	X(ftruncate, ENOSPC)                                                    \
	X(mmap, ENOMEM)                                                         \
	X(fcntl_dupfd, EMFILE) /* F_DUPFD, F_DUPFD_CLOEXEC */                   \
	X(open, EMFILE, ENFILE, ENOMEM)                                         \
	X(io_uring_setup, EMFILE, ENOMEM) /* through kevent_fault_hit() */      \
	X(io_uring_enter, ENOMEM, EAGAIN) /* through kevent_fault_hit() */

namespace kevent_fault {

enum class point : int {
#define KEVENT_FAULT_ENUM(name, ...) name,
	KEVENT_FAULT_POINTS(KEVENT_FAULT_ENUM)
#undef KEVENT_FAULT_ENUM
		count
};

const char *name_of(point p);
// How many errnos point p can fail with, and the i-th of them.
int variants_of(point p);
int errno_of(point p, int variant);

// The injector's state for the calling thread.
// arm(0, 0): count only. arm(k, v): fail the k-th point with its v-th errno
// (v modulo its number of errnos).
void arm(long fail_at, int variant);
// Stop counting; returns the number of points reached since arm().
long disarm();
// The points the last armed run reached (what disarm() returned).
long reached();
// Did the armed run fail a point? Which, and with what errno?
bool fired();
point fired_point();
int fired_errno();
// Called by the interposers: the errno to fail this call with, or 0.
int hit(point p);

// The k-th point (1-based) reached since arm(): after a dry run, which
// point a fault at k will hit (so the runner knows its errnos).
point traced(long k);

// RAII arm/disarm around the one call a scenario exercises.
class armed {
public:
	armed(long fail_at, int variant) { arm(fail_at, variant); }
	~armed() { calls = disarm(); }
	armed(const armed &) = delete;
	armed &operator=(const armed &) = delete;
	long calls = 0;
};

// Open descriptors of this process (/proc/self/fd), to prove a run leaked
// none.
int open_fds();

// "epoll_ctl_add k=3 ENOSPC" for failure messages.
std::string describe();

} // namespace kevent_fault

extern "C" int kevent_fault_hit(const char *point);
