// SPDX-License-Identifier: MIT
// epoll backend.
//
// Kernel behaviours this file depends on (checked on Linux 5.10+):
// - EPOLLET: every wake-up of the file's wait queue is a new edge (new data on
//   a socket re-reports even when older data is unread) — the patches'
//   default mode. epoll re-polls the file when it reports, so reported bits
//   are current (our ET check).
// - EPOLL_CTL_ADD/MOD poll the file at once and queue it if ready, so one
//   epoll_wait(0) after a batch of ADDs learns which are ready.
// - An epoll item lives as long as the *file*: close(fd) with a dup elsewhere
//   keeps reporting (tokens carry a generation so stale reports are dropped).
// - An eventfd watched level-triggered keeps the epoll file readable while its
//   count is non-zero: our "ready list not empty" flag for nested pollers.
//   A second eventfd, edge-triggered, is the wake-up: every write is a new
//   edge, so it is never read and a wake-up can never be cleared away.
// - EPOLL_CTL_ADD of an fd already in the set fails with EEXIST, with no side
//   effect: adding our private wake eventfd to the number the caller gives us
//   tells at the price of one cheap syscall (half of kcmp(2)'s) whether the
//   number is still our epoll file (EEXIST), another epoll file (success: we
//   take it out again; events 0 means it could never have been reported),
//   not an epoll file (EINVAL) or not open (EBADF). The same trick the other
//   way round (add fd to our set) tells whether a watched number still names
//   the file we watch: epoll items are keyed by (file, number), and fstat
//   cannot tell two eventfds apart (one anonymous inode for all).
// - EPOLLEXCLUSIVE (4.5): of several epoll files watching one file, only
//   one with a waiter is woken per event — our default for several queues on
//   one object (KEVENT_REQ_WAKEUP_ALL turns it off). It cannot be MODified
//   (DEL + ADD instead) and epoll files refuse it (EINVAL: we retry without).
// - EPOLLONESHOT: the item reports once more at most, then stays disabled
//   (not even EPOLLERR/EPOLLHUP) until an EPOLL_CTL_MOD: how a parked level
//   watch (watch_mode::oneshot) goes quiet without leaving the set, where
//   a DEL and a later ADD could meet another file under the same number.
//   It excludes EPOLLEXCLUSIVE (EINVAL), so such a watch is not exclusive.
//   The same with no event bits at all (the kernel adds EPOLLERR|EPOLLHUP)
//   is how the watch of a REMOVEd fd stays in the set, silent (quiet()).
// - EPOLL_CTL_MOD finds its item by (file, number) like ADD: it fails with
//   ENOENT when the number now names another file and EBADF when it is
//   closed, so re-arming a kept watch also checks that the number still
//   names the file (watch_table: a REMOVE then ADD of one socket is two
//   EPOLL_CTL_MODs, no fstat).
// - epoll_pwait2 (5.11) gives nanosecond timeouts; before it, milliseconds
//   rounded up.
// - timerfd with TFD_TIMER_ABSTIME, one per clock, watched edge-triggered:
//   re-arming resets it, so it is never read.
#include "backend/backend.hpp"
#include "backend/epoll_probe.hpp"
#include "sys/unique_fd.hpp"

#include <kevent/kevent.h>

#include <cerrno>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

namespace kevent::detail {
namespace {

// The backend's own tokens (backend_own_bit: the layout in backend.hpp); the
// wake and ready eventfds are the base's (backend::open_descriptor).
constexpr uint64_t wake_token = own_token(own_wake);
constexpr uint64_t timer_token = own_token(own_deadline);

constexpr clockid_t clock_ids[clock_count] = {CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME};

class epoll_backend final : public backend {
public:
	epoll_backend() : backend(KEVENT_BACKEND_EPOLL) {}

	// The queue's descriptor is the set of watches too (watch_set_).
	int init() {
		int r = open_descriptor();
		watch_set_ = epfd_.get();
		return r;
	}

	// epoll refuses EPOLLEXCLUSIVE beside any bit but these (the kernel's
	// EPOLLEXCLUSIVE_OK_BITS, less the flags): a RECV socket's EPOLLRDHUP or
	// a POLL kevent's POLLPRI/POLLRDNORM is watched without it. Knowing so
	// saves a failed EPOLL_CTL_ADD per such watch, and lets a re-arm of one
	// be an EPOLL_CTL_MOD rather than a DEL and an ADD.
	static bool kernel_exclusive(const watch_mode &m) {
		constexpr uint32_t exclusive_ok = EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP;
		return m.exclusive && !m.oneshot && (m.events & ~exclusive_ok) == 0;
	}

	int watch(int fd, const watch_mode &want, const watch_mode *was, uint64_t token) override {
		epoll_event ev{};
		ev.events = want.events | (want.level ? 0u : unsigned(EPOLLET)) |
			    (want.oneshot ? unsigned(EPOLLONESHOT) : 0u);
		ev.data.u64 = token;
		if (was && !kernel_exclusive(*was) && !kernel_exclusive(want)) {
			count();
			return epoll_ctl(epfd_.get(), EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
		}
		// EPOLLEXCLUSIVE cannot be changed by EPOLL_CTL_MOD: take the
		// watch out and put it back.
		if (was) {
			count();
			if (epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, fd, nullptr) < 0)
				return -errno;
		}
		count();
		if (kernel_exclusive(want)) {
			epoll_event ex = ev;
			ex.events |= EPOLLEXCLUSIVE;
			int r = add_fresh(fd, ex);
			if (r != -EINVAL)
				return r;
			count(); // an epoll file (a nested queue) refuses EXCLUSIVE
		}
		return add_fresh(fd, ev);
	}

