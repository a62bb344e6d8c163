// SPDX-License-Identifier: MIT
// workloads.hpp — the named workloads of `make bench`, written once over a
// Loop: the small adapter every bench_cmp_<library>.cpp implements with its
// library's own calls (see loop_epoll.cpp for the reference one):
//
//   explicit Loop(const bench::options &)
//   struct io, timer, async              watchers, owned by the workload
//   io_start(io, fd, want, cb, arg)      persistent watch; want = want_* bits
//   io_set_write(io, on)                 add or drop write interest
//   io_stop(io) / io_close(io)           stop watching / and forget the fd
//   timer_start(t, ms, cb, arg)          one-shot; timer_stop(t); timer_close(t)
//   async_start(a, cb, arg)              async_send(a) from any thread; async_stop(a)
//   run_once(block)                      one loop iteration (block: wait for one event)
//   finish()                             let deferred closes complete
//
// Each workload prints RESULT lines (harness.hpp); bench/run.py repeats it,
// takes medians and compares libraries. The workloads are the anchors' ones
// (docs/benchmarks.md says where each comes from and what it measures).
#pragma once

#include "harness.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <string_view>
#include <thread>
#include <vector>

namespace bench {

using callback = void (*)(void *arg);
// A callback with its argument, as the watchers of the adapters keep it.
struct target {
	callback cb = nullptr;
	void *arg = nullptr;
	void operator()() const { cb(arg); }
};
constexpr unsigned want_read = 1, want_write = 2, want_accept = 4;

// ---- pipes: libevent's test/bench.c ---------------------------------------
// n socketpairs, each with a persistent read watch; `active` of them get a
// byte, and every read callback writes one byte to the next pair until
// `writes` bytes have been chained. An iteration re-registers every watch
// (stop + start, as bench.c's event_del/event_set/event_add), runs the loop
// once without blocking, then times the chain. "loop" is the chain alone,
// "total" includes the re-registration (libev's comparison reported both).
template <class Loop> struct pipes {
	struct slot {
		pipes *p;
		size_t idx;
	};
	Loop &loop;
	std::vector<int> fds; // 2 per pair: [2i] read end, [2i+1] write end
	std::vector<slot> slots;
	std::unique_ptr<typename Loop::io[]> ios;
	size_t n, count = 0, fired = 0, writes = 0, failures = 0;

	pipes(Loop &l, size_t pairs) : loop(l), fds(2 * pairs), slots(pairs), n(pairs) {
		ios.reset(new typename Loop::io[pairs]);
		for (size_t i = 0; i < n; ++i) {
			make_pair(&fds[2 * i]);
			slots[i] = {this, i};
		}
	}
	~pipes() {
		for (size_t i = 0; i < n; ++i)
			loop.io_close(ios[i]);
		loop.finish();
		for (int fd : fds)
			::close(fd);
	}

	static void read_cb(void *arg) {
		auto *s = static_cast<slot *>(arg);
		pipes &p = *s->p;
		char ch;
		ssize_t r = ::recv(p.fds[2 * s->idx], &ch, 1, 0);
		if (r >= 0)
			p.count += size_t(r);
		else if (errno != EAGAIN)
			++p.failures;
		if (r > 0 && p.writes) {
			size_t w = s->idx + 1 == p.n ? 0 : s->idx + 1;
			if (::send(p.fds[2 * w + 1], "e", 1, 0) != 1)
				++p.failures;
			--p.writes;
			++p.fired;
		}
	}

	// One iteration; adds its times (ns) to loop_ns / total_ns.
	void iteration(bool first, size_t active, size_t nwrites, uint64_t &loop_ns,
		       uint64_t &total_ns, syscall_window &sys) {
		uint64_t t0 = now_ns();
		for (size_t i = 0; i < n; ++i) {
			if (!first)
				loop.io_stop(ios[i]);
			loop.io_start(ios[i], fds[2 * i], want_read, read_cb, &slots[i]);
		}
		loop.run_once(false);
		fired = 0;
		size_t space = n / active;
		for (size_t i = 0; i < active; ++i, ++fired)
			if (::send(fds[2 * (i * space) + 1], "e", 1, 0) != 1)
				++failures;
		count = 0;
		writes = nwrites;
		sys.enable();
		uint64_t t1 = now_ns();
		do
			loop.run_once(false);
		while (count != fired);
		uint64_t t2 = now_ns();
		sys.disable();
		loop_ns += t2 - t1;
		total_ns += t2 - t0;
	}
};

template <class Loop> int run_pipes(const options &o) {
	size_t n = cap_pairs(o.num("n", 1000), "pipes");
	size_t active = std::min<size_t>(o.num("active", 100), n);
	size_t nwrites = o.num("writes", n);
	size_t iters = o.num("iterations", 25);
	Loop loop(o);
	pipes<Loop> p(loop, n);
	syscall_window sys;
	uint64_t loop_ns = 0, total_ns = 0, events = 0;
	for (size_t it = 0; it < iters; ++it) {
		p.iteration(it == 0, active, nwrites, loop_ns, total_ns, sys);
		events += p.fired;
	}
	if (p.failures)
		std::printf("NOTE pipes: %zu failed reads or writes\n", p.failures);
	result(("n" + std::to_string(n)).c_str())
		.add("loop_us", double(loop_ns) / 1e3 / double(iters))
		.add("total_us", double(total_ns) / 1e3 / double(iters))
		.add("events", double(events));
	return 0;
}

// ---- million_timers: libuv's benchmark-million-timers.c --------------------
// N one-shot timers, the timeout rising 1 ms every 1,000; init (start them
// all), dispatch (run until all fired), cleanup (close them, free memory).
template <class Loop> int run_million_timers(const options &o) {
	size_t n = o.num("n", 1000000);
	syscall_window sys;
	size_t fired = 0;
	callback cb = [](void *arg) { ++*static_cast<size_t *>(arg); };
	uint64_t t0 = now_ns(), t1, t2, t3;
	{
		Loop loop(o);
		std::unique_ptr<typename Loop::timer[]> timers(new typename Loop::timer[n]);
		uint64_t timeout = 0;
		for (size_t i = 0; i < n; ++i) {
			if (i % 1000 == 0)
				++timeout;
			loop.timer_start(timers[i], timeout, cb, &fired);
		}
		t1 = now_ns();
		sys.enable();
		while (fired < n)
			loop.run_once(true);
		sys.disable();
		t2 = now_ns();
		for (size_t i = 0; i < n; ++i)
			loop.timer_close(timers[i]);
		loop.finish();
	}
	t3 = now_ns();
	result(("n" + std::to_string(n)).c_str())
		.add("init_s", double(t1 - t0) / 1e9)
		.add("dispatch_s", double(t2 - t1) / 1e9)
		.add("cleanup_s", double(t3 - t2) / 1e9)
		.add("total_s", double(t3 - t0) / 1e9)
		.add("events", double(n));
	return 0;
}

// ---- timer_churn: start a timer, cancel it before it expires ---------------
// The server's request timeout: armed on every request, cancelled when the
// answer goes out. Batches of `batch` starts, one loop iteration, `batch`
// cancels, one iteration, until N timers have come and gone.
template <class Loop> int run_timer_churn(const options &o) {
	size_t n = o.num("n", 1000000), batch = o.num("batch", 1000);
	Loop loop(o);
	std::unique_ptr<typename Loop::timer[]> timers(new typename Loop::timer[batch]);
	callback never = [](void *) {
		std::fprintf(stderr, "bench: timer_churn: a timer fired\n");
		std::exit(1);
	};
	syscall_window sys;
	sys.enable();
	uint64_t t0 = now_ns();
	for (size_t done = 0; done < n; done += batch) {
		for (size_t i = 0; i < batch; ++i)
			loop.timer_start(timers[i], 60000 + i, never, nullptr);
		loop.run_once(false);
		for (size_t i = 0; i < batch; ++i)
			loop.timer_stop(timers[i]);
		loop.run_once(false);
	}
	uint64_t t1 = now_ns();
	sys.disable();
	for (size_t i = 0; i < batch; ++i)
		loop.timer_close(timers[i]);
	loop.finish();
	result(("n" + std::to_string(n)).c_str())
		.add("total_s", double(t1 - t0) / 1e9)
		.add("ns_per_timer", double(t1 - t0) / double(n))
		.add("events", double(n));
	return 0;
}

// ---- ping_pongs / idle_scaling: 1-byte round trips --------------------------
// Both ends of one socketpair in the same loop; each read answers with one
// byte. idle_scaling adds `idle` registrations that never fire (both ends
// of idle socketpairs), to show what the idle set costs the active one.
template <class Loop> struct ping_pong {
	struct end {
		ping_pong *pp;
		int fd;
		bool counts; // the round trip completes at this end
	};
	Loop &loop;
	int sv[2];
	end ends[2];
	typename Loop::io ios[2];
	uint64_t rounds = 0, max_rounds, deadline;
	bool stop = false;

	ping_pong(Loop &l, uint64_t max_r, uint64_t dl) : loop(l), max_rounds(max_r), deadline(dl) {
		make_pair(sv);
		ends[0] = {this, sv[0], true};
		ends[1] = {this, sv[1], false};
		for (int i = 0; i < 2; ++i)
			loop.io_start(ios[i], sv[i], want_read, on_read, &ends[i]);
	}
	~ping_pong() {
		for (auto &io : ios)
			loop.io_close(io);
		loop.finish();
		::close(sv[0]);
		::close(sv[1]);
	}

	static void on_read(void *arg) {
		auto *e = static_cast<end *>(arg);
		ping_pong &p = *e->pp;
		char ch;
		if (::recv(e->fd, &ch, 1, 0) != 1)
			return; // a spurious wake-up: nothing to answer
		if (e->counts) {
			++p.rounds;
			if (p.rounds == p.max_rounds ||
			    ((p.rounds & 1023) == 0 && now_ns() > p.deadline)) {
				p.stop = true;
				return;
			}
		}
		if (::send(e->fd, "p", 1, 0) != 1)
			die("ping_pong send");
	}

	// Runs until the round or time limit; returns the elapsed ns.
	uint64_t run() {
		uint64_t t0 = now_ns();
		if (::send(sv[0], "p", 1, 0) != 1)
			die("ping_pong send");
		while (!stop)
			loop.run_once(true);
		return now_ns() - t0;
	}
};

// Registers `count` idle sockets (count/2 socketpairs, both ends).
template <class Loop> struct idle_set {
	Loop &loop;
	std::vector<int> fds;
	std::unique_ptr<typename Loop::io[]> ios;

	idle_set(Loop &l, size_t count) : loop(l), fds(count) {
		ios.reset(new typename Loop::io[count]);
		callback never = [](void *) {};
		for (size_t i = 0; i + 1 < count; i += 2)
			make_pair(&fds[i]);
		for (size_t i = 0; i < count; ++i)
			loop.io_start(ios[i], fds[i], want_read, never, nullptr);
		loop.run_once(false);
	}
	~idle_set() {
		for (size_t i = 0; i < fds.size(); ++i)
			loop.io_close(ios[i]);
		loop.finish();
		for (int fd : fds)
			::close(fd);
	}
};

// rounds=N instead of a time: a fixed amount of work, which instruction
// counts (bench/icount) need.
template <class Loop> int run_ping_pongs(const options &o) {
	double secs = o.real("seconds", 5);
	uint64_t rounds = o.num("rounds", 0);
	Loop loop(o);
	syscall_window sys;
	ping_pong<Loop> pp(loop, rounds ? rounds : ~uint64_t(0),
			   rounds ? ~uint64_t(0) : now_ns() + uint64_t(secs * 1e9));
	sys.enable();
	uint64_t ns = pp.run();
	sys.disable();
	result("1byte")
		.add("roundtrips_per_s", double(pp.rounds) / (double(ns) / 1e9))
		.add("events", double(2 * pp.rounds));
	return 0;
}

template <class Loop> int run_idle_scaling(const options &o) {
	size_t want = o.num("idle", 1000), rounds = o.num("rounds", 100000);
	size_t idle = 2 * cap_pairs((want + 1) / 2 + 1, "idle_scaling") - 2; // the active pair too
	if (idle > want)
		idle = want;
	Loop loop(o);
	idle_set<Loop> set(loop, idle);
	syscall_window sys;
	ping_pong<Loop> pp(loop, rounds, ~uint64_t(0));
	sys.enable();
	uint64_t ns = pp.run();
	sys.disable();
	result(("idle" + std::to_string(idle)).c_str())
		.add("ns_per_roundtrip", double(ns) / double(pp.rounds))
		.add("events", double(2 * pp.rounds));
	return 0;
}

// ---- async_pummel: libuv's benchmark-async-pummel.c -----------------------
// `threads` threads send wake-ups to the loop as fast as they can for
// `seconds`; the loop counts its callbacks (libuv's version stops at a
// count; a time limit keeps a starved loop from running for minutes on a
// busy machine). Libraries coalesce wake-ups differently (Asio runs one
// handler per post), so sends per callback is printed too.
template <class Loop> int run_async_pummel(const options &o) {
	size_t threads = o.num("threads", 1);
	double secs = o.real("seconds", 1);
	Loop loop(o);
	typename Loop::async a;
	struct state {
		size_t callbacks = 0;
		std::atomic<bool> done{false};
		std::atomic<uint64_t> sends{0};
	} st;
	loop.async_start(
		a, [](void *arg) { ++static_cast<state *>(arg)->callbacks; }, &st);
	loop.run_once(false);
	syscall_window sys;
	sys.enable();
	std::vector<std::thread> pool;
	uint64_t t0 = now_ns(), end = t0 + uint64_t(secs * 1e9), t1;
	for (size_t i = 0; i < threads; ++i)
		pool.emplace_back([&] {
			uint64_t s = 0;
			while (!st.done.load(std::memory_order_relaxed)) {
				loop.async_send(a);
				++s;
			}
			st.sends += s;
		});
	while ((t1 = now_ns()) < end)
		loop.run_once(true);
	st.done = true;
	size_t callbacks = st.callbacks;
	for (auto &t : pool)
		t.join();
	sys.disable();
	loop.async_stop(a);
	loop.finish();
	result(("threads" + std::to_string(threads)).c_str())
		.add("callbacks_per_s", double(callbacks) / (double(t1 - t0) / 1e9))
		.add("sends_per_callback", double(st.sends) / double(callbacks ? callbacks : 1))
		.add("events", double(callbacks));
	return 0;
}

// ---- memory: RSS growth per registration ----------------------------------
// kind=timers: n one-shot timers an hour away; kind=sockets: n sockets (n/2
// socketpairs, both ends registered, created before the baseline so the
// kernel's socket buffers are not counted). Only user-space memory is in
// RSS: epoll items, io_uring requests and socket state are kernel memory.
// user_bytes is the size of the workload's own watcher object, included in
// the figure (libev and libuv watchers live there; libkevent keeps only a
// cookie there and its state inside the library).
// Prints the result and exits: tearing down a million registrations
// measures nothing.
[[noreturn]] inline void report_memory(const char *label, uint64_t rss0, size_t n, size_t user) {
	uint64_t rss1 = rss_bytes();
	result(label)
		.add("bytes_per_reg", double(rss1 - rss0) / double(n))
		.add("user_bytes", double(user))
		.add("n", double(n));
	std::fflush(stdout);
	std::_Exit(0);
}

template <class Loop> int run_memory(const options &o) {
	std::string kind = o.str("kind", "timers");
	Loop loop(o);
	loop.run_once(false);
	if (kind == "timers") {
		size_t n = o.num("n", 1000000);
		uint64_t rss0 = rss_bytes();
		std::unique_ptr<typename Loop::timer[]> timers(new typename Loop::timer[n]);
		callback never = [](void *) {};
		for (size_t i = 0; i < n; ++i)
			loop.timer_start(timers[i], 3600000 + i / 1000, never, nullptr);
		loop.run_once(false);
		report_memory("timers", rss0, n, sizeof(typename Loop::timer));
	}
	size_t want = o.num("n", 100000);
	size_t n = 2 * cap_pairs(want / 2, "memory sockets");
	std::vector<int> fds(n);
	for (size_t i = 0; i < n; i += 2)
		make_pair(&fds[i]);
	uint64_t rss0 = rss_bytes();
	std::unique_ptr<typename Loop::io[]> ios(new typename Loop::io[n]);
	callback never = [](void *) {};
	for (size_t i = 0; i < n; ++i)
		loop.io_start(ios[i], fds[i], want_read, never, nullptr);
	loop.run_once(false);
	report_memory("sockets", rss0, n, sizeof(typename Loop::io));
}

} // namespace bench
