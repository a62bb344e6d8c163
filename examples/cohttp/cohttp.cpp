// SPDX-License-Identifier: MIT
// cohttp — examples/evserver's HTTP/1.1 server written with coroutines
// (kevent/coro.hpp): the same parser and answers (evserver/http.hpp), one
// coroutine per connection doing recv, parse, send on the asynchronous
// socket calls (kevent_aio_recv(3) ...), an acceptor coroutine, and one
// coroutine per stop signal.
//
//   cohttp [--port N] [--threads N] [--backend auto|epoll|uring]
//
// --port 0 (the default) picks an ephemeral port, printed as "listening on
// 127.0.0.1:PORT". --threads N runs the io_context from N threads (one
// queue; each event resumes its coroutine on the thread that took it).
// SIGINT or SIGTERM stops it: every operation is cancelled through one
// std::stop_source, every coroutine ends, run() returns for lack of work,
// and the counters are printed.
#include <kevent/coro.hpp>

#include "example_args.h"

#include "cohttp/coserve.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace coro = kevent::coro;

namespace {

// The queue consumes the signal (KEVENT_SIGNAL_NOMASK): no handler runs.
coro::task<void> stop_on_signal(coro::io_context &ctx, int signo, std::stop_source &src) {
	std::error_code ec;
	co_await coro::signal(ctx, signo, true, ec).stop_on(src.get_token());
	src.request_stop();
}

const char usage[] = "usage: cohttp [--port N] [--threads N] [--backend " EXAMPLE_BACKEND_HELP "]\n"
		     "  evserver's HTTP/1.1 server, written with coroutines (kevent/coro.hpp)\n"
		     "  --port N     listen on 127.0.0.1:N (0 = ephemeral, the default)\n"
		     "  --threads N  run the io_context from N threads (default 1)\n"
		     "  --backend B  kevent backend (default auto: epoll)\n";

} // namespace

int main(int argc, char **argv) {
	unsigned port = 0, threads = 1;
	unsigned be = KEVENT_INIT_AUTO;
	for (int i = 1; i < argc; ++i) {
		std::string_view a = argv[i];
		if (a == "--port")
			port = static_cast<unsigned>(
				example_number(example_value(argc, argv, &i, "cohttp", usage), 0,
					       65535, "--port", "cohttp", usage));
		else if (a == "--threads")
			threads = static_cast<unsigned>(
				example_number(example_value(argc, argv, &i, "cohttp", usage), 1,
					       64, "--threads", "cohttp", usage));
		else if (a == "--backend")
			be = example_backend(example_value(argc, argv, &i, "cohttp", usage),
					     "cohttp", usage);
		else if (a == "-h" || a == "--help")
			example_help(usage);
		else
			example_bad_arg("cohttp", usage, "unknown option '%s'", argv[i]);
	}
	::signal(SIGPIPE, SIG_IGN);
	int lfd = http::open_listener(port);
	if (lfd < 0) {
		std::fprintf(stderr, "cohttp: listen on 127.0.0.1:%u: %s\n", port,
			     std::strerror(errno));
		return 1;
	}
	sockaddr_in bound{};
	socklen_t len = sizeof bound;
	::getsockname(lfd, reinterpret_cast<sockaddr *>(&bound), &len);

	std::error_code ec;
	kevent::queue q(static_cast<kevent::backend>(be), ec);
	if (ec) {
		std::fprintf(stderr, "cohttp: kevent_init: %s\n", ec.message().c_str());
		return 1;
	}
	coserve::counters n;
	{
		coro::io_context ctx(q);
		std::stop_source stop;
		coro::spawn(ctx, coserve::acceptor(ctx, lfd, stop.get_token(), n));
		coro::spawn(ctx, stop_on_signal(ctx, SIGINT, stop));
		coro::spawn(ctx, stop_on_signal(ctx, SIGTERM, stop));
		std::printf("listening on 127.0.0.1:%u\n", ntohs(bound.sin_port));
		std::fflush(stdout);
		std::vector<std::thread> more;
		for (unsigned i = 1; i < threads; ++i)
			more.emplace_back([&ctx] { ctx.run(); });
		ctx.run();
		for (auto &t : more)
			t.join();
	}
	std::printf("cohttp: accepted=%lu closed=%lu requests=%lu bad_requests=%lu\n",
		    n.accepted.load(), n.closed.load(), n.requests.load(), n.bad_requests.load());
	::close(lfd);
	return 0;
}
