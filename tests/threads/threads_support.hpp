// SPDX-License-Identifier: MIT
// threads_support.hpp — small helpers shared by the tests/threads suites
// (kevent(7) and docs/semantics.md "Threads", issue 6). Everything here uses
// the C ABI only.
#pragma once

#include "kevent_test.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <thread>

namespace kevent_threads {

using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Wait until pred() or the time limit; true if pred() became true.
template <class Pred> bool wait_until(Pred pred, milliseconds limit) {
	auto deadline = clock_type::now() + limit;
	while (!pred()) {
		if (clock_type::now() >= deadline)
			return false;
		std::this_thread::sleep_for(milliseconds(1));
	}
	return true;
}

// Release every thread still blocked in q: READY num=0 until `running`
// drops to 0 (a waiter that had not yet blocked misses a single one).
inline void release_waiters(int q, const std::atomic<int> &running) {
	while (running.load() > 0) {
		kevent_ctl(q, KEVENT_CTL_READY, 0, nullptr);
		std::this_thread::sleep_for(milliseconds(2));
	}
}

inline double ms_since(clock_type::time_point t0) {
	return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

// Everything a test does before it blocks takes longer under TSan: how long
// to give threads to settle in kevent_get_events before acting on them.
inline milliseconds settle() {
#if defined(__SANITIZE_THREAD__)
	return milliseconds(300);
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
	return milliseconds(300);
#else
	return milliseconds(100);
#endif
#else
	return milliseconds(100);
#endif
}

// A small xorshift generator per thread (no shared state, no locks).
struct rng {
	uint64_t s;
	explicit rng(uint64_t seed) : s(seed * 0x9e3779b97f4a7c15ull + 1) {}
	uint64_t next() {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		return s;
	}
	unsigned below(unsigned n) { return static_cast<unsigned>(next() % n); }
};

} // namespace kevent_threads
