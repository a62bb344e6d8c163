// SPDX-License-Identifier: MIT
// echo_naio — single-thread echo round trips: one byte over a socketpair,
// echoed back, both ends in one loop. Three loops, the same work:
//   raw     epoll_wait + read/write on readiness (the floor for readiness)
//   epoll   libkevent NAIO (kevent_aio_recv/send) on the epoll backend
//   uring   libkevent NAIO on the io_uring backend
//
//   echo_naio raw|epoll|uring [SECONDS]
//
// Prints round trips per second and, with `perf stat -e
// raw_syscalls:sys_enter`, syscalls per echoed message follow from the
// printed count (docs/benchmarks.md has the command).
#include <kevent/kevent.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using clock_type = std::chrono::steady_clock;

long raw_loop(int client, int server, double seconds) {
	int ep = epoll_create1(EPOLL_CLOEXEC);
	epoll_event ev{};
	ev.events = EPOLLIN;
	ev.data.fd = server;
	epoll_ctl(ep, EPOLL_CTL_ADD, server, &ev);
	ev.data.fd = client;
	epoll_ctl(ep, EPOLL_CTL_ADD, client, &ev);
	char c = 'x';
	long trips = 0;
	auto end = clock_type::now() + std::chrono::duration<double>(seconds);
	if (write(client, &c, 1) != 1)
		return -1;
	while (clock_type::now() < end) {
		epoll_event got[2];
		int n = epoll_wait(ep, got, 2, -1);
		for (int i = 0; i < n; i++) {
			if (read(got[i].data.fd, &c, 1) != 1)
				return -1;
			if (got[i].data.fd == client)
				trips++; // the echo came back: send the next
			if (write(got[i].data.fd, &c, 1) != 1)
				return -1;
		}
	}
	close(ep);
	return trips;
}

long kevent_loop(unsigned flags, int client, int server, double seconds) {
	int kfd = kevent_init(nullptr, 0, flags);
	if (kfd < 0) {
		std::perror("kevent_init");
		return -1;
	}
	char cbuf = 'x', sbuf = 0;
	// cookie 1: the server's recv, 2: its send, 3: the client's recv.
	kevent_aio_recv(kfd, server, &sbuf, 1, 0, 1);
	kevent_aio_recv(kfd, client, &cbuf, 1, 0, 3);
	char out = 'x';
	kevent_aio_send(kfd, client, &out, 1, 0, 0);
	long trips = 0;
	auto end = clock_type::now() + std::chrono::duration<double>(seconds);
	ukevent ev[8];
	while (clock_type::now() < end) {
		int n = kevent_get_events(kfd, 1, 8, nullptr, ev, 0);
		for (int i = 0; i < n; i++) {
			if (ev[i].ret_flags & KEVENT_RET_BROKEN)
				return -1;
			switch (ev[i].user[0]) {
			case 1: // the server got a byte: echo it
				kevent_aio_send(kfd, server, &sbuf, 1, 0, 2);
				break;
			case 2: // echoed: wait for the next
				kevent_aio_recv(kfd, server, &sbuf, 1, 0, 1);
				break;
			case 3: // the client got its echo
				trips++;
				kevent_aio_recv(kfd, client, &cbuf, 1, 0, 3);
				kevent_aio_send(kfd, client, &out, 1, 0, 0);
				break;
			default: // the client's send completed
				break;
			}
		}
	}
	kevent_close(kfd);
	return trips;
}

} // namespace

int main(int argc, char **argv) {
	const char *mode = argc > 1 ? argv[1] : "raw";
	double seconds = argc > 2 ? std::atof(argv[2]) : 2.0;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		return 1;
	long trips;
	if (std::strcmp(mode, "raw") == 0)
		trips = raw_loop(sv[0], sv[1], seconds);
	else
		trips = kevent_loop(std::strcmp(mode, "uring") == 0 ? KEVENT_INIT_URING
								    : KEVENT_INIT_EPOLL,
				    sv[0], sv[1], seconds);
	if (trips < 0)
		return 1;
	std::printf("%s: %ld round trips in %.1f s = %.0f/s\n", mode, trips, seconds,
		    trips / seconds);
	return 0;
}
