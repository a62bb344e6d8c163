// SPDX-License-Identifier: MIT
// threads_wakeups — issue 6: wake-ups per delivered event and throughput of
// 1, 2 and 4 waiter threads on one queue (workload: threads_workload.hpp).
// Target: at most 1.05 wake-ups per delivered event.
//
//   usage: bench_threads_wakeups            (1,000,000 items, 3 runs each)
//   env:   BENCH_ITEMS, BENCH_RUNS
//          bench_threads_wakeups key=value...   one measurement (bench/run.py;
//                                               threads_workload.hpp, run_cli)
//
//   producer(s) ── ADD ONESHOT|READY|ALWAYS_QUEUE  ─┐
//              or  READY of 1,024 persistent events ├─▶ queue ──▶ waiter0..W-1
//                                                   ┘    get_events(min 1, max 64)
#include "threads_workload.hpp"

#include <cstdio>

int main(int argc, char **argv) {
	if (argc > 1)
		return bench::run_cli(argc, argv, nullptr);
	const unsigned items = bench::env_unsigned("BENCH_ITEMS", 1000000);
	const int runs = static_cast<int>(bench::env_unsigned("BENCH_RUNS", 3));
	std::printf("libkevent: %u items, median of %d runs (min..max)\n\n", items, runs);
	std::printf("%-6s %-4s %-8s %28s %22s\n", "mode", "prod", "waiters", "items/s (min..max)",
		    "wake-ups/event (slowest, fastest run)");
	for (auto mode : {bench::post_mode::add, bench::post_mode::ready}) {
		for (unsigned producers : {1u, 2u}) {
			for (unsigned waiters : {1u, 2u, 4u}) {
				auto s = bench::repeat(runs, [&] {
					return bench::run_kevent(items, producers, waiters, mode);
				});
				std::printf("%-6s %-4u %-8u %10.0f (%7.0f..%7.0f) %8.3f (%.3f, "
					    "%.3f)\n",
					    mode == bench::post_mode::add ? "add" : "ready",
					    producers, waiters, s.median.items_per_s,
					    s.min.items_per_s, s.max.items_per_s,
					    s.median.wakeups_per_event, s.min.wakeups_per_event,
					    s.max.wakeups_per_event);
				std::fflush(stdout);
			}
		}
	}
	return 0;
}
