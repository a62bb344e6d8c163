// SPDX-License-Identifier: MIT
// threads_workload.hpp — the workload of bench/threads_wakeups.cpp and
// bench/threads_asio.cpp (issue 6): P producer threads post N small work
// items, W waiter threads consume them; items/s and, for libkevent, the
// wake-ups per delivered event from kevent_get_stats.
//
// libkevent, two ways of posting an item:
//   add:   one ADD of a ONESHOT user event with REQ_READY|ALWAYS_QUEUE per
//          item (queued at once, freed at delivery) — what asio::post does
//          (one handler allocated per post, freed after it ran).
//   ready: a pool of 1,024 persistent user events readied round-robin; a
//          slot is readied again only after its previous item was consumed
//          (READY of a queued kevent would coalesce), so a full pool makes
//          the producer wait: a bounded queue.
// Waiters: kevent_get_events(min 1, max 64, no timeout) loops; the one that
// consumes the last item wakes the others with READY num=0.
//
// One measurement for bench/run.py (`make bench`, the "threads" tables):
//   bench_threads_wakeups lib=kevent backend=epoll|uring mode=add|ready
//                         waiters=W [producers=1] [items=N]
//   bench_threads_asio    lib=asio waiters=W [producers=1] [items=N]
// prints one RESULT line (items_per_s, wakeups_per_event, events); run_cli.
#pragma once

#include "compare/harness.hpp"

#include <kevent/kevent.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>
#include <vector>

namespace bench {

using clk = std::chrono::steady_clock;

struct run_result {
	double items_per_s = 0;
	double wakeups_per_event = 0;
	uint64_t delivered = 0;
};

enum class post_mode { add, ready };

inline run_result run_kevent(unsigned items, unsigned producers, unsigned waiters, post_mode mode,
			     unsigned init_flags = 0) {
	constexpr unsigned pool = 1024;
	int kfd = kevent_init(nullptr, 0, init_flags);
	if (kfd < 0) {
		std::perror("kevent_init");
		std::exit(1);
	}
	auto pending = std::make_unique<std::atomic<uint8_t>[]>(pool);
	if (mode == post_mode::ready) {
		std::vector<ukevent> adds(pool);
		for (unsigned i = 0; i < pool; i++) {
			adds[i] = ukevent{};
			adds[i].id.raw_u64 = i;
			adds[i].type = KEVENT_UNOTIFY;
			pending[i] = 0;
		}
		if (kevent_ctl(kfd, KEVENT_CTL_ADD, pool, adds.data()) != 0) {
			std::perror("kevent_ctl ADD");
			std::exit(1);
		}
	}
	std::atomic<uint64_t> consumed{0};
	std::atomic<bool> go{false};
	std::atomic<unsigned> exited{0};
	std::atomic<int64_t> end_ns{0};
	clk::time_point t0;
	std::vector<std::thread> ts;
	for (unsigned w = 0; w < waiters; w++) {
		ts.emplace_back([&] {
			ukevent buf[64];
			while (!go.load(std::memory_order_acquire))
				std::this_thread::yield();
			for (;;) {
				if (consumed.load(std::memory_order_relaxed) >= items)
					break;
				int n = kevent_get_events(kfd, 1, 64, nullptr, buf, 0);
				if (n < 0) {
					std::perror("kevent_get_events");
					std::exit(1);
				}
				if (n == 0)
					continue;
				if (mode == post_mode::ready)
					for (int i = 0; i < n; i++)
						pending[buf[i].id.raw_u64].store(
							0, std::memory_order_release);
				uint64_t total = consumed.fetch_add(n, std::memory_order_relaxed) +
						 unsigned(n);
				if (total >= items) {
					end_ns.store((clk::now() - t0).count(),
						     std::memory_order_relaxed);
					break;
				}
			}
			exited.fetch_add(1);
		});
	}
	for (unsigned p = 0; p < producers; p++) {
		ts.emplace_back([&, p] {
			while (!go.load(std::memory_order_acquire))
				std::this_thread::yield();
			unsigned mine = items / producers + (p < items % producers ? 1 : 0);
			ukevent e{};
			e.type = KEVENT_UNOTIFY;
			if (mode == post_mode::add) {
				uint64_t id = uint64_t(p) << 40;
				for (unsigned i = 0; i < mine; i++) {
					e.id.raw_u64 = id++;
					e.req_flags = KEVENT_REQ_ONESHOT | KEVENT_REQ_READY |
						      KEVENT_REQ_ALWAYS_QUEUE;
					if (kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &e) != 0) {
						std::perror("kevent_ctl ADD");
						std::exit(1);
					}
				}
			} else {
				// Producer p owns slots p, p+P, p+2P, ...
				unsigned slot = p;
				for (unsigned i = 0; i < mine; i++) {
					while (pending[slot].load(std::memory_order_acquire))
						std::this_thread::yield(); // slot's item not
									   // consumed yet
					pending[slot].store(1, std::memory_order_relaxed);
					e.id.raw_u64 = slot;
					if (kevent_ctl(kfd, KEVENT_CTL_READY, 1, &e) != 1) {
						std::perror("kevent_ctl READY");
						std::exit(1);
					}
					slot += producers;
					if (slot >= pool)
						slot = p;
				}
			}
		});
	}
	syscall_window sys;
	sys.enable();
	t0 = clk::now();
	go.store(true, std::memory_order_release);
	// The waiter that took the last item stopped the clock; release the
	// others (a forced wake-up misses a thread not yet blocked: repeat).
	while (exited.load() < waiters) {
		if (consumed.load() >= items)
			kevent_ctl(kfd, KEVENT_CTL_READY, 0, nullptr);
		std::this_thread::sleep_for(std::chrono::milliseconds(1));
	}
	for (auto &t : ts)
		t.join();
	sys.disable();
	double secs = double(end_ns.load()) / 1e9;
	kevent_stats st{};
	kevent_get_stats(kfd, &st, sizeof st);
	kevent_close(kfd);
	run_result r;
	r.items_per_s = items / secs;
	r.delivered = st.delivered;
	r.wakeups_per_event = st.delivered ? double(st.wakeups) / double(st.delivered) : 0;
	return r;
}

