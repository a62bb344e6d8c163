// SPDX-License-Identifier: MIT
// evload — a bounded HTTP/1.1 load client for evserver (and any server that
// answers with a Content-Length).
//
// It opens -c keep-alive connections to 127.0.0.1:PORT, keeps one request in
// flight on each, and stops at -d seconds or after -n requests, whichever
// comes first; then it prints requests/s and latency percentiles.
//
// It uses plain epoll(7), not libkevent, on purpose: a measuring tool that
// shares the library under test would hide that library's bugs and costs.
//
//   evload -p PORT [-c CONNECTIONS] [-d SECONDS] [-n MAX_REQUESTS] [--path /]
//
// Exit status: 0 when at least one request succeeded and none failed.
// Only for the shared command-line helpers: evload makes no kevent call.
#include "example_args.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

// Bounds, so that a typo cannot turn a smoke test into a flood.
constexpr long max_connections = 10000;
constexpr double max_seconds = 3600;
constexpr uint64_t default_cap = 5000000;
constexpr uint64_t max_cap = 100000000;

struct options {
	unsigned port = 0;
	long connections = 10;
	double seconds = 5;
	uint64_t cap = default_cap;
	std::string path = "/";
};

enum class conn_state { connecting, waiting, idle, closed };

struct conn {
	int fd = -1;
	conn_state state = conn_state::closed;
	std::string in;
	clock_type::time_point sent;
};

struct results {
	uint64_t ok = 0;
	uint64_t bad_status = 0;
	uint64_t io_errors = 0;
	uint64_t connect_errors = 0;
	uint64_t reconnects = 0;
	std::vector<uint64_t> latency_ns;
};

// The usage text, with the limits filled in once.
const char *usage() {
	static char text[512];
	if (!text[0])
		std::snprintf(text, sizeof text,
			      "usage: evload -p PORT [-c CONNECTIONS] [-d SECONDS] [-n "
			      "MAX_REQUESTS] "
			      "[--path PATH]\n"
			      "  the load client of evserver (plain epoll, no libkevent)\n"
			      "  -p PORT         server port on 127.0.0.1 (required)\n"
			      "  -c CONNECTIONS  keep-alive connections (default 10, at most %ld)\n"
			      "  -d SECONDS      duration (default 5, at most %.0f)\n"
			      "  -n MAX          hard cap on requests (default %llu, at most "
			      "%llu)\n"
			      "  --path PATH     the request's path (default /)\n",
			      max_connections, max_seconds,
			      static_cast<unsigned long long>(default_cap),
			      static_cast<unsigned long long>(max_cap));
	return text;
}

options parse_args(int argc, char **argv) {
	options o;
	for (int i = 1; i < argc; ++i) {
		std::string_view a = argv[i];
		if (a == "-h" || a == "--help")
			example_help(usage());
		if (a == "-p" || a == "--port") {
			o.port = static_cast<unsigned>(
				example_number(example_value(argc, argv, &i, "evload", usage()), 1,
					       65535, argv[i - 1], "evload", usage()));
		} else if (a == "-c" || a == "--connections") {
			o.connections =
				example_number(example_value(argc, argv, &i, "evload", usage()), 1,
					       max_connections, argv[i - 1], "evload", usage());
		} else if (a == "-d" || a == "--duration") {
			const char *v = example_value(argc, argv, &i, "evload", usage());
			char *end = nullptr;
			o.seconds = std::strtod(v, &end);
			if (*end == 's')
				++end;
			if (end == v || *end || !(o.seconds > 0) || o.seconds > max_seconds)
				example_bad_arg("evload", usage(),
						"%s: '%s' is not a duration in seconds",
						argv[i - 1], v);
		} else if (a == "-n" || a == "--requests") {
			const char *v = example_value(argc, argv, &i, "evload", usage());
			char *end = nullptr;
			unsigned long long n = std::strtoull(v, &end, 10);
			if (end == v || *end || n == 0 || n > max_cap)
				example_bad_arg("evload", usage(),
						"%s: '%s' is not a number from 1 to %llu",
						argv[i - 1], v,
						static_cast<unsigned long long>(max_cap));
			o.cap = n;
		} else if (a == "--path") {
			const char *v = example_value(argc, argv, &i, "evload", usage());
			if (*v != '/')
				example_bad_arg("evload", usage(),
						"--path: '%s' does not start with /", v);
			o.path = v;
		} else {
			example_bad_arg("evload", usage(), "unknown option '%s'", argv[i]);
		}
	}
	if (o.port == 0)
		example_bad_arg("evload", usage(), "which port? (-p PORT)");
	return o;
}

