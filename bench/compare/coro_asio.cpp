// SPDX-License-Identifier: MIT
// coro_asio.cpp — bench_cmp_asiocoro: the same http server as
// bench_cmp_kcoro (coro_kevent.cpp) written with standalone Asio's C++20
// coroutines (asio::awaitable, co_spawn, use_awaitable): one coroutine per
// connection doing async_read_some, http::respond, async_write; one
// io_context run by N threads. The rows asio-coro and asio-coro-2t.
// With `echo`, the same connection coroutine echoes what it reads, as
// examples/coecho does on libkevent (16 KiB buffer, the whole of each read
// written back before the next read).
//
//   bench_cmp_asiocoro http|echo [port=N] [threads=N]
#include "coro_args.hpp"
#include "http.hpp"

#include <asio.hpp>

#include <netinet/tcp.h>
#include <signal.h>

#include <cstdio>
#include <string>
#include <thread>
#include <vector>

namespace {

using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;

awaitable<void> serve(tcp::socket s) {
	std::string in, out;
	bool close_after = false;
	char buf[16384];
	try {
		while (!close_after) {
			size_t got = co_await s.async_read_some(asio::buffer(buf), use_awaitable);
			in.append(buf, got);
			(void)http::respond(in, out, close_after);
			co_await asio::async_write(s, asio::buffer(out), use_awaitable);
			out.clear();
		}
	} catch (const std::exception &) {
		// EOF or reset: the connection ends.
	}
}

awaitable<void> echo(tcp::socket s) {
	char buf[16384];
	try {
		for (;;) {
			size_t got = co_await s.async_read_some(asio::buffer(buf), use_awaitable);
			co_await asio::async_write(s, asio::buffer(buf, got), use_awaitable);
		}
	} catch (const std::exception &) {
		// EOF or reset: the connection ends.
	}
}

awaitable<void> acceptor(tcp::acceptor &a, bool echoes) {
	for (;;) {
		tcp::socket s = co_await a.async_accept(use_awaitable);
		s.set_option(tcp::no_delay(true));
		if (echoes)
			asio::co_spawn(a.get_executor(), echo(std::move(s)), asio::detached);
		else
			asio::co_spawn(a.get_executor(), serve(std::move(s)), asio::detached);
	}
}

} // namespace

int main(int argc, char **argv) {
	bench::coro_args args = bench::parse_coro_args(argc, argv, true);
	if (!args.http && !args.echo)
		return 0;
	unsigned port = args.port, threads = args.threads;
	::signal(SIGPIPE, SIG_IGN);
	asio::io_context ctx(static_cast<int>(threads));
	// The listener http.hpp opens for every server, adopted by Asio.
	int lfd = http::open_listener(port);
	if (lfd < 0) {
		std::printf("UNAVAILABLE listen failed\n");
		return 0;
	}
	tcp::acceptor a(ctx, tcp::v4(), lfd);
	asio::co_spawn(ctx, acceptor(a, args.echo), asio::detached);
	std::printf("listening on 127.0.0.1:%u\n", a.local_endpoint().port());
	std::fflush(stdout);
	std::vector<std::thread> more;
	for (unsigned i = 1; i < threads; ++i)
		more.emplace_back([&ctx] { ctx.run(); });
	ctx.run();
	return 0;
}
