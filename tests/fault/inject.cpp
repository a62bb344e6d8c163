// SPDX-License-Identifier: MIT
// inject.cpp — the interposers and the replacement operator new behind
// inject.hpp. Linked as an object library into the executables of
// tests/fault and tests/regress, so its definitions are in the executable
// and win over libc's for libkevent's calls (libkevent.a is linked in).
//
// Each interposer asks hit() first; 0 means "do the real call", which is
// the next definition in lookup order (libc, or a sanitizer interceptor in
// front of it). The state is thread-local and plain (constant-initialised,
// no allocation): operator new runs through here, and a library thread
// never sees the test thread's plan.
#include "inject.hpp"

#include <array>
#include <atomic>
#include <cstdarg>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <dlfcn.h>
#include <execinfo.h>
#include <fcntl.h>
#include <new>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

namespace kevent_fault {
namespace {

struct point_info {
	const char *name;
	std::array<int, 4> errnos;
	int variants;
};

#define KEVENT_FAULT_INFO(name, ...) \
	point_info{#name,            \
		   {__VA_ARGS__},    \
		   static_cast<int>(std::initializer_list<int>{__VA_ARGS__}.size())},
constexpr point_info infos[] = {KEVENT_FAULT_POINTS(KEVENT_FAULT_INFO)};
#undef KEVENT_FAULT_INFO

constexpr long max_trace = 1 << 14;

// Constant-initialised: no TLS guard, no allocation on first use.
struct state {
	bool armed;
	long calls;
	long fail_at;
	int variant;
	bool fired;
	point fired_point;
	int fired_errno;
	point trace[max_trace];
};
thread_local state t;

// The next definition of `name` after ours (libc's, or an interceptor's),
// looked up once into `slot`. No function-local static: its guard is a
// call TSan intercepts, and TSan's runtime calls mmap (ours) while it
// starts, before it can take such a call. Two threads racing here store
// the same pointer.
template <class F> F next(std::atomic<void *> &slot, const char *name) {
	void *p = slot.load(std::memory_order_relaxed);
	if (!p) {
		p = dlsym(RTLD_NEXT, name);
		if (!p)
			std::abort(); // cannot forward: nothing sensible to do
		slot.store(p, std::memory_order_relaxed);
	}
	return reinterpret_cast<F>(p);
}

} // namespace

const char *name_of(point p) { return infos[static_cast<int>(p)].name; }
int variants_of(point p) { return infos[static_cast<int>(p)].variants; }
int errno_of(point p, int variant) {
	const point_info &i = infos[static_cast<int>(p)];
	return i.errnos[static_cast<size_t>(variant % i.variants)];
}

void arm(long fail_at, int variant) {
	t.calls = 0;
	t.fail_at = fail_at;
	t.variant = variant;
	t.fired = false;
	t.armed = true;
}

long disarm() {
	t.armed = false;
	return t.calls;
}

long reached() { return t.calls; }

bool fired() { return t.fired; }
point fired_point() { return t.fired_point; }
int fired_errno() { return t.fired_errno; }
point traced(long k) { return k >= 1 && k <= max_trace ? t.trace[k - 1] : point::count; }

int hit(point p) {
	if (!t.armed)
		return 0;
	long k = ++t.calls;
	if (k <= max_trace)
		t.trace[k - 1] = p;
	if (k != t.fail_at)
		return 0;
	t.fired = true;
	t.fired_point = p;
	t.fired_errno = errno_of(p, t.variant);
	if (std::getenv("KEVENT_FAULT_BACKTRACE")) {
		// Where did it fail? (for whoever debugs a red run; unarmed
		// meanwhile: backtrace() may allocate the first time)
		t.armed = false;
		void *frames[32];
		int n = backtrace(frames, 32);
		backtrace_symbols_fd(frames, n, 2);
		t.armed = true;
	}
	return t.fired_errno;
}

int open_fds() {
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	int n = 0;
	while (dirent *e = readdir(d))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; // the directory's own descriptor
}

std::string describe() {
	if (!t.fired)
		return "no fault fired (k=" + std::to_string(t.fail_at) + ")";
	return std::string(name_of(t.fired_point)) + " k=" + std::to_string(t.fail_at) + " " +
	       strerrorname_np(t.fired_errno);
}

} // namespace kevent_fault

using kevent_fault::hit;
using kevent_fault::point;