class load {
public:
	explicit load(const options &o) : opt_(o), conns_(static_cast<size_t>(o.connections)) {
		request_ = "GET " + o.path +
			   " HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: evload\r\n\r\n";
		res_.latency_ns.reserve(static_cast<size_t>(std::min<uint64_t>(o.cap, 1u << 22)));
	}

	~load() {
		for (conn &c : conns_)
			if (c.fd >= 0)
				::close(c.fd);
		if (ep_ >= 0)
			::close(ep_);
	}

	bool run() {
		ep_ = ::epoll_create1(EPOLL_CLOEXEC);
		if (ep_ < 0) {
			std::perror("evload: epoll_create1");
			return false;
		}
		start_ = clock_type::now();
		auto deadline = start_ + std::chrono::duration_cast<clock_type::duration>(
						 std::chrono::duration<double>(opt_.seconds));
		for (size_t i = 0; i < conns_.size(); ++i)
			open_conn(i);

		std::vector<epoll_event> evs(256);
		// Phase 1 until the deadline or the cap; phase 2 lets what is in
		// flight finish (at most 2 s), so the tail is not cut off.
		auto drain_deadline = deadline + std::chrono::seconds(2);
		while (true) {
			auto now = clock_type::now();
			if (!stopping_ && (now >= deadline || issued_ >= opt_.cap)) {
				stopping_ = true;
				end_ = now;
			}
			if (stopping_ && (in_flight() == 0 || now >= drain_deadline))
				break;
			if (!stopping_ && live() == 0 && !any_can_reconnect())
				break;
			auto until = stopping_ ? drain_deadline : deadline;
			auto ms = std::chrono::ceil<std::chrono::milliseconds>(until - now).count();
			int n = ::epoll_wait(ep_, evs.data(), static_cast<int>(evs.size()),
					     static_cast<int>(std::max<long long>(
						     0, std::min<long long>(ms, 1000))));
			if (n < 0) {
				if (errno == EINTR)
					continue;
				std::perror("evload: epoll_wait");
				return false;
			}
			for (int i = 0; i < n; ++i)
				on_event(evs[static_cast<size_t>(i)].data.u64,
					 evs[static_cast<size_t>(i)].events);
		}
		if (!stopping_)
			end_ = clock_type::now();
		return true;
	}

	void report() {
		double secs = std::chrono::duration<double>(end_ - start_).count();
		if (secs <= 0)
			secs = 1e-9;
		std::printf("evload: 127.0.0.1:%u, %ld connections, %.2f s, cap %llu requests\n",
			    opt_.port, opt_.connections, secs,
			    static_cast<unsigned long long>(opt_.cap));
		std::printf("requests: %llu ok, %llu bad status, %llu I/O errors, %llu connect "
			    "errors, "
			    "%llu reconnects\n",
			    static_cast<unsigned long long>(res_.ok),
			    static_cast<unsigned long long>(res_.bad_status),
			    static_cast<unsigned long long>(res_.io_errors),
			    static_cast<unsigned long long>(res_.connect_errors),
			    static_cast<unsigned long long>(res_.reconnects));
		std::printf("requests/s: %.1f\n", static_cast<double>(res_.ok) / secs);
		auto &l = res_.latency_ns;
		if (l.empty()) {
			std::printf("latency: no samples\n");
			return;
		}
		std::sort(l.begin(), l.end());
		auto pct = [&](double p) {
			size_t idx = static_cast<size_t>(
				p / 100.0 * static_cast<double>(l.size() - 1) + 0.5);
			return static_cast<double>(l[std::min(idx, l.size() - 1)]) / 1e3;
		};
		std::printf("latency: p50=%.1fus p90=%.1fus p99=%.1fus max=%.1fus\n", pct(50),
			    pct(90), pct(99), static_cast<double>(l.back()) / 1e3);
	}

