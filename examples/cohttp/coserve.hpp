// SPDX-License-Identifier: MIT
// coserve.hpp — the coroutines of examples/cohttp, shared with the
// benchmark server bench_cmp_kcoro (bench/compare/coro_kevent.cpp), so that
// `make bench` measures exactly what the example does: an acceptor, and per
// connection a coro::socket's recv, http::respond (examples/evserver/
// http.hpp) and send, every operation cancelled by one stop token.
#pragma once

#include <kevent/coro.hpp>

#include "coro_accept.h"
#include "evserver/http.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <span>
#include <stop_token>
#include <string>

namespace coserve {

namespace coro = kevent::coro;

struct counters {
	std::atomic<unsigned long> accepted{0}, closed{0}, requests{0}, bad_requests{0};
};

inline coro::task<void> serve(coro::io_context &ctx, int fd, std::stop_token stop, counters &n) {
	std::error_code ec;
	// A coro::socket: recv and send cost their own system call only
	// (kevent/coro/socket.hpp); it closes fd when the coroutine ends.
	coro::socket sock(ctx, fd, ec);
	if (ec) {
		::close(fd);
		++n.closed;
		co_return;
	}
	std::string in, out;
	bool close_after = false;
	char buf[16384];
	while (!close_after) {
		size_t got = co_await sock.recv(std::as_writable_bytes(std::span(buf)), 0, ec)
				     .stop_on(stop);
		if (ec || got == 0)
			break;
		in.append(buf, got);
		http::parsed r = http::respond(in, out, close_after);
		n.requests += r.requests;
		if (r.too_large)
			++n.bad_requests;
		while (!out.empty()) {
			size_t sent = co_await sock.send(std::as_bytes(std::span(out)), 0, ec)
					      .stop_on(stop);
			if (ec)
				break;
			out.erase(0, sent);
		}
		if (ec)
			break;
	}
	sock.close();
	++n.closed;
}

inline coro::task<void> acceptor(coro::io_context &ctx, int lfd, std::stop_token stop,
				 counters &n) {
	return example::accept_loop(ctx, lfd, stop, "cohttp", [&ctx, stop, &n](int fd) {
		++n.accepted;
		coro::spawn(ctx, serve(ctx, fd, stop, n));
	});
}

} // namespace coserve
