// SPDX-License-Identifier: MIT
// loop_libuv.cpp — bench_cmp_libuv: libuv 1.44 (libuv1-dev, epoll; io_uring
// came in 1.45). Sockets are watched with uv_poll_t (readiness, as the other
// rows; uv_tcp_t would add libuv's own buffering), timers are uv_timer_t,
// wake-ups uv_async_send. Handles are closed with uv_close and freed in its
// callback, as libuv requires; finish() runs the loop once for those.
#include "http_server.hpp"
#include "workloads.hpp"

#include <uv.h>

namespace {

using namespace bench;

class loop {
public:
	struct io {
		uv_poll_t *h = nullptr; // heap: it outlives io_close until uv_close's callback
		target t;
		int fd = -1;
	};
	struct timer {
		uv_timer_t h;
		target t;
		bool init = false;
	};
	struct async {
		uv_async_t h;
		target t;
	};

	explicit loop(const options &) {
		if (uv_loop_init(&l_) != 0)
			die("uv_loop_init");
	}
	~loop() {
		uv_run(&l_, UV_RUN_NOWAIT);
		(void)uv_loop_close(&l_);
	}

	void io_start(io &w, int fd, unsigned want, callback cb, void *arg) {
		w.t = {cb, arg};
		if (!w.h || w.fd != fd) {
			io_close(w);
			w.h = new uv_poll_t;
			if (uv_poll_init(&l_, w.h, fd) != 0)
				die("uv_poll_init");
			w.h->data = &w.t;
			w.fd = fd;
		}
		uv_poll_start(w.h, (want & want_write) ? UV_READABLE | UV_WRITABLE : UV_READABLE,
			      on_poll);
	}
	void io_set_write(io &w, bool on) {
		uv_poll_start(w.h, on ? UV_READABLE | UV_WRITABLE : UV_READABLE, on_poll);
	}
	void io_stop(io &w) {
		if (w.h)
			uv_poll_stop(w.h);
	}
	void io_close(io &w) {
		if (!w.h)
			return;
		uv_close(reinterpret_cast<uv_handle_t *>(w.h),
			 [](uv_handle_t *h) { delete reinterpret_cast<uv_poll_t *>(h); });
		w.h = nullptr;
		w.fd = -1;
	}

	void timer_start(timer &t, uint64_t ms, callback cb, void *arg) {
		t.t = {cb, arg};
		if (!t.init) {
			uv_timer_init(&l_, &t.h);
			t.h.data = &t.t;
			t.init = true;
		}
		uv_timer_start(&t.h, on_timer, ms, 0);
	}
	void timer_stop(timer &t) { uv_timer_stop(&t.h); }
	void timer_close(timer &t) {
		if (t.init)
			uv_close(reinterpret_cast<uv_handle_t *>(&t.h), nullptr);
		t.init = false;
	}

	void async_start(async &a, callback cb, void *arg) {
		a.t = {cb, arg};
		uv_async_init(&l_, &a.h, on_async);
		a.h.data = &a.t;
	}
	void async_send(async &a) { uv_async_send(&a.h); }
	void async_stop(async &a) { uv_close(reinterpret_cast<uv_handle_t *>(&a.h), nullptr); }

	void run_once(bool block) { uv_run(&l_, block ? UV_RUN_ONCE : UV_RUN_NOWAIT); }
	void finish() { uv_run(&l_, UV_RUN_NOWAIT); }

private:
	static void on_poll(uv_poll_t *h, int, int) { (*static_cast<target *>(h->data))(); }
	static void on_timer(uv_timer_t *h) { (*static_cast<target *>(h->data))(); }
	static void on_async(uv_async_t *h) { (*static_cast<target *>(h->data))(); }

	uv_loop_t l_;
};

} // namespace

int main(int argc, char **argv) { return bench_main<loop>(argc, argv); }
