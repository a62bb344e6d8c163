// SPDX-License-Identifier: MIT
// loop_epoll.cpp — bench_cmp_epoll: the floor. A hand-written epoll loop:
// level-triggered watches (one epoll_ctl per start, stop or change: no
// change list), a binary timer heap with a cached "now" and epoll_wait's
// millisecond timeout, an eventfd per async. Everything the libraries do
// beyond this is their overhead.
#include "http_server.hpp"
#include "timer_heap.hpp"
#include "workloads.hpp"

#include <sys/epoll.h>

namespace {

using namespace bench;

class loop {
public:
	struct io {
		int fd = -1;
		uint32_t events = 0;
		target t;
	};
	struct timer : heap_timer {
		target t;
	};
	struct async {
		io w;
		target user;
	};

	explicit loop(const options &) {
		ep_ = epoll_create1(EPOLL_CLOEXEC);
		if (ep_ < 0)
			die("epoll_create1");
		now_ = now_ns();
	}
	~loop() { ::close(ep_); }

	void io_start(io &w, int fd, unsigned want, callback cb, void *arg) {
		w = {fd, mask(want), {cb, arg}};
		ctl(EPOLL_CTL_ADD, w);
	}
	void io_set_write(io &w, bool on) {
		w.events = on ? EPOLLIN | EPOLLOUT : EPOLLIN;
		ctl(EPOLL_CTL_MOD, w);
	}
	void io_stop(io &w) {
		if (w.fd >= 0)
			ctl(EPOLL_CTL_DEL, w);
	}
	void io_close(io &w) {
		io_stop(w);
		w.fd = -1;
	}

	void timer_start(timer &t, uint64_t ms, callback cb, void *arg) {
		if (t.pos != SIZE_MAX)
			timers_.erase(&t);
		t.deadline = now_ + ms * 1000000;
		t.t = {cb, arg};
		timers_.push(&t);
	}
	void timer_stop(timer &t) {
		if (t.pos != SIZE_MAX)
			timers_.erase(&t);
	}
	void timer_close(timer &t) { timer_stop(t); }

	void async_start(async &a, callback cb, void *arg) {
		int fd = make_eventfd();
		a.user = {cb, arg};
		io_start(a.w, fd, want_read, on_async, &a);
	}
	void async_send(async &a) { signal_eventfd(a.w.fd); }
	void async_stop(async &a) {
		int fd = a.w.fd;
		io_close(a.w);
		::close(fd);
	}

	void run_once(bool block) {
		int timeout = 0;
		if (block)
			timeout = timers_.empty() ? -1 : ms_until(timers_.top()->deadline);
		int n = epoll_wait(ep_, evs_, max_events, timeout);
		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		now_ = now_ns();
		for (int i = 0; i < n; ++i) {
			static_cast<io *>(evs_[i].data.ptr)->t();
		}
		while (!timers_.empty() && timers_.top()->deadline <= now_) {
			timer *t = timers_.top();
			timers_.erase(t);
			t->t();
		}
	}
	void finish() {}

private:
	static constexpr int max_events = 1024;

	static uint32_t mask(unsigned want) {
		return (want & want_write) ? EPOLLIN | EPOLLOUT : EPOLLIN;
	}
	void ctl(int op, io &w) {
		epoll_event ev{};
		ev.events = w.events;
		ev.data.ptr = &w;
		if (epoll_ctl(ep_, op, w.fd, &ev) < 0)
			die("epoll_ctl");
	}
	// Rounded up, as libuv and libev do, so that a wake-up finds the timer due.
	int ms_until(uint64_t deadline) const {
		uint64_t now = now_ns();
		return deadline <= now ? 0 : int((deadline - now + 999999) / 1000000);
	}
	static void on_async(void *arg) {
		auto *a = static_cast<async *>(arg);
		if (consume_eventfd(a->w.fd))
			a->user();
	}

	int ep_;
	uint64_t now_;
	timer_heap<timer> timers_;
	epoll_event evs_[max_events];
};

} // namespace

int main(int argc, char **argv) { return bench_main<loop>(argc, argv); }
