// SPDX-License-Identifier: MIT
// coclient — an HTTP client written with coroutines (kevent/coro.hpp) whose
// every step has a deadline: connect, send the request, read the answer up
// to the end of its head, each inside with_timeout. Try it on cohttp or
// evserver:
//
//   coclient [--timeout MS] [--requests N] [--backend auto|epoll|uring] PORT
//
// Prints the status line of each answer; a step that takes longer than
// --timeout (default 1000 ms) ends it with "timed out" and exit status 1.
#include <kevent/coro.hpp>

#include "example_args.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <system_error>

namespace coro = kevent::coro;

namespace {

coro::task<int> client(coro::io_context &ctx, unsigned port, long requests,
		       std::chrono::milliseconds limit) {
	int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	sockaddr_in sa{};
	sa.sin_family = AF_INET;
	sa.sin_port = htons(static_cast<uint16_t>(port));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	try {
		co_await coro::with_timeout(
			ctx, coro::connect(ctx, fd, reinterpret_cast<sockaddr *>(&sa), sizeof sa),
			limit);
		constexpr std::string_view request = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
		std::string in;
		char buf[4096];
		for (long i = 0; i < requests; ++i) {
			co_await coro::with_timeout(
				ctx, coro::send(ctx, fd, std::as_bytes(std::span(request))), limit);
			size_t end;
			while ((end = in.find("\r\n\r\n")) == std::string::npos) {
				size_t n = co_await coro::with_timeout(
					ctx,
					coro::recv(ctx, fd, std::as_writable_bytes(std::span(buf))),
					limit);
				if (n == 0)
					throw std::system_error(
						std::make_error_code(std::errc::connection_reset));
				in.append(buf, n);
			}
			std::printf("%s\n", in.substr(0, in.find("\r\n")).c_str());
			// The body: Content-Length bytes after the head (evserver sends 6).
			size_t body = 0;
			if (auto cl = in.find("Content-Length: ");
			    cl != std::string::npos && cl < end)
				body = std::stoul(in.substr(cl + 16));
			while (in.size() < end + 4 + body) {
				size_t n = co_await coro::with_timeout(
					ctx,
					coro::recv(ctx, fd, std::as_writable_bytes(std::span(buf))),
					limit);
				if (n == 0)
					break;
				in.append(buf, n);
			}
			in.erase(0, std::min(in.size(), end + 4 + body));
		}
	} catch (const std::system_error &e) {
		std::fprintf(stderr, "coclient: %s\n",
			     e.code() == std::errc::timed_out ? "timed out"
							      : e.code().message().c_str());
		::close(fd);
		co_return 1;
	}
	::close(fd);
	co_return 0;
}

const char usage[] =
	"usage: coclient [--timeout MS] [--requests N] [--backend " EXAMPLE_BACKEND_HELP "] PORT\n"
	"  an HTTP client with a deadline on every step (kevent/coro.hpp, with_timeout)\n"
	"  PORT          the server's port on 127.0.0.1\n"
	"  --timeout MS  limit of each step (default 1000)\n"
	"  --requests N  requests on one connection (default 1)\n"
	"  --backend B   kevent backend (default auto: epoll)\n";

} // namespace

int main(int argc, char **argv) {
	long port = -1, timeout_ms = 1000, requests = 1;
	unsigned be = KEVENT_INIT_AUTO;
	for (int i = 1; i < argc; ++i) {
		std::string_view a = argv[i];
		if (a == "--timeout")
			timeout_ms =
				example_number(example_value(argc, argv, &i, "coclient", usage), 1,
					       3600000, "--timeout", "coclient", usage);
		else if (a == "--requests")
			requests = example_number(example_value(argc, argv, &i, "coclient", usage),
						  1, 1000000, "--requests", "coclient", usage);
		else if (a == "--backend")
			be = example_backend(example_value(argc, argv, &i, "coclient", usage),
					     "coclient", usage);
		else if (a == "-h" || a == "--help")
			example_help(usage);
		else if (a.starts_with("-"))
			example_bad_arg("coclient", usage, "unknown option '%s'", argv[i]);
		else
			port = example_number(argv[i], 1, 65535, "PORT", "coclient", usage);
	}
	if (port < 0)
		example_bad_arg("coclient", usage, "PORT is missing");
	coro::io_context ctx(static_cast<kevent::backend>(be));
	return coro::sync_wait(ctx, client(ctx, static_cast<unsigned>(port), requests,
					   std::chrono::milliseconds(timeout_ms)));
}
