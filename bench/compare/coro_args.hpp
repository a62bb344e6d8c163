// SPDX-License-Identifier: MIT
// coro_args.hpp — the command line of the two coroutine benchmark servers
// (coro_kevent.cpp, coro_asio.cpp): `http|echo [port=N] [threads=N]
// [mode=epoll|uring]`; a workload the server does not serve is UNAVAILABLE
// (bench/run.py shows the row as n/a for it). The echo workload of
// libkevent is served by the examples themselves (examples/coecho,
// examples/echo), so only coro_asio.cpp accepts it.
#pragma once

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace bench {

struct coro_args {
	bool http = false;
	bool echo = false;
	unsigned port = 0;
	unsigned threads = 1;
	std::string_view mode = "auto";
};

inline coro_args parse_coro_args(int argc, char **argv, bool serves_echo = false) {
	coro_args a;
	std::string_view w = argc < 2 ? "" : argv[1];
	a.http = w == "http";
	a.echo = serves_echo && w == "echo";
	if (!a.http && !a.echo) {
		std::printf("UNAVAILABLE this server runs the %s workload only\n",
			    serves_echo ? "http and echo" : "http");
		return a;
	}
	for (int i = 2; i < argc; ++i) {
		std::string_view s = argv[i];
		if (s.starts_with("port="))
			a.port = static_cast<unsigned>(std::atoi(argv[i] + 5));
		else if (s.starts_with("threads="))
			a.threads = static_cast<unsigned>(std::max(1, std::atoi(argv[i] + 8)));
		else if (s.starts_with("mode="))
			a.mode = s.substr(5);
	}
	return a;
}

} // namespace bench
