// SPDX-License-Identifier: MIT
// coecho — examples/echo written with coroutines (kevent/coro.hpp): an
// acceptor coroutine, and per connection one coroutine that recv()s and
// send()s back what came, on a coro::socket (kevent/coro/socket.hpp).
//
//   coecho [--threads N] [--backend auto|epoll|uring] [PORT]
//
// PORT defaults to 7007 (0 picks one); the port is printed as "listening
// on 127.0.0.1:PORT". SIGINT or SIGTERM cancels every operation and ends
// it.
#include <kevent/coro.hpp>

#include "coro_accept.h"
#include "example_args.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <thread>
#include <vector>

namespace coro = kevent::coro;

namespace {

coro::task<void> echo(coro::io_context &ctx, int fd, std::stop_token stop) {
	std::error_code ec;
	coro::socket sock(ctx, fd, ec); // owns fd from here: closes it at the end
	if (ec) {
		::close(fd);
		co_return;
	}
	std::byte buf[16384];
	for (;;) {
		size_t got = co_await sock.recv(buf, 0, ec).stop_on(stop);
		if (ec || got == 0)
			break;
		for (size_t off = 0; off < got && !ec;)
			off += co_await sock.send(std::span(buf + off, got - off), 0, ec)
				       .stop_on(stop);
		if (ec)
			break;
	}
}

coro::task<void> stop_on_signal(coro::io_context &ctx, int signo, std::stop_source &src) {
	std::error_code ec;
	co_await coro::signal(ctx, signo, true, ec).stop_on(src.get_token());
	src.request_stop();
}

const char usage[] = "usage: coecho [--threads N] [--backend " EXAMPLE_BACKEND_HELP "] [PORT]\n"
		     "  a TCP echo server written with coroutines (kevent/coro.hpp)\n"
		     "  PORT         listen on 127.0.0.1:PORT (default 7007; 0 picks one)\n"
		     "  --threads N  run the io_context from N threads (default 1)\n"
		     "  --backend B  kevent backend (default auto: epoll)\n";

} // namespace

int main(int argc, char **argv) {
	unsigned port = 7007, threads = 1, be = KEVENT_INIT_AUTO;
	for (int i = 1; i < argc; ++i) {
		std::string_view a = argv[i];
		if (a == "--threads")
			threads = static_cast<unsigned>(
				example_number(example_value(argc, argv, &i, "coecho", usage), 1,
					       64, "--threads", "coecho", usage));
		else if (a == "--backend")
			be = example_backend(example_value(argc, argv, &i, "coecho", usage),
					     "coecho", usage);
		else if (a == "-h" || a == "--help")
			example_help(usage);
		else if (a.starts_with("-"))
			example_bad_arg("coecho", usage, "unknown option '%s'", argv[i]);
		else
			port = static_cast<unsigned>(
				example_number(argv[i], 0, 65535, "PORT", "coecho", usage));
	}
	::signal(SIGPIPE, SIG_IGN);
	int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	sockaddr_in sa{};
	sa.sin_family = AF_INET;
	sa.sin_port = htons(static_cast<uint16_t>(port));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof sa;
	if (lfd < 0 || ::bind(lfd, reinterpret_cast<sockaddr *>(&sa), sizeof sa) < 0 ||
	    ::listen(lfd, 4096) < 0 ||
	    ::getsockname(lfd, reinterpret_cast<sockaddr *>(&sa), &len)) {
		std::fprintf(stderr, "coecho: listen on 127.0.0.1:%u: %s\n", port,
			     std::strerror(errno));
		return 1;
	}
	std::error_code ec;
	kevent::queue q(static_cast<kevent::backend>(be), ec);
	if (ec) {
		std::fprintf(stderr, "coecho: kevent_init: %s\n", ec.message().c_str());
		return 1;
	}
	{
		coro::io_context ctx(q);
		std::stop_source stop;
		coro::spawn(ctx, example::accept_loop(ctx, lfd, stop.get_token(), "coecho",
						      [&ctx, tok = stop.get_token()](int fd) {
							      coro::spawn(ctx, echo(ctx, fd, tok));
						      }));
		coro::spawn(ctx, stop_on_signal(ctx, SIGINT, stop));
		coro::spawn(ctx, stop_on_signal(ctx, SIGTERM, stop));
		std::printf("listening on 127.0.0.1:%u\n", ntohs(sa.sin_port));
		std::fflush(stdout);
		std::vector<std::thread> more;
		for (unsigned i = 1; i < threads; ++i)
			more.emplace_back([&ctx] { ctx.run(); });
		ctx.run();
		for (auto &t : more)
			t.join();
	}
	::close(lfd);
	return 0;
}