// Fail with e: -1 and errno, as the libc wrapper would.
#define KEVENT_FAULT_FAIL(pt, failed) \
	if (int e_ = hit(pt)) {       \
		errno = e_;           \
		return failed;        \
	}

extern "C" {

int kevent_fault_hit(const char *name) {
	for (int i = 0; i < static_cast<int>(point::count); i++)
		if (std::strcmp(name, kevent_fault::infos[i].name) == 0)
			return hit(static_cast<point>(i));
	return 0;
}

int epoll_create1(int flags) noexcept {
	static std::atomic<void *> slot;
	auto real = kevent_fault::next<int (*)(int)>(slot, "epoll_create1");
	KEVENT_FAULT_FAIL(point::epoll_create1, -1);
	return real(flags);
}

// Only EPOLL_CTL_ADD allocates in the kernel (ep_insert), and only after it
// has checked that the item is new: a fault makes the real call first, and
// an ADD that succeeded is taken out again before failing — what the caller
// sees is exactly an allocation failure of that ADD.
int epoll_ctl(int ep, int op, int fd, struct epoll_event *ev) noexcept {
	static std::atomic<void *> slot;
	auto real = kevent_fault::next<int (*)(int, int, int, epoll_event *)>(slot, "epoll_ctl");
	if (op != EPOLL_CTL_ADD)
		return real(ep, op, fd, ev);
	int e = hit(point::epoll_ctl_add);
	int r = real(ep, op, fd, ev);
	if (!e || r < 0)
		return r;
	real(ep, EPOLL_CTL_DEL, fd, nullptr);
	errno = e;
	return -1;
}

int eventfd(unsigned int count, int flags) noexcept {
	static std::atomic<void *> slot;
	auto real = kevent_fault::next<int (*)(unsigned, int)>(slot, "eventfd");
	KEVENT_FAULT_FAIL(point::eventfd, -1);
	return real(count, flags);
}

int timerfd_create(int clock, int flags) noexcept {
	static std::atomic<void *> slot;
	auto real = kevent_fault::next<int (*)(int, int)>(slot, "timerfd_create");
	KEVENT_FAULT_FAIL(point::timerfd_create, -1);
	return real(clock, flags);
}

int timerfd_settime(int fd, int flags, const struct itimerspec *v,
		    struct itimerspec *old) noexcept {
	using settime_fn = int (*)(int, int, const itimerspec *, itimerspec *);
	static std::atomic<void *> slot;
	auto real = kevent_fault::next<settime_fn>(slot, "timerfd_settime");
	KEVENT_FAULT_FAIL(point::timerfd_settime, -1);
	return real(fd, flags, v, old);
}

int signalfd(int fd, const sigset_t *mask, int flags) noexcept {
	static std::atomic<void *> slot;
	auto real = kevent_fault::next<int (*)(int, const sigset_t *, int)>(slot, "signalfd");
	KEVENT_FAULT_FAIL(point::signalfd, -1);
	return real(fd, mask, flags);
}

int inotify_init1(int flags) noexcept {
	static std::atomic<void *> slot;
	auto real = kevent_fault::next<int (*)(int)>(slot, "inotify_init1");
	KEVENT_FAULT_FAIL(point::inotify_init1, -1);
	return real(flags);
}

int inotify_add_watch(int fd, const char *path, uint32_t mask) noexcept {
	using add_watch_fn = int (*)(int, const char *, uint32_t);
	static std::atomic<void *> slot;
	auto real = kevent_fault::next<add_watch_fn>(slot, "inotify_add_watch");
	KEVENT_FAULT_FAIL(point::inotify_add_watch, -1);
	return real(fd, path, mask);
}

int memfd_create(const char *name, unsigned int flags) noexcept {
	static std::atomic<void *> slot;
	auto real = kevent_fault::next<int (*)(const char *, unsigned)>(slot, "memfd_create");
	KEVENT_FAULT_FAIL(point::memfd_create, -1);
	return real(name, flags);
}

int ftruncate(int fd, off_t len) noexcept {
	static std::atomic<void *> slot;
	auto real = kevent_fault::next<int (*)(int, off_t)>(slot, "ftruncate");
	KEVENT_FAULT_FAIL(point::ftruncate, -1);
	return real(fd, len);
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) noexcept {
	using mmap_fn = void *(*)(void *, size_t, int, int, int, off_t);
	static std::atomic<void *> slot;
	auto real = kevent_fault::next<mmap_fn>(slot, "mmap");
	KEVENT_FAULT_FAIL(point::mmap, MAP_FAILED);
	return real(addr, len, prot, flags, fd, off);
}

// fcntl and open are variadic: the one optional argument is an int (or a
// pointer, for the fcntl commands that take one); passing it on as a
// pointer-sized integer is what glibc's own wrappers do.
int fcntl(int fd, int cmd, ...) {
	static std::atomic<void *> slot;
	auto real = kevent_fault::next<int (*)(int, int, ...)>(slot, "fcntl");
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)
		KEVENT_FAULT_FAIL(point::fcntl_dupfd, -1);
	return real(fd, cmd, arg);
}

