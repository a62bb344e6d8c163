// SPDX-License-Identifier: MIT
// cancel — where pthread_cancel may act inside the library.
//
// kevent_get_events(3) and kevent_wait(3) are cancellation points *while they
// block*, and a cancelled waiter loses no event. Anywhere else a deferred
// cancellation acting at a libc call (read, write, poll, close ...) would
// unwind out of half-done work: through a noexcept function (the process
// aborts: "terminate called without an active exception"), or with a kevent
// taken off the ready list and not yet copied out (it is lost). So every C
// entry point runs with cancellation disabled (no_cancel, in guarded()), and
// the wait loop opens a window (cancel_window) around its two blocking waits
// only, restoring what the caller had (tests/regress/
// cancel_in_get_events_aborts_test).
#pragma once

#include <pthread.h>

#if defined(__SANITIZE_ADDRESS__)
#define KEVENT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KEVENT_ASAN 1
#endif
#endif
#ifdef KEVENT_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace kevent::sys {

// The caller's cancelability state when it entered the library.
inline thread_local int entry_cancel_state = PTHREAD_CANCEL_ENABLE;

class no_cancel {
public:
	no_cancel() noexcept : saved_entry_(entry_cancel_state) {
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &entry_cancel_state);
	}
	~no_cancel() {
		pthread_setcancelstate(entry_cancel_state, nullptr);
		entry_cancel_state = saved_entry_; // a signal handler's call nests
	}
	no_cancel(const no_cancel &) = delete;
	no_cancel &operator=(const no_cancel &) = delete;

private:
	int saved_entry_;
};

// Inside no_cancel: the caller's cancelability, for one blocking call.
// Setting a deferred thread's state never acts on a pending request itself;
// the blocking call (epoll_pwait2, io_uring_enter, pthread_cond_wait) does.
class cancel_window {
#ifdef KEVENT_ASAN
	static constexpr unsigned long unpoison_below = 64 * 1024;
#endif

public:
	cancel_window() noexcept { pthread_setcancelstate(entry_cancel_state, nullptr); }
	~cancel_window() {
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, nullptr);
#ifdef KEVENT_ASAN
		// pthread_cancel's forced unwind (unlike a C++ throw) leaves the
		// removed frames' redzones poisoned; the first landing pad's
		// __asan_handle_no_return then calls sigaltstack() through GCC
		// 12's interceptor with its output on that dead stack and reports
		// a stack-buffer-overflow that is not one. Clear the stack below
		// this frame (its shadow only: nothing lives there).
		char here;
		__asan_unpoison_memory_region(&here - unpoison_below, unpoison_below);
#endif
	}
	cancel_window(const cancel_window &) = delete;
	cancel_window &operator=(const cancel_window &) = delete;
};

} // namespace kevent::sys
