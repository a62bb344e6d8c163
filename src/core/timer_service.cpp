#include "core/timer_service.hpp"

#include "sys/clock.hpp"

namespace kevent::detail {

namespace {
constexpr clockid_t clock_ids[clock_count] = {CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME};
}

int64_t timer_service::now_of(int clock) { return sys::now_ns(clock_ids[clock]); }

int timer_service::schedule(knode *n) {
	int c = static_cast<int>(n->tm.clock);
	heaps_[c].insert(n);
	if (n->tm.expiry < armed_[c]) {
		int r = be_.arm_deadline(n->tm.clock, n->tm.expiry);
		if (r < 0) {
			heaps_[c].erase(n);
			return r;
		}
		armed_[c] = n->tm.expiry;
	}
	return 0;
}

void timer_service::cancel(knode *n) { heaps_[static_cast<int>(n->tm.clock)].erase(n); }

size_t timer_service::size() const {
	size_t s = 0;
	for (auto &h : heaps_)
		s += h.size();
	return s;
}

void timer_service::rearm(int c, int64_t now) {
	if (armed_[c] <= now)
		armed_[c] = INT64_MAX; // it has fired
	if (heaps_[c].empty())
		return;
	int64_t next = heaps_[c].top_expiry();
	if (next < armed_[c] && be_.arm_deadline(static_cast<clock_kind>(c), next) == 0)
		armed_[c] = next;
	// On failure armed_ stays INT64_MAX and the next schedule() retries.
}

} // namespace kevent::detail
