// SPDX-License-Identifier: MIT
// stats — the queue's counters (kevent_get_stats(3)) and the process-wide totals.
//
// Per-queue counters are written only under the queue lock, so an increment
// is a relaxed load and store (no locked instruction on the hot path);
// kevent_get_stats reads them without the lock. The process-wide totals are
// shared by all queues and use atomic adds.
#pragma once

#include <kevent/kevent.h>

#include <atomic>
#include <cstdint>

namespace kevent::detail {

class counter {
public:
	void add(int64_t d = 1) {
		v_.store(v_.load(std::memory_order_relaxed) + uint64_t(d),
			 std::memory_order_relaxed);
	}
	void set(uint64_t v) { v_.store(v, std::memory_order_relaxed); }
	uint64_t get() const { return v_.load(std::memory_order_relaxed); }

private:
	std::atomic<uint64_t> v_{0};
};

// kevent_stats::registered_by_type has a fixed room (the ABI): an origin
// past it would need a new field.
static_assert(KEVENT_MAX <= KEVENT_STATS_TYPES);

struct queue_stats {
	counter registered;
	counter by_type[KEVENT_MAX];
	counter ready;
	counter inflight_io;
	counter added, removed, delivered, broken, wakeups;
};

struct global_stats {
	std::atomic<uint64_t> queues{0};
	std::atomic<uint64_t> registered{0};
	std::atomic<uint64_t> inflight_io{0};
};

global_stats &process_stats();

} // namespace kevent::detail
