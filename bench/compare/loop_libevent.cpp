// SPDX-License-Identifier: MIT
// loop_libevent.cpp — bench_cmp_libevent: libevent 2.1 (libevent-dev),
// default event_base (epoll, no change list). EV_PERSIST read events, one
// struct event per watcher in the workload's objects (event_assign).
// Threads are enabled (evthread_use_pthreads) only for async_pummel, whose
// wake-ups are event_active() from other threads, libevent's own way; the
// locks would slow every other workload.
#include "http_server.hpp"
#include "workloads.hpp"

#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/thread.h>

namespace {

using namespace bench;

class loop {
public:
	struct io {
		event ev;
		target t;
		int fd = -1;
	};
	struct timer {
		event ev;
		target t;
		bool assigned = false;
	};
	struct async {
		event ev;
		target t;
	};

	explicit loop(const options &o) {
		if (o.num("threads", 0) && evthread_use_pthreads() < 0)
			die("evthread_use_pthreads");
		base_ = event_base_new();
		if (!base_)
			die("event_base_new");
	}
	~loop() { event_base_free(base_); }

	void io_start(io &w, int fd, unsigned want, callback cb, void *arg) {
		w.t = {cb, arg};
		w.fd = fd;
		assign_io(w, (want & want_write) != 0);
	}
	void io_set_write(io &w, bool on) {
		event_del(&w.ev);
		assign_io(w, on);
	}
	void io_stop(io &w) {
		if (w.fd >= 0)
			event_del(&w.ev);
	}
	void io_close(io &w) {
		io_stop(w);
		w.fd = -1;
	}

	void timer_start(timer &t, uint64_t ms, callback cb, void *arg) {
		t.t = {cb, arg};
		if (!t.assigned) {
			event_assign(&t.ev, base_, -1, 0, on_event, &t.t);
			t.assigned = true;
		}
		timeval tv{time_t(ms / 1000), suseconds_t(ms % 1000 * 1000)};
		event_add(&t.ev, &tv);
	}
	void timer_stop(timer &t) { event_del(&t.ev); }
	void timer_close(timer &t) {
		if (t.assigned)
			event_del(&t.ev);
	}

	void async_start(async &a, callback cb, void *arg) {
		a.t = {cb, arg};
		event_assign(&a.ev, base_, -1, EV_PERSIST, on_event, &a.t);
	}
	void async_send(async &a) { event_active(&a.ev, EV_READ, 0); }
	void async_stop(async &a) { event_del(&a.ev); }

	void run_once(bool block) {
		event_base_loop(base_, block ? EVLOOP_ONCE | EVLOOP_NO_EXIT_ON_EMPTY
					     : EVLOOP_ONCE | EVLOOP_NONBLOCK);
	}
	void finish() {}

private:
	static void on_event(evutil_socket_t, short, void *p) { (*static_cast<target *>(p))(); }
	void assign_io(io &w, bool write) {
		short what = EV_READ | EV_PERSIST | (write ? EV_WRITE : 0);
		event_assign(&w.ev, base_, w.fd, what, on_event, &w.t);
		event_add(&w.ev, nullptr);
	}

	event_base *base_;
};

} // namespace

int main(int argc, char **argv) { return bench_main<loop>(argc, argv); }
