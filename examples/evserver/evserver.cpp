// SPDX-License-Identifier: MIT
// evserver — a small HTTP/1.1 server on one kevent queue (the patches'
// evserver_kevent.c, in C++ over kevent.hpp).
//
// Every request gets the same static "Hello" response; connections are kept
// alive unless the request says "Connection: close" (or is HTTP/1.0 without
// "Connection: keep-alive"). Parsing is just enough for that: a request ends
// at "\r\n\r\n" (request bodies are not supported); it lives in http.hpp,
// shared with the benchmark servers of the other libraries.
//
// Events: KEVENT_SOCKET ACCEPT on the listening socket, RECV (and SEND while
// a response is only partly written) on each connection, KEVENT_POLL POLLIN
// on a signalfd for SIGINT/SIGTERM. All in the default mode, which reports
// *new* activity (an edge) and not what is left unread, so every handler
// drains: accept4 until EAGAIN, read until EAGAIN, write until done or
// EAGAIN.
//
//   evserver [--port N] [--stats] [--backend auto|epoll|uring]
//
// --port 0 (the default) picks an ephemeral port; the chosen one is printed
// as "listening on 127.0.0.1:PORT". On SIGINT/SIGTERM it stops, prints its
// counters (and with --stats the queue's kevent_get_stats), closes every
// connection and exits 0.
#include <kevent/kevent.hpp>

#include "example_args.h"

#include "http.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace {

// Cookies: small numbers name the fixed sources, connections get ids from
// first_conn_id up. Ids (not pointers) so that a late event can never reach
// a freed or reused connection.
constexpr uint64_t listener_cookie = 1;
constexpr uint64_t signal_cookie = 2;
constexpr uint64_t first_conn_id = 16;

struct counters {
	uint64_t accepted = 0;
	uint64_t closed = 0;
	uint64_t requests = 0;
	uint64_t bad_requests = 0;
	uint64_t events = 0;
	uint64_t get_events_calls = 0;
};

struct connection {
	int fd = -1;
	uint64_t id = 0;
	std::string in;           // unparsed bytes
	std::string out;          // response bytes not yet written
	bool close_after = false; // close once out is flushed
	bool want_send = false;   // SEND is in the registration
};

class server {
public:
	server(kevent::queue &q, int listen_fd, int signal_fd)
	    : q_(q), listen_fd_(listen_fd), signal_fd_(signal_fd) {}

	void run() {
		std::array<ukevent, 256> buf{};
		while (!stop_) {
			++stats_.get_events_calls;
			std::error_code ec;
			auto got = q_.get_events(buf, 1, std::nullopt, ec);
			if (ec) {
				std::fprintf(stderr, "evserver: kevent_get_events: %s\n",
					     ec.message().c_str());
				failed_ = true;
				return;
			}
			for (const ukevent &ev : got) {
				++stats_.events;
				dispatch(ev);
			}
		}
	}

	// Closes every connection (REMOVE then close) so the queue ends empty.
	void shutdown_all() {
		while (!conns_.empty())
			close_conn(*conns_.begin()->second);
	}

	const counters &stats() const { return stats_; }
	bool failed() const { return failed_; }
	size_t open_connections() const { return conns_.size(); }

private:
	void dispatch(const ukevent &ev) {
		uint64_t cookie = kevent::cookie_u64(ev);
		if (cookie == listener_cookie) {
			if (kevent::broken(ev)) {
				std::fprintf(stderr, "evserver: listening socket broken: %s\n",
					     kevent::error_of(ev).message().c_str());
				failed_ = stop_ = true;
				return;
			}
			accept_all();
		} else if (cookie == signal_cookie) {
			on_signal();
		} else {
			auto it = conns_.find(cookie);
			if (it == conns_.end())
				return; // already closed in this batch
			on_conn(*it->second, ev);
		}
	}