	// EPOLL_CTL_ADD for a number no watch holds. EEXIST then means a stale
	// item of this very (file, number): the number was closed while a dup
	// kept the file open, so the DEL of its old watch failed (EBADF) and
	// the item stayed; now the number names the file again (dup2). It is
	// taken out and added anew (libevent's regress dup_fd).
	int add_fresh(int fd, epoll_event &ev) {
		if (epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, fd, &ev) == 0)
			return 0;
		if (errno != EEXIST)
			return -errno;
		count();
		epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, fd, nullptr);
		count();
		return epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
	}

	// An item whose events are only EPOLLONESHOT (the kernel adds ERR and
	// HUP) reports a hang-up once at most, then nothing until the next
	// EPOLL_CTL_MOD: the watch of a REMOVEd fd, kept so that an ADD of the
	// same file is one EPOLL_CTL_MOD — no EPOLL_CTL_DEL before it. A
	// close(2) meanwhile leaves a silent item (the kernel drops it with
	// the file) that can steal no wake-up, as it is not exclusive; an
	// exclusive item cannot be MODified at all.
	int quiet(int fd, const watch_mode &was, uint64_t token) override {
		if (kernel_exclusive(was))
			return -EOPNOTSUPP;
		epoll_event ev{};
		ev.events = EPOLLET | EPOLLONESHOT;
		ev.data.u64 = token;
		count();
		return epoll_ctl(epfd_.get(), EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
	}

	int unwatch(int fd) override {
		count();
		if (epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, fd, nullptr) < 0)
			return -errno;
		return 0;
	}

	int wait(backend_event *out, int max, int64_t timeout_ns, bool &woken) override {
		constexpr int batch = 256;
		epoll_event evs[batch];
		int n = max < batch ? max : batch;
		count();
		int r = pwait(evs, n, timeout_ns);
		if (r < 0)
			return -errno; // EINTR included: the caller returns to its user
		int k = 0;
		for (int i = 0; i < r; i++) {
			if (evs[i].data.u64 & backend_own_bit) {
				// wake-ups and deadlines only end the wait
				woken |= evs[i].data.u64 == wake_token;
				continue;
			}
			out[k++] = backend_event{evs[i].data.u64, evs[i].events};
		}
		return k;
	}

	int arm_deadline(clock_kind clock, int64_t abs_ns) override {
		int c = static_cast<int>(clock);
		if (!timerfd_[c]) {
			timerfd_[c].reset(timerfd_create(clock_ids[c], TFD_CLOEXEC | TFD_NONBLOCK));
			if (!timerfd_[c])
				return -errno;
			epoll_event ev{};
			ev.events = EPOLLIN | EPOLLET;
			ev.data.u64 = timer_token;
			if (epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, timerfd_[c].get(), &ev) < 0) {
				int e = errno;
				timerfd_[c].reset();
				return -e;
			}
		}
		itimerspec its{};
		if (abs_ns <= 0)
			abs_ns = 1; // "already due": an all-zero value would disarm
		its.it_value.tv_sec = abs_ns / 1000000000;
		its.it_value.tv_nsec = abs_ns % 1000000000;
		count();
		if (timerfd_settime(timerfd_[c].get(), TFD_TIMER_ABSTIME, &its, nullptr) < 0)
			return -errno;
		return 0;
	}

	void close_inherited() noexcept override {
		// The timerfds are made on first use, maybe after the child's
		// descriptor table was copied: only a number that still names
		// the file in our set is ours to close.
		for (auto &t : timerfd_)
			if (t && epoll_probe(epfd_.get(), t.get()) == descriptor_match::same)
				::close(t.release());
		close_inherited_descriptor();
	}

private:
	// glibc's wrappers, not syscall(): they are cancellation points, so
	// pthread_cancel can end a thread blocked here (docs/semantics.md,
	// "Threads": kevent_get_events is a cancellation point while it blocks).
	int pwait(epoll_event *evs, int n, int64_t timeout_ns) {
		if (have_pwait2_) {
			timespec ts{};
			timespec *tp = nullptr;
			if (timeout_ns >= 0) {
				ts.tv_sec = timeout_ns / 1000000000;
				ts.tv_nsec = timeout_ns % 1000000000;
				tp = &ts;
			}
			int r = epoll_pwait2(epfd_.get(), evs, n, tp, nullptr);
			if (r >= 0 || errno != ENOSYS)
				return r;
			have_pwait2_ = false;
		}
		int ms = -1;
		if (timeout_ns >= 0) {
			int64_t m = (timeout_ns + 999999) / 1000000; // round up: never early
			ms = m > INT32_MAX ? INT32_MAX : static_cast<int>(m);
		}
		return epoll_wait(epfd_.get(), evs, n, ms);
	}

	sys::unique_fd timerfd_[clock_count];
	bool have_pwait2_ = true;
};

} // namespace

std::unique_ptr<backend> make_epoll_backend(int &err) {
	auto b = std::make_unique<epoll_backend>();
	err = b->init();
	if (err < 0)
		return nullptr;
	return b;
}

} // namespace kevent::detail
