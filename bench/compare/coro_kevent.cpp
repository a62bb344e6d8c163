// SPDX-License-Identifier: MIT
// coro_kevent.cpp — bench_cmp_kcoro: the http workload served by
// examples/cohttp's own coroutines (examples/cohttp/coserve.hpp) on
// libkevent's coroutine layer: one coroutine per connection doing recv,
// http::respond, send on the asynchronous socket calls; the io_context run
// by N threads. The rows kevent-coro and kevent-coro-2t of bench/run.py.
//
//   bench_cmp_kcoro http [port=N] [threads=N] [mode=epoll|uring]
//
// Prints "listening on 127.0.0.1:PORT" and serves until SIGTERM.
#include "coro_args.hpp"

#include "cohttp/coserve.hpp"

#include <signal.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

int main(int argc, char **argv) {
	bench::coro_args a = bench::parse_coro_args(argc, argv);
	if (!a.http)
		return 0;
	::signal(SIGPIPE, SIG_IGN);
	int lfd = http::open_listener(a.port);
	if (lfd < 0) {
		std::printf("UNAVAILABLE listen: %s\n", std::strerror(errno));
		return 0;
	}
	sockaddr_in sa{};
	socklen_t len = sizeof sa;
	::getsockname(lfd, reinterpret_cast<sockaddr *>(&sa), &len);
	kevent::backend be = a.mode == "epoll"   ? kevent::backend::epoll
			     : a.mode == "uring" ? kevent::backend::uring
						 : kevent::backend::automatic;
	kevent::queue q(be);
	kevent::coro::io_context ctx(q);
	std::stop_source never; // SIGTERM ends the process
	coserve::counters n;
	kevent::coro::spawn(ctx, coserve::acceptor(ctx, lfd, never.get_token(), n));
	std::printf("listening on 127.0.0.1:%u\n", ntohs(sa.sin_port));
	std::fflush(stdout);
	std::vector<std::thread> more;
	for (unsigned i = 1; i < a.threads; ++i)
		more.emplace_back([&ctx] { ctx.run(); });
	ctx.run();
	return 0;
}
