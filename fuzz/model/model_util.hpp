// SPDX-License-Identifier: MIT
// model_util — small helpers shared by the model's files (model_queue.cpp:
// watches, readiness and delivery; model_ctl.cpp: kevent_ctl).
#pragma once

#include "model_queue.hpp"

#include <cstdint>
#include <poll.h>
#include <time.h>

namespace kevent_model {

inline constexpr int64_t ns_per_s = 1000000000;
inline constexpr uint32_t always_reported = POLLERR | POLLHUP; // epoll and poll add them
// io_uring's IO_POLL_UNMASK: what every poll request also asks for.
inline constexpr uint32_t uring_unmask = POLLERR | POLLHUP | POLLNVAL | POLLRDHUP;

inline void fail_entry(ukevent &e, int err) {
	e.ret_flags = KEVENT_RET_BROKEN | KEVENT_RET_DONE;
	e.ret_data[1] = static_cast<uint32_t>(-err);
}

inline int64_t now_on(const ukevent &uk) {
	clockid_t c = (uk.event & KEVENT_TIMER_REALTIME)   ? CLOCK_REALTIME
		      : (uk.event & KEVENT_TIMER_BOOTTIME) ? CLOCK_BOOTTIME
							   : CLOCK_MONOTONIC;
	timespec t{};
	clock_gettime(c, &t);
	return int64_t(t.tv_sec) * ns_per_s + t.tv_nsec;
}

inline model_key key_of(const ukevent &uk) { return {uk.id.raw_u64, uk.type}; }

} // namespace kevent_model