	void on_signal() {
		signalfd_siginfo si;
		while (::read(signal_fd_, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
			std::fprintf(stderr, "evserver: %s, stopping\n",
				     strsignal(static_cast<int>(si.ssi_signo)));
			stop_ = true;
		}
	}

	void accept_all() {
		for (;;) {
			int fd = ::accept4(listen_fd_, nullptr, nullptr,
					   SOCK_NONBLOCK | SOCK_CLOEXEC);
			if (fd < 0) {
				if (errno == EINTR || errno == ECONNABORTED)
					continue;
				if (errno != EAGAIN && errno != EWOULDBLOCK)
					std::fprintf(stderr, "evserver: accept4: %s\n",
						     std::strerror(errno));
				return; // EAGAIN: drained; EMFILE etc.: the next edge retries
			}
			int one = 1;
			::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
			auto c = std::make_unique<connection>();
			c->fd = fd;
			c->id = next_id_++;
			// always_queue: if the request is already there at ADD, keep the
			// registration and deliver it as an event rather than copying it
			// back unregistered.
			ukevent uk = kevent::socket_event(fd, kevent::socket::recv)
					     .always_queue()
					     .cookie(c->id);
			std::error_code ec;
			auto back = q_.add(uk, ec);
			if (ec || !back.empty()) {
				std::fprintf(
					stderr, "evserver: ADD connection: %s\n",
					(ec ? ec : kevent::error_of(back[0])).message().c_str());
				::close(fd);
				continue;
			}
			++stats_.accepted;
			conns_.emplace(c->id, std::move(c));
		}
	}

	void on_conn(connection &c, const ukevent &ev) {
		bool peer_gone = kevent::broken(ev);
		// Read what is there (also on BROKEN: a request may precede the
		// hang-up, though its answer may not be deliverable).
		if (!read_all(c) || peer_gone) {
			close_conn(c, /*registered=*/!peer_gone);
			return;
		}
		parse(c);
		if (!flush(c))
			close_conn(c);
	}

	// Reads until EAGAIN. False when the connection should close (EOF,
	// error, request too large).
	bool read_all(connection &c) {
		char buf[16384];
		for (;;) {
			ssize_t n = ::read(c.fd, buf, sizeof buf);
			if (n > 0) {
				c.in.append(buf, static_cast<size_t>(n));
				continue;
			}
			if (n == 0)
				return false; // EOF: the client is done
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK;
		}
	}

	void parse(connection &c) {
		http::parsed r = http::respond(c.in, c.out, c.close_after);
		stats_.requests += r.requests;
		if (r.too_large)
			++stats_.bad_requests;
	}

	// Writes until done or EAGAIN; keeps SEND in the registration exactly
	// while output is pending. False when the connection should close.
	bool flush(connection &c) {
		while (!c.out.empty()) {
			ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
			if (n > 0) {
				c.out.erase(0, static_cast<size_t>(n));
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				return set_send(c, true);
			return false;
		}
		if (c.close_after)
			return false;
		return set_send(c, false);
	}

	bool set_send(connection &c, bool on) {
		if (c.want_send == on)
			return true;
		auto bits = on ? kevent::socket::recv | kevent::socket::send : kevent::socket::recv;
		ukevent uk = kevent::socket_event(c.fd, bits).cookie(c.id);
		std::error_code ec;
		auto back = q_.modify(uk, ec);
		if (ec || kevent::broken(back[0]))
			return false;
		c.want_send = on;
		return true;
	}

	void close_conn(connection &c, bool registered = true) {
		if (registered) {
			ukevent uk = kevent::socket_event(c.fd, kevent::socket::recv);
			std::error_code ec;
			(void)q_.remove(uk, ec); // BROKEN (already gone) is fine here
		}
		::close(c.fd);
		++stats_.closed;
		conns_.erase(c.id); // destroys c
	}

	kevent::queue &q_;
	int listen_fd_;
	int signal_fd_;
	bool stop_ = false;
	bool failed_ = false;
	uint64_t next_id_ = first_conn_id;
	counters stats_;
	std::unordered_map<uint64_t, std::unique_ptr<connection>> conns_;
};

void print_queue_stats(const kevent_stats &st) {
	static const char *const names[KEVENT_MAX] = {"socket",      "inode",   "timer", "poll",
						      "naio",        "aio",     "pipe",  "signal",
						      "posix_timer", "unotify", "proc"};
	std::printf("kevent stats: backend=%s queues=%llu registered=%llu ready=%llu "
		    "inflight_io=%llu\n",
		    example_backend_name(st.backend), static_cast<unsigned long long>(st.queues),
		    static_cast<unsigned long long>(st.registered),
		    static_cast<unsigned long long>(st.ready),
		    static_cast<unsigned long long>(st.inflight_io));
	std::printf("kevent stats: registered by origin:");
	for (unsigned t = 0; t < KEVENT_MAX; ++t)
		if (st.registered_by_type[t])
			std::printf(" %s=%llu", names[t],
				    static_cast<unsigned long long>(st.registered_by_type[t]));
	std::printf("\n");
	std::printf("kevent stats: added=%llu removed=%llu delivered=%llu broken=%llu wakeups=%llu "
		    "backend_calls=%llu\n",
		    static_cast<unsigned long long>(st.added),
		    static_cast<unsigned long long>(st.removed),
		    static_cast<unsigned long long>(st.delivered),
		    static_cast<unsigned long long>(st.broken),
		    static_cast<unsigned long long>(st.wakeups),
		    static_cast<unsigned long long>(st.backend_calls));
}

const char usage[] = "usage: evserver [--port N] [--stats] [--backend " EXAMPLE_BACKEND_HELP "]\n"
		     "  an HTTP/1.1 server on one kevent queue\n"
		     "  --port N     listen on 127.0.0.1:N (0 = ephemeral, the default)\n"
		     "  --stats      print the queue's kevent statistics at exit\n"
		     "  --backend B  kevent backend (default auto: epoll)\n";

} // namespace

int main(int argc, char **argv) {
	unsigned port = 0;
	bool want_stats = false;
	kevent::backend be = kevent::backend::automatic;
	for (int i = 1; i < argc; ++i) {
		std::string_view a = argv[i];
		if (a == "--port") {
			port = static_cast<unsigned>(
				example_number(example_value(argc, argv, &i, "evserver", usage), 0,
					       65535, "--port", "evserver", usage));
		} else if (a == "--stats") {
			want_stats = true;
		} else if (a == "--backend") {
			be = static_cast<kevent::backend>(
				example_backend(example_value(argc, argv, &i, "evserver", usage),
						"evserver", usage));
		} else if (a == "-h" || a == "--help") {
			example_help(usage);
		} else {
			example_bad_arg("evserver", usage, "unknown option '%s'", argv[i]);
		}
	}

	// Block the stop signals before anything starts a thread (the library's
	// threads inherit the mask), then take them from a signalfd watched by
	// the queue: the SIGNAL origin is not built yet.
	sigset_t stop_set;
	sigemptyset(&stop_set);
	sigaddset(&stop_set, SIGINT);
	sigaddset(&stop_set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &stop_set, nullptr) < 0) {
		std::perror("evserver: sigprocmask");
		return 1;
	}
	int sfd = ::signalfd(-1, &stop_set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0) {
		std::perror("evserver: signalfd");
		return 1;
	}
	::signal(SIGPIPE, SIG_IGN); // MSG_NOSIGNAL covers send(); belt and braces

