// SPDX-License-Identifier: MIT
// http_server.hpp — examples/evserver's HTTP server over any Loop, for the
// `http` workload: the same parser and response (examples/evserver/http.hpp),
// the same handling (accept until EAGAIN, read until EAGAIN, write until done
// or EAGAIN, write interest only while output is pending), TCP_NODELAY.
//
//   bench_cmp_<library> http [port=N]
//
// Prints "listening on 127.0.0.1:PORT" and serves until killed (the runner
// sends SIGTERM once wrk is done; nothing is measured at exit).
#pragma once

#include "harness.hpp"
#include "http.hpp"
#include "workloads.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace bench {

template <class Loop> class http_server {
public:
	http_server(Loop &loop, int listen_fd) : loop_(loop), lfd_(listen_fd) {
		conns_.resize(fd_budget() + 64);
		for (auto &c : conns_)
			c.srv = this;
		loop_.io_start(listener_, lfd_, want_accept, on_accept, this);
	}

	void run() {
		for (;;)
			loop_.run_once(true);
	}

private:
	struct conn {
		http_server *srv = nullptr;
		int fd = -1;
		typename Loop::io io;
		std::string in, out;
		bool close_after = false, want_write = false;
	};

	static void on_accept(void *arg) {
		auto *s = static_cast<http_server *>(arg);
		for (;;) {
			int fd = ::accept4(s->lfd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
			if (fd < 0) {
				if (errno == EINTR || errno == ECONNABORTED)
					continue;
				return; // EAGAIN: drained; EMFILE: the next wake-up retries
			}
			if (size_t(fd) >= s->conns_.size()) {
				::close(fd);
				continue;
			}
			int one = 1;
			::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
			conn &c = s->conns_[size_t(fd)];
			c.fd = fd;
			c.in.clear();
			c.out.clear();
			c.close_after = c.want_write = false;
			s->loop_.io_start(c.io, fd, want_read, on_conn, &c);
		}
	}

	// Also called for a stale event of a closed connection (some loops may
	// deliver one from the batch it closed in): the fd check drops it, and
	// a connection that reused the number just finds nothing to read.
	static void on_conn(void *arg) {
		auto *c = static_cast<conn *>(arg);
		if (c->fd < 0)
			return;
		http_server &s = *c->srv;
		if (!s.read_all(*c)) {
			s.close_conn(*c);
			return;
		}
		(void)http::respond(c->in, c->out, c->close_after);
		if (!s.flush(*c))
			s.close_conn(*c);
	}

	bool read_all(conn &c) {
		char buf[16384];
		for (;;) {
			ssize_t n = ::read(c.fd, buf, sizeof buf);
			if (n > 0) {
				c.in.append(buf, size_t(n));
				continue;
			}
			if (n == 0)
				return false;
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK;
		}
	}

	bool flush(conn &c) {
		while (!c.out.empty()) {
			ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
			if (n > 0) {
				c.out.erase(0, size_t(n));
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				set_write(c, true);
				return true;
			}
			return false;
		}
		if (c.close_after)
			return false;
		set_write(c, false);
		return true;
	}

	void set_write(conn &c, bool on) {
		if (c.want_write == on)
			return;
		loop_.io_set_write(c.io, on);
		c.want_write = on;
	}

	void close_conn(conn &c) {
		loop_.io_close(c.io);
		::close(c.fd);
		c.fd = -1;
	}

	Loop &loop_;
	int lfd_;
	typename Loop::io listener_;
	std::vector<conn> conns_; // by fd number: never freed while the loop runs
};

template <class Loop> int run_http(const options &o) {
	::signal(SIGPIPE, SIG_IGN);
	int lfd = http::open_listener(unsigned(o.num("port", 0)));
	if (lfd < 0)
		die("listen on 127.0.0.1");
	sockaddr_in bound{};
	socklen_t len = sizeof bound;
	::getsockname(lfd, reinterpret_cast<sockaddr *>(&bound), &len);
	Loop loop(o);
	http_server<Loop> srv(loop, lfd);
	loop.run_once(false);
	std::printf("listening on 127.0.0.1:%u\n", unsigned(ntohs(bound.sin_port)));
	std::fflush(stdout);
	srv.run();
	return 0;
}

// main() of every bench_cmp_<library>.
template <class Loop> int bench_main(int argc, char **argv) {
	if (argc < 2) {
		std::fprintf(stderr,
			     "usage: %s pipes|million_timers|timer_churn|ping_pongs|"
			     "async_pummel|idle_scaling|memory|http [key=value ...]\n",
			     argv[0]);
		return 2;
	}
	std::string_view w = argv[1];
	options o(argc, argv, 2);
	if (w == "pipes")
		return run_pipes<Loop>(o);
	if (w == "million_timers")
		return run_million_timers<Loop>(o);
	if (w == "timer_churn")
		return run_timer_churn<Loop>(o);
	if (w == "ping_pongs")
		return run_ping_pongs<Loop>(o);
	if (w == "idle_scaling")
		return run_idle_scaling<Loop>(o);
	if (w == "async_pummel")
		return run_async_pummel<Loop>(o);
	if (w == "memory")
		return run_memory<Loop>(o);
	if (w == "http")
		return run_http<Loop>(o);
	std::fprintf(stderr, "%s: unknown workload '%s'\n", argv[0], argv[1]);
	return 2;
}

} // namespace bench
