// SPDX-License-Identifier: MIT
// threads_asio — issue 6: the threads_wakeups workload on libkevent against
// Asio's io_context::run from the same thread counts (1, 2, 4). One
// producer posts 1,000,000 small work items:
//   Asio:      asio::post(io, handler) — the handler counts the item;
//              W threads in io.run(); the work guard is dropped after the
//              last post, so run() returns once every handler ran.
//   libkevent: "add"   ADD of a ONESHOT|READY|ALWAYS_QUEUE user event
//              "ready" READY of 1,024 persistent user events, round-robin
//              W threads in kevent_get_events(min 1, max 64) loops.
//
//   usage: bench_threads_asio      env: BENCH_ITEMS, BENCH_RUNS, BENCH_PRODUCERS
//          bench_threads_asio key=value...   one measurement (bench/run.py;
//                                            threads_workload.hpp, run_cli)
#include "threads_workload.hpp"

#include <asio.hpp>

#include <cstdio>

namespace {

bench::run_result run_asio(unsigned items, unsigned producers, unsigned waiters) {
	asio::io_context io(static_cast<int>(waiters));
	auto guard = asio::make_work_guard(io);
	std::atomic<bool> go{false};
	std::atomic<uint64_t> consumed{0};
	std::vector<std::thread> ts;
	for (unsigned w = 0; w < waiters; w++) {
		ts.emplace_back([&] {
			while (!go.load(std::memory_order_acquire))
				std::this_thread::yield();
			io.run();
		});
	}
	std::atomic<unsigned> producing{producers};
	std::vector<std::thread> ps;
	for (unsigned p = 0; p < producers; p++) {
		ps.emplace_back([&, p] {
			while (!go.load(std::memory_order_acquire))
				std::this_thread::yield();
			unsigned mine = items / producers + (p < items % producers ? 1 : 0);
			for (unsigned i = 0; i < mine; i++)
				asio::post(io, [&consumed] {
					consumed.fetch_add(1, std::memory_order_relaxed);
				});
			if (producing.fetch_sub(1) == 1)
				guard.reset(); // run() returns when the last handler ran
		});
	}
	bench::syscall_window sys;
	sys.enable();
	auto t0 = bench::clk::now();
	go.store(true, std::memory_order_release);
	for (auto &t : ps)
		t.join();
	for (auto &t : ts)
		t.join();
	sys.disable();
	double secs = std::chrono::duration<double>(bench::clk::now() - t0).count();
	if (consumed.load() != items) {
		std::fprintf(stderr, "asio: %llu of %u items ran\n",
			     static_cast<unsigned long long>(consumed.load()), items);
		std::exit(1);
	}
	bench::run_result r;
	r.items_per_s = items / secs;
	r.delivered = items;
	return r;
}

} // namespace

int main(int argc, char **argv) {
	if (argc > 1)
		return bench::run_cli(argc, argv, run_asio);
	const unsigned items = bench::env_unsigned("BENCH_ITEMS", 1000000);
	const int runs = static_cast<int>(bench::env_unsigned("BENCH_RUNS", 3));
	const unsigned producers = bench::env_unsigned("BENCH_PRODUCERS", 1);
	std::printf("%u items, %u producer(s), median of %d runs (min..max), Asio %d.%d.%d\n\n",
		    items, producers, runs, ASIO_VERSION / 100000, ASIO_VERSION / 100 % 1000,
		    ASIO_VERSION % 100);
	std::printf("%-8s %-26s %-26s %-26s %-12s %-12s %s\n", "waiters", "Asio items/s",
		    "kevent add items/s", "kevent ready items/s", "add/Asio", "ready/Asio",
		    "wake-ups/event (add, ready)");
	auto cell = [](const bench::summary &s) {
		static char buf[4][64];
		static int k = 0;
		char *b = buf[k++ % 4];
		std::snprintf(b, 64, "%.0f (%.0f..%.0f)", s.median.items_per_s, s.min.items_per_s,
			      s.max.items_per_s);
		return b;
	};
	for (unsigned waiters : {1u, 2u, 4u}) {
		auto a = bench::repeat(runs, [&] { return run_asio(items, producers, waiters); });
		auto k = bench::repeat(runs, [&] {
			return bench::run_kevent(items, producers, waiters, bench::post_mode::add);
		});
		auto r = bench::repeat(runs, [&] {
			return bench::run_kevent(items, producers, waiters,
						 bench::post_mode::ready);
		});
		std::printf("%-8u %-26s %-26s %-26s %-12.2f %-12.2f %.3f, %.3f\n", waiters, cell(a),
			    cell(k), cell(r), k.median.items_per_s / a.median.items_per_s,
			    r.median.items_per_s / a.median.items_per_s, k.median.wakeups_per_event,
			    r.median.wakeups_per_event);
		std::fflush(stdout);
	}
	return 0;
}