int open(const char *path, int flags, ...) {
	static std::atomic<void *> slot;
	auto real = kevent_fault::next<int (*)(const char *, int, ...)>(slot, "open");
	va_list ap;
	va_start(ap, flags);
	bool has_mode = (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
	mode_t mode = has_mode ? va_arg(ap, mode_t) : 0;
	va_end(ap);
	KEVENT_FAULT_FAIL(point::open, -1);
	return real(path, flags, mode);
}

// pidfd_open has no glibc wrapper in Debian 12's headers: src/origin/proc.cpp
// calls syscall(2). Six register-sized arguments are what the kernel takes.
// Defined under another C++ name with the assembler name "syscall": glibc
// declares syscall() nothrow, and a noexcept frame here would end the process
// when pthread_cancel unwinds from the io_uring backend's blocking
// io_uring_enter, which it makes through syscall() with asynchronous
// cancellation (tests/regress/cancel_in_get_events_aborts_test).
long interposed_syscall(long nr, ...) __asm__("syscall");
long interposed_syscall(long nr, ...) {
	static std::atomic<void *> slot;
	auto real = kevent_fault::next<long (*)(long, ...)>(slot, "syscall");
	va_list ap;
	va_start(ap, nr);
	long a[6];
	for (long &x : a)
		x = va_arg(ap, long);
	va_end(ap);
	if (nr == SYS_pidfd_open)
		KEVENT_FAULT_FAIL(point::pidfd_open, -1);
	return real(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

} // extern "C"

// ---- allocation -------------------------------------------------------------
// Every operator new the library (and the standard library inside it)
// reaches; malloc itself is left alone (the sanitizers own it).

namespace {

void *allocate(std::size_t n, std::size_t align) {
	if (hit(point::alloc))
		return nullptr;
	if (n == 0)
		n = 1;
	if (align <= alignof(std::max_align_t))
		return std::malloc(n);
	return std::aligned_alloc(align, (n + align - 1) / align * align);
}

void *allocate_or_throw(std::size_t n, std::size_t align) {
	void *p = allocate(n, align);
	if (!p)
		throw std::bad_alloc();
	return p;
}

} // namespace

void *operator new(std::size_t n) { return allocate_or_throw(n, 0); }
void *operator new[](std::size_t n) { return allocate_or_throw(n, 0); }
void *operator new(std::size_t n, std::align_val_t a) {
	return allocate_or_throw(n, static_cast<std::size_t>(a));
}
void *operator new[](std::size_t n, std::align_val_t a) {
	return allocate_or_throw(n, static_cast<std::size_t>(a));
}
void *operator new(std::size_t n, const std::nothrow_t &) noexcept { return allocate(n, 0); }
void *operator new[](std::size_t n, const std::nothrow_t &) noexcept { return allocate(n, 0); }
void *operator new(std::size_t n, std::align_val_t a, const std::nothrow_t &) noexcept {
	return allocate(n, static_cast<std::size_t>(a));
}
void *operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t &) noexcept {
	return allocate(n, static_cast<std::size_t>(a));
}
void operator delete(void *p) noexcept { std::free(p); }
void operator delete[](void *p) noexcept { std::free(p); }
void operator delete(void *p, std::size_t) noexcept { std::free(p); }
void operator delete[](void *p, std::size_t) noexcept { std::free(p); }
void operator delete(void *p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void *p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void *p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void *p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void *p, const std::nothrow_t &) noexcept { std::free(p); }
void operator delete[](void *p, const std::nothrow_t &) noexcept { std::free(p); }