// Median, min and max of `runs` results of f() by items/s.
struct summary {
	run_result median, min, max;
};

template <class F> summary repeat(int runs, F f) {
	std::vector<run_result> rs;
	for (int i = 0; i < runs; i++)
		rs.push_back(f());
	std::sort(rs.begin(), rs.end(), [](const run_result &a, const run_result &b) {
		return a.items_per_s < b.items_per_s;
	});
	return {rs[rs.size() / 2], rs.front(), rs.back()};
}

inline unsigned env_unsigned(const char *name, unsigned dflt) {
	const char *s = std::getenv(name);
	return s && std::atoi(s) > 0 ? static_cast<unsigned>(std::atoi(s)) : dflt;
}

// The command line of one measurement (see the top of this file): 0, or 2
// for a bad argument. `asio` runs the Asio side (null: not built in).
inline int run_cli(int argc, char **argv,
		   run_result (*asio)(unsigned items, unsigned producers, unsigned waiters)) {
	options o(argc, argv, 1);
	const std::string lib = o.str("lib", "kevent");
	const auto items = static_cast<unsigned>(o.num("items", 1000000));
	const auto producers = static_cast<unsigned>(o.num("producers", 1));
	const auto waiters = static_cast<unsigned>(o.num("waiters", 1));
	if (!items || !producers || !waiters) {
		std::fprintf(stderr, "bench: items, producers and waiters must be > 0\n");
		return 2;
	}
	run_result r;
	if (lib == "asio") {
		if (!asio)
			unavailable("this executable has no Asio side (bench_threads_asio has)");
		r = asio(items, producers, waiters);
	} else if (lib == "kevent") {
		const std::string be = o.str("backend", "epoll");
		const std::string mode = o.str("mode", "ready");
		if ((be != "epoll" && be != "uring") || (mode != "add" && mode != "ready")) {
			std::fprintf(stderr, "bench: backend=epoll|uring, mode=add|ready\n");
			return 2;
		}
		unsigned flags = be == "uring" ? KEVENT_INIT_URING : KEVENT_INIT_EPOLL;
		int probe = kevent_init(nullptr, 0, flags);
		if (probe < 0) {
			std::string why = "kevent_init(" + be + "): " + std::strerror(errno);
			unavailable(why.c_str());
		}
		kevent_close(probe);
		r = run_kevent(items, producers, waiters,
			       mode == "add" ? post_mode::add : post_mode::ready, flags);
	} else {
		std::fprintf(stderr, "bench: lib=kevent|asio\n");
		return 2;
	}
	result line(("waiters" + std::to_string(waiters)).c_str());
	line.add("items_per_s", r.items_per_s).add("events", double(items));
	if (lib == "kevent") // Asio counts no wake-ups
		line.add("wakeups_per_event", r.wakeups_per_event);
	return 0;
}

} // namespace bench
