// SPDX-License-Identifier: MIT
// init_close — what creating and closing a queue costs, per backend
// (issue 14 item 8: an io_uring queue that never waited took 10.6 ms to
// close).
//
//   bench_init_close [CYCLES]
//
// For each backend (epoll, io_uring) and each shape of queue, CYCLES
// (default 2000) kevent_init + kevent_close cycles; prints the minimum (the
// least disturbed by other load on a shared machine), median and maximum of
// kevent_close alone, and the mean of init + close, in microseconds. Shapes:
//   fresh   — closed without any other call;
//   waited  — one kevent_get_events with a zero timeout first;
//   watched — 16 socket kevents registered (and still registered at close);
//   timer   — one 1 s timer armed (a deadline the kernel holds).
// Not a test: timings on a shared machine vary; nothing is asserted.
#include <kevent/kevent.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace {

using clk = std::chrono::steady_clock;

double us(clk::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

enum class shape { fresh, waited, watched, timer };
const char *const shape_names[] = {"fresh", "waited", "watched", "timer"};

// The socket pairs the "watched" shape registers (made once, reused).
std::vector<int> sockets;

bool prepare(int kfd, shape s) {
	switch (s) {
	case shape::fresh:
		return true;
	case shape::waited: {
		ukevent buf[1];
		timespec zero{};
		return kevent_get_events(kfd, 0, 1, &zero, buf, 0) >= 0;
	}
	case shape::watched: {
		std::vector<ukevent> uk(sockets.size() / 2);
		for (size_t i = 0; i < uk.size(); i++) {
			uk[i] = ukevent{};
			uk[i].id.raw[0] = static_cast<uint32_t>(sockets[2 * i]);
			uk[i].type = KEVENT_SOCKET;
			uk[i].event = KEVENT_SOCKET_RECV;
		}
		return kevent_ctl(kfd, KEVENT_CTL_ADD, static_cast<unsigned>(uk.size()),
				  uk.data()) == 0;
	}
	case shape::timer: {
		ukevent uk{};
		uk.id.raw[0] = 1; // 1 s
		uk.type = KEVENT_TIMER;
		uk.event = KEVENT_TIMER_FIRED;
		return kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &uk) == 0;
	}
	}
	return false;
}

void run(unsigned flags, const char *name, shape s, int cycles) {
	std::vector<double> closes;
	closes.reserve(static_cast<size_t>(cycles));
	clk::duration total{};
	for (int i = 0; i < cycles; i++) {
		auto t0 = clk::now();
		int kfd = kevent_init(nullptr, 0, flags);
		if (kfd < 0) {
			std::printf("%-6s %-8s n/a (%s)\n", name, shape_names[int(s)],
				    std::strerror(errno));
			return;
		}
		auto t1 = clk::now();
		if (!prepare(kfd, s)) {
			std::printf("%-6s %-8s setup failed: %s\n", name, shape_names[int(s)],
				    std::strerror(errno));
			kevent_close(kfd);
			return;
		}
		auto t2 = clk::now();
		kevent_close(kfd);
		auto t3 = clk::now();
		closes.push_back(us(t3 - t2));
		total += (t1 - t0) + (t3 - t2);
	}
	std::sort(closes.begin(), closes.end());
	std::printf("%-6s %-8s close min %7.1f us  median %8.1f us  max %9.1f us  "
		    "init+close mean %8.1f us\n",
		    name, shape_names[int(s)], closes.front(), closes[closes.size() / 2],
		    closes.back(), us(total) / cycles);
}

} // namespace

int main(int argc, char **argv) {
	int cycles = argc > 1 ? std::atoi(argv[1]) : 2000;
	if (cycles <= 0)
		cycles = 1;
	for (int i = 0; i < 16; i++) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
			std::perror("socketpair");
			return 1;
		}
		sockets.push_back(sv[0]);
		sockets.push_back(sv[1]);
	}
	struct {
		unsigned flags;
		const char *name;
	} backends[] = {{KEVENT_INIT_EPOLL, "epoll"}, {KEVENT_INIT_URING, "uring"}};
	for (auto &b : backends)
		for (shape s : {shape::fresh, shape::waited, shape::watched, shape::timer})
			run(b.flags, b.name, s, cycles);
	for (int fd : sockets)
		close(fd);
	return 0;
}
