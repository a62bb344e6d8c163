// SPDX-License-Identifier: MIT
// clock — nanosecond arithmetic on clock_gettime clocks (vDSO: no syscall).
#pragma once

#include <cstdint>
#include <ctime>

namespace kevent::sys {

constexpr int64_t ns_per_s = 1000000000;

// A valid timespec (tv_sec >= 0, tv_nsec in [0, 1e9)) as ns, saturated at
// INT64_MAX (292 years): {LONG_MAX, 0} must mean "forever", never wrap into
// a time in the past (tests/regress/huge_timeout_overflows_test).
inline int64_t to_ns(const timespec &t) {
	if (t.tv_sec > (INT64_MAX - (ns_per_s - 1)) / ns_per_s)
		return INT64_MAX;
	return int64_t(t.tv_sec) * ns_per_s + t.tv_nsec;
}

inline timespec to_timespec(int64_t ns) {
	timespec t{};
	t.tv_sec = ns / ns_per_s;
	t.tv_nsec = ns % ns_per_s;
	return t;
}

inline int64_t now_ns(clockid_t clock) {
	timespec t{};
	clock_gettime(clock, &t);
	return to_ns(t);
}

// Saturating add, so that "years from now" never wraps into the past.
inline int64_t add_sat(int64_t a, int64_t b) {
	int64_t r;
	if (__builtin_add_overflow(a, b, &r))
		return INT64_MAX;
	return r;
}

} // namespace kevent::sys
