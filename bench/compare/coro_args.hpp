// SPDX-License-Identifier: MIT
// coro_args.hpp — the command line of the two coroutine benchmark servers
// (coro_kevent.cpp, coro_asio.cpp): `http [port=N] [threads=N]
// [mode=epoll|uring]`; any other workload is UNAVAILABLE (bench/run.py
// shows the row as n/a for it).
#pragma once

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace bench {

struct coro_args {
	bool http = false;
	unsigned port = 0;
	unsigned threads = 1;
	std::string_view mode = "auto";
};

inline coro_args parse_coro_args(int argc, char **argv) {
	coro_args a;
	if (argc < 2 || std::string_view(argv[1]) != "http") {
		std::printf("UNAVAILABLE the coroutine rows run the http workload only\n");
		return a;
	}
	a.http = true;
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
