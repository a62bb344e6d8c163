// SPDX-License-Identifier: MIT
// echo_load — the client of the echo workload of bench/run.py (what wrk is
// to the http workload): conns TCP connections to 127.0.0.1:port, each
// with one message of size bytes in flight; when all of it has come back,
// the next is sent. After a warm-up of 0.2 s it counts the round trips of
// seconds seconds and prints
//   RESULT roundtrips_per_s=R roundtrips=N all=A
// (A counts the warm-up too: all the server did while this ran, which is
// what a syscall count of the server's whole run is divided by).
// It uses plain epoll(7), not libkevent, on purpose: a measuring tool that
// shares the library under test would hide that library's costs.
//
//   bench_echo_load port=N [conns=100] [seconds=1] [size=64]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

struct conn {
	int fd = -1;
	size_t got = 0; // bytes of the current message echoed back so far
};

[[noreturn]] void die(const char *what) {
	std::printf("UNAVAILABLE echo_load: %s: %s\n", what, std::strerror(errno));
	std::exit(0);
}

} // namespace

int main(int argc, char **argv) {
	unsigned port = 0, conns = 100;
	size_t size = 64;
	double seconds = 1;
	for (int i = 1; i < argc; ++i) {
		std::string_view a = argv[i];
		if (a.starts_with("port="))
			port = static_cast<unsigned>(std::atoi(argv[i] + 5));
		else if (a.starts_with("conns="))
			conns = static_cast<unsigned>(std::atoi(argv[i] + 6));
		else if (a.starts_with("seconds="))
			seconds = std::atof(argv[i] + 8);
		else if (a.starts_with("size="))
			size = static_cast<size_t>(std::atoi(argv[i] + 5));
	}
	if (!port || !conns || !size || size > 65536 || seconds <= 0) {
		std::fprintf(stderr, "usage: bench_echo_load port=N [conns=100] [seconds=1] "
				     "[size=64]\n");
		return 2;
	}
	::signal(SIGPIPE, SIG_IGN);
	std::vector<char> msg(size, 'e'), buf(65536);
	std::vector<conn> cs(conns);
	int ep = ::epoll_create1(EPOLL_CLOEXEC);
	sockaddr_in sa{};
	sa.sin_family = AF_INET;
	sa.sin_port = htons(static_cast<uint16_t>(port));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (unsigned i = 0; i < conns; ++i) {
		int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr *>(&sa), sizeof sa) < 0)
			die("connect");
		int one = 1;
		::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		cs[i].fd = fd;
		epoll_event ev{};
		ev.events = EPOLLIN;
		ev.data.u32 = i;
		if (::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
			die("epoll_ctl");
		// Blocking sockets: a message this small is always sent whole.
		if (::send(fd, msg.data(), size, 0) != static_cast<ssize_t>(size))
			die("send");
	}
	auto start = clock_type::now();
	auto warm = start + std::chrono::milliseconds(200);
	auto end = warm + std::chrono::duration<double>(seconds);
	bool counting = false;
	unsigned long trips = 0, all = 0;
	epoll_event evs[256];
	for (;;) {
		auto now = clock_type::now();
		if (!counting && now >= warm) {
			counting = true;
			trips = 0;
			start = now;
		}
		if (counting && now >= end)
			break;
		int n = ::epoll_wait(ep, evs, 256, 100);
		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (int k = 0; k < n; ++k) {
			conn &c = cs[evs[k].data.u32];
			ssize_t r = ::recv(c.fd, buf.data(), buf.size(), MSG_DONTWAIT);
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
				die("recv (the server closed or failed)");
			if (r < 0)
				continue;
			c.got += static_cast<size_t>(r);
			if (c.got > size)
				die("recv (more came back than was sent)");
			if (c.got < size)
				continue;
			c.got = 0;
			++trips;
			++all;
			if (::send(c.fd, msg.data(), size, 0) != static_cast<ssize_t>(size))
				die("send");
		}
	}
	double secs = std::chrono::duration<double>(clock_type::now() - start).count();
	std::printf("RESULT roundtrips_per_s=%.1f roundtrips=%lu all=%lu\n",
		    static_cast<double>(trips) / secs, trips, all);
	for (conn &c : cs)
		::close(c.fd);
	::close(ep);
	return 0;
}