	int lfd = http::open_listener(port);
	if (lfd < 0) {
		std::fprintf(stderr, "evserver: listen on 127.0.0.1:%u: %s\n", port,
			     std::strerror(errno));
		return 1;
	}
	sockaddr_in bound{};
	socklen_t len = sizeof bound;
	::getsockname(lfd, reinterpret_cast<sockaddr *>(&bound), &len);

	std::error_code ec;
	kevent::queue q(be, ec);
	if (ec) {
		std::fprintf(stderr, "evserver: kevent_init: %s\n", ec.message().c_str());
		return 1;
	}
	ukevent regs[] = {
		kevent::socket_event(lfd, kevent::socket::accept)
			.always_queue()
			.cookie(listener_cookie),
		kevent::poll_event(sfd, POLLIN).always_queue().cookie(signal_cookie),
	};
	auto back = q.add(regs, ec);
	if (ec || !back.empty()) {
		std::fprintf(stderr, "evserver: kevent ADD: %s\n",
			     (ec ? ec : kevent::error_of(back[0])).message().c_str());
		return 1;
	}

	std::printf("listening on 127.0.0.1:%u\n", static_cast<unsigned>(ntohs(bound.sin_port)));
	std::fflush(stdout);

	server srv(q, lfd, sfd);
	srv.run();

	const counters &c = srv.stats();
	std::printf("evserver: accepted=%llu closed=%llu open=%zu requests=%llu bad_requests=%llu "
		    "events=%llu "
		    "get_events_calls=%llu\n",
		    static_cast<unsigned long long>(c.accepted),
		    static_cast<unsigned long long>(c.closed), srv.open_connections(),
		    static_cast<unsigned long long>(c.requests),
		    static_cast<unsigned long long>(c.bad_requests),
		    static_cast<unsigned long long>(c.events),
		    static_cast<unsigned long long>(c.get_events_calls));
	if (want_stats) {
		kevent_stats st = q.stats(ec);
		if (ec)
			std::fprintf(stderr, "evserver: kevent_get_stats: %s\n",
				     ec.message().c_str());
		else
			print_queue_stats(st);
	}

	srv.shutdown_all();
	ukevent rm[] = {kevent::socket_event(lfd, kevent::socket::accept),
			kevent::poll_event(sfd, POLLIN)};
	(void)q.remove(rm, ec);
	q.close(ec);
	if (ec) {
		std::fprintf(stderr, "evserver: kevent_close: %s\n", ec.message().c_str());
		return 1;
	}
	::close(lfd);
	::close(sfd);
	std::fflush(stdout);
	return srv.failed() ? 1 : 0;
}
