// SPDX-License-Identifier: MIT
// loop_libev.cpp — bench_cmp_libev: libev 4 (libev-dev), epoll backend
// chosen explicitly (libev's own choice on Linux too). Watchers live in the
// workload's objects, as libev intends; ev_io_stop + ev_io_start of the same
// fd and mask costs no epoll_ctl (libev's change list).
#include "http_server.hpp"
#include "workloads.hpp"

#include <ev.h>

namespace {

using namespace bench;

class loop {
public:
	struct io {
		ev_io w;
		target t;
		int fd = -1;
	};
	struct timer {
		ev_timer w;
		target t;
	};
	struct async {
		ev_async w;
		target t;
	};

	explicit loop(const options &) {
		l_ = ev_loop_new(EVBACKEND_EPOLL);
		if (!l_)
			die("ev_loop_new");
	}
	~loop() { ev_loop_destroy(l_); }

	void io_start(io &w, int fd, unsigned want, callback cb, void *arg) {
		w.t = {cb, arg};
		w.fd = fd;
		ev_io_init(&w.w, on_event<ev_io>, fd,
			   (want & want_write) ? EV_READ | EV_WRITE : EV_READ);
		w.w.data = &w.t;
		ev_io_start(l_, &w.w);
	}
	void io_set_write(io &w, bool on) {
		ev_io_stop(l_, &w.w);
		ev_io_set(&w.w, w.fd, on ? EV_READ | EV_WRITE : EV_READ);
		ev_io_start(l_, &w.w);
	}
	void io_stop(io &w) {
		if (w.fd >= 0)
			ev_io_stop(l_, &w.w);
	}
	void io_close(io &w) {
		io_stop(w);
		w.fd = -1;
	}

	void timer_start(timer &t, uint64_t ms, callback cb, void *arg) {
		t.t = {cb, arg};
		ev_timer_init(&t.w, on_event<ev_timer>, double(ms) / 1e3, 0.);
		t.w.data = &t.t;
		ev_timer_start(l_, &t.w);
	}
	void timer_stop(timer &t) { ev_timer_stop(l_, &t.w); }
	void timer_close(timer &t) { ev_timer_stop(l_, &t.w); }

	void async_start(async &a, callback cb, void *arg) {
		a.t = {cb, arg};
		ev_async_init(&a.w, on_event<ev_async>);
		a.w.data = &a.t;
		ev_async_start(l_, &a.w);
	}
	void async_send(async &a) { ev_async_send(l_, &a.w); }
	void async_stop(async &a) { ev_async_stop(l_, &a.w); }

	void run_once(bool block) { ev_run(l_, block ? EVRUN_ONCE : EVRUN_NOWAIT); }
	void finish() {}

private:
	// Every watcher's data points at its target.
	template <class W> static void on_event(struct ev_loop *, W *w, int) {
		(*static_cast<target *>(w->data))();
	}

	struct ev_loop *l_;
};

} // namespace

int main(int argc, char **argv) { return bench_main<loop>(argc, argv); }