	bool success() const {
		return res_.ok > 0 && res_.bad_status == 0 && res_.io_errors == 0 &&
		       res_.connect_errors == 0;
	}

private:
	size_t in_flight() const {
		size_t n = 0;
		for (const conn &c : conns_)
			n += c.state == conn_state::waiting;
		return n;
	}
	size_t live() const {
		size_t n = 0;
		for (const conn &c : conns_)
			n += c.state != conn_state::closed;
		return n;
	}
	bool any_can_reconnect() const { return res_.connect_errors < 100; }

	void open_conn(size_t i) {
		conn &c = conns_[i];
		c = conn{};
		int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			std::perror("evload: socket");
			++res_.connect_errors;
			return;
		}
		int one = 1;
		::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		sockaddr_in sa{};
		sa.sin_family = AF_INET;
		sa.sin_port = htons(static_cast<uint16_t>(opt_.port));
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (::connect(fd, reinterpret_cast<sockaddr *>(&sa), sizeof sa) < 0 &&
		    errno != EINPROGRESS) {
			report_connect_error(errno);
			::close(fd);
			return;
		}
		c.fd = fd;
		c.state = conn_state::connecting;
		// Level-triggered: EPOLLOUT until connected, then EPOLLIN only, so
		// the steady state costs one read and one write per request and no
		// epoll_ctl.
		epoll_event ev{};
		ev.events = EPOLLOUT | EPOLLIN;
		ev.data.u64 = i;
		if (::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) < 0) {
			std::perror("evload: epoll_ctl");
			close_conn(c);
			++res_.connect_errors;
		}
	}

	void report_connect_error(int e) {
		if (res_.connect_errors++ < 5)
			std::fprintf(stderr, "evload: connect 127.0.0.1:%u: %s\n", opt_.port,
				     std::strerror(e));
	}

	void close_conn(conn &c) {
		if (c.fd >= 0)
			::close(c.fd); // also leaves the epoll set
		c.fd = -1;
		c.state = conn_state::closed;
	}

	void fail_and_reconnect(size_t i, bool counted_as_io_error) {
		conn &c = conns_[i];
		if (counted_as_io_error)
			++res_.io_errors;
		close_conn(c);
		if (!stopping_ && any_can_reconnect()) {
			++res_.reconnects;
			open_conn(i);
		}
	}

	void on_event(uint64_t i, uint32_t events) {
		conn &c = conns_[i];
		if (c.state == conn_state::connecting) {
			int err = 0;
			socklen_t len = sizeof err;
			::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
			if (err || (events & (EPOLLERR | EPOLLHUP))) {
				report_connect_error(err ? err : ECONNREFUSED);
				close_conn(c);
				if (!stopping_ && any_can_reconnect())
					open_conn(i);
				return;
			}
			if (!(events & EPOLLOUT))
				return;
			epoll_event ev{};
			ev.events = EPOLLIN;
			ev.data.u64 = i;
			::epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
			c.state = conn_state::idle;
			send_next(i);
			return;
		}
		if (c.state != conn_state::waiting) {
			// Data or EOF on an idle connection: the server closed it.
			if (c.state == conn_state::idle)
				fail_and_reconnect(i, false);
			return;
		}
		read_response(i);
	}

	void send_next(size_t i) {
		conn &c = conns_[i];
		if (stopping_ || issued_ >= opt_.cap) {
			c.state = conn_state::idle;
			return;
		}
		c.sent = clock_type::now();
		// The request is small; on a fresh or idle socket it always fits.
		ssize_t n = ::send(c.fd, request_.data(), request_.size(), MSG_NOSIGNAL);
		if (n != static_cast<ssize_t>(request_.size())) {
			if (res_.io_errors < 5)
				std::fprintf(stderr, "evload: send: %s\n",
					     n < 0 ? std::strerror(errno) : "short write");
			fail_and_reconnect(i, true);
			return;
		}
		++issued_;
		c.state = conn_state::waiting;
	}

	void read_response(size_t i) {
		conn &c = conns_[i];
		char buf[16384];
		for (;;) {
			ssize_t n = ::recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
			if (n > 0) {
				c.in.append(buf, static_cast<size_t>(n));
				if (static_cast<size_t>(n) < sizeof buf)
					break;
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				break;
			// EOF or error with a request outstanding.
			if (res_.io_errors < 5)
				std::fprintf(stderr, "evload: recv: %s\n",
					     n < 0 ? std::strerror(errno) : "connection closed");
			fail_and_reconnect(i, true);
			return;
		}
		size_t head_end = c.in.find("\r\n\r\n");
		if (head_end == std::string::npos)
			return;
		std::string_view head(c.in.data(), head_end);
		size_t body = content_length(head);
		size_t total = head_end + 4 + body;
		if (c.in.size() < total)
			return;
		auto latency = clock_type::now() - c.sent;
		bool ok = head.substr(0, 12) == "HTTP/1.1 200" || head.substr(0, 12) == "HTTP/1.0 "
											"200";
		bool server_closes = has_connection_close(head);
		c.in.erase(0, total);
		if (ok) {
			++res_.ok;
			if (res_.latency_ns.size() < opt_.cap)
				res_.latency_ns.push_back(static_cast<uint64_t>(
					std::chrono::duration_cast<std::chrono::nanoseconds>(latency)
						.count()));
		} else {
			if (res_.bad_status++ < 5)
				std::fprintf(
					stderr, "evload: unexpected status: %.*s\n",
					static_cast<int>(std::min<size_t>(head.find("\r\n"), 80)),
					head.data());
		}
		if (server_closes) {
			fail_and_reconnect(i, false);
			return;
		}
		c.state = conn_state::idle;
		send_next(i);
	}

	static bool starts_with_ci(std::string_view s, std::string_view p) {
		if (s.size() < p.size())
			return false;
		for (size_t k = 0; k < p.size(); ++k)
			if (std::tolower(static_cast<unsigned char>(s[k])) != p[k])
				return false;
		return true;
	}

	static std::string_view header(std::string_view head, std::string_view name_lower) {
		size_t pos = head.find("\r\n");
		while (pos != std::string_view::npos) {
			size_t start = pos + 2;
			size_t end = head.find("\r\n", start);
			std::string_view line = head.substr(
				start, end == std::string_view::npos ? end : end - start);
			if (starts_with_ci(line, name_lower)) {
				line.remove_prefix(name_lower.size());
				while (!line.empty() &&
				       (line.front() == ' ' || line.front() == '\t'))
					line.remove_prefix(1);
				return line;
			}
			pos = end;
		}
		return {};
	}

	static size_t content_length(std::string_view head) {
		std::string v(header(head, "content-length:"));
		return v.empty() ? 0 : static_cast<size_t>(std::strtoull(v.c_str(), nullptr, 10));
	}

	static bool has_connection_close(std::string_view head) {
		std::string_view v = header(head, "connection:");
		return starts_with_ci(v, "close");
	}

	options opt_;
	std::vector<conn> conns_;
	std::string request_;
	results res_;
	int ep_ = -1;
	uint64_t issued_ = 0;
	bool stopping_ = false;
	clock_type::time_point start_, end_;
};

} // namespace

int main(int argc, char **argv) {
	options o = parse_args(argc, argv);
	::signal(SIGPIPE, SIG_IGN);
	load l(o);
	if (!l.run())
		return 1;
	l.report();
	return l.success() ? 0 : 1;
}
