// SPDX-License-Identifier: MIT
// ring_vs_buffer — harvesting a stream of ready events through the ring
// (kevent_wait + kevent_commit, entries read in place) against
// kevent_get_events into a buffer (kevent_wait(3) vs kevent_get_events(3)).
//
//   bench_ring_vs_buffer [ring|buffer|both] [ROUNDS] [EVENTS]
//
// One queue per mode with EVENTS (default 1000) KEVENT_UNOTIFY kevents. A
// round makes all of them ready with one kevent_ctl(READY) and then
// harvests them: "ring" with kevent_wait (num = EVENTS) into a ring of
// 1024 entries, reading each entry in place, and kevent_commit; "buffer"
// with kevent_get_events into a 1024-entry buffer. Only the harvest is timed
// (the READY is the same for both). Events/s is over ROUNDS (default 2000)
// rounds, best of 3 runs.
//
// Instructions per event: the harvest runs in the functions
// bench_harvest_ring / bench_harvest_buffer, so that callgrind can count
// only them:
//   valgrind --tool=callgrind --toggle-collect=bench_harvest_ring
//       --callgrind-out-file=/dev/null ./bench_ring_vs_buffer ring 200 1000
//   ("Collected" / the events harvested in all, printed at the end:
//   3 runs x ROUNDS x EVENTS = instructions per event)
// and likewise with bench_harvest_buffer and "buffer".
#include <kevent/kevent.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

constexpr unsigned ring_size = 1024;

struct setup {
	int kfd = -1;
	std::vector<ukevent> ready;
	std::vector<unsigned char> ring_mem;
	kevent_ring *ring = nullptr;
	unsigned uidx = 0, over = 0;

	setup(bool with_ring, unsigned events) {
		if (with_ring) {
			ring_mem.resize(sizeof(kevent_ring) + ring_size * sizeof(ukevent) + 8);
			ring = reinterpret_cast<kevent_ring *>(
				(reinterpret_cast<uintptr_t>(ring_mem.data()) + 7) & ~uintptr_t(7));
		}
		kfd = kevent_init(ring, with_ring ? ring_size : 0, 0);
		if (kfd < 0) {
			std::perror("kevent_init");
			std::exit(1);
		}
		std::vector<ukevent> add(events);
		for (unsigned i = 0; i < events; i++) {
			add[i] = ukevent{};
			add[i].type = KEVENT_UNOTIFY;
			add[i].id.raw_u64 = i + 1;
			add[i].user[0] = i;
		}
		if (kevent_ctl(kfd, KEVENT_CTL_ADD, events, add.data()) != 0) {
			std::perror("kevent_ctl(ADD)");
			std::exit(1);
		}
		ready = add;
	}
	~setup() { kevent_close(kfd); }

	void make_ready() {
		if (kevent_ctl(kfd, KEVENT_CTL_READY, unsigned(ready.size()), ready.data()) !=
		    int(ready.size())) {
			std::perror("kevent_ctl(READY)");
			std::exit(1);
		}
	}
};

} // namespace

// Harvests `events` ready events through the ring; returns a checksum of
// their cookies (each entry is read, as a consumer would).
extern "C" __attribute__((noinline)) uint64_t bench_harvest_ring(setup &s, unsigned events) {
	static const timespec zero{};
	uint64_t sum = 0;
	for (unsigned got = 0; got < events;) {
		int n = kevent_wait(s.kfd, ring_size, s.uidx, &zero, 0);
		if (n <= 0) {
			std::perror("kevent_wait");
			std::exit(1);
		}
		for (int i = 0; i < n; i++) {
			unsigned slot = s.uidx + unsigned(i);
			if (slot >= ring_size)
				slot -= ring_size;
			sum += s.ring->event[slot].user[0];
		}
		// Release them: n < ring_size here, so one commit.
		unsigned next = s.uidx + unsigned(n);
		if (next >= ring_size)
			next -= ring_size;
		if (kevent_commit(s.kfd, next, s.over) != n) {
			std::perror("kevent_commit");
			std::exit(1);
		}
		if (next < s.uidx)
			s.over++;
		s.uidx = next;
		got += unsigned(n);
	}
	return sum;
}

extern "C" __attribute__((noinline)) uint64_t bench_harvest_buffer(setup &s, unsigned events,
								   ukevent *buf) {
	static const timespec zero{};
	uint64_t sum = 0;
	for (unsigned got = 0; got < events;) {
		int n = kevent_get_events(s.kfd, 1, ring_size, &zero, buf, 0);
		if (n <= 0) {
			std::perror("kevent_get_events");
			std::exit(1);
		}
		for (int i = 0; i < n; i++)
			sum += buf[i].user[0];
		got += unsigned(n);
	}
	return sum;
}

int main(int argc, char **argv) {
	const char *mode = argc > 1 ? argv[1] : "both";
	unsigned rounds = argc > 2 ? unsigned(std::atoi(argv[2])) : 2000;
	unsigned events = argc > 3 ? unsigned(std::atoi(argv[3])) : 1000;
	if (events == 0 || events >= ring_size) {
		std::fprintf(stderr, "EVENTS must be 1..%u\n", ring_size - 1);
		return 2;
	}
	bool ring = !std::strcmp(mode, "ring") || !std::strcmp(mode, "both");
	bool buffer = !std::strcmp(mode, "buffer") || !std::strcmp(mode, "both");
	std::vector<ukevent> buf(ring_size);
	using clk = std::chrono::steady_clock;
	uint64_t check = 0;
	for (int pass = 0; pass < 2; pass++) {
		bool use_ring = pass == 0;
		if ((use_ring && !ring) || (!use_ring && !buffer))
			continue;
		setup s(use_ring, events);
		double best = 0;
		for (int run = 0; run < 3; run++) {
			clk::duration spent{};
			for (unsigned r = 0; r < rounds; r++) {
				s.make_ready();
				auto t0 = clk::now();
				check += use_ring ? bench_harvest_ring(s, events)
						  : bench_harvest_buffer(s, events, buf.data());
				spent += clk::now() - t0;
			}
			double secs = std::chrono::duration<double>(spent).count();
			double rate = double(rounds) * events / secs;
			if (rate > best)
				best = rate;
		}
		std::printf("%-6s %u rounds x %u events: %.2f M events/s (%.1f ns/event), best of "
			    "3\n",
			    use_ring ? "ring" : "buffer", rounds, events, best / 1e6, 1e9 / best);
	}
	std::printf("harvested %llu events in all per mode (checksum %llu)\n",
		    3ull * rounds * events, (unsigned long long)check);
	return 0;
}
