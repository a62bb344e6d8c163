// SPDX-License-Identifier: MIT
// coro_accept.h — the acceptor coroutine the coroutine examples share
// (cohttp, coecho; the benchmark server bench_cmp_kcoro through cohttp):
// accept until the stop token is stopped, TCP_NODELAY on each new socket,
// then on_conn(fd) (which spawns the connection's coroutine). C++20.
#pragma once

#include <kevent/coro.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstdio>
#include <stop_token>
#include <system_error>

namespace example {

template <class OnConn>
kevent::coro::task<void> accept_loop(kevent::coro::io_context &ctx, int lfd, std::stop_token stop,
				     const char *prog, OnConn on_conn) {
	for (;;) {
		std::error_code ec;
		int fd = co_await kevent::coro::accept(ctx, lfd, SOCK_NONBLOCK | SOCK_CLOEXEC, ec)
				 .stop_on(stop);
		if (ec == std::errc::operation_canceled)
			co_return;
		if (ec) {
			std::fprintf(stderr, "%s: accept: %s\n", prog, ec.message().c_str());
			continue;
		}
		int one = 1;
		::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		on_conn(fd);
	}
}

} // namespace example
