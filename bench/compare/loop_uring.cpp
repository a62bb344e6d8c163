// SPDX-License-Identifier: MIT
// loop_uring.cpp — bench_cmp_uring: raw io_uring through liburing 2.3, the
// floor for a completion ring. Sockets are multishot POLL_ADD requests (one
// CQE per readiness wake-up, re-armed when the kernel ends one), timers are
// IORING_OP_TIMEOUT requests (the kernel's timer per request) cancelled with
// TIMEOUT_REMOVE, a wake-up is an eventfd write seen by a multishot poll.
// Requests are queued in the SQ and submitted by run_once (one
// io_uring_enter per iteration: submit and wait together), or when the SQ
// is full.
//
// user_data = watcher address | kind (low 2 bits) | generation (top 16
// bits): a stop bumps the generation, so the CQEs of a cancelled request
// (and of the cancel itself) are recognised and dropped.
#include "http_server.hpp"
#include "workloads.hpp"

#include <liburing.h>
#include <poll.h>

namespace {

using namespace bench;

enum kind : uint64_t { k_ignore = 0, k_io = 1, k_timer = 2, k_async = 3 };

struct watcher {
	target t;
	uint16_t gen = 0;
	uint64_t tag(kind k) const {
		return reinterpret_cast<uintptr_t>(this) | k | (uint64_t(gen) << 48);
	}
};

class loop {
public:
	struct io : watcher {
		int fd = -1;
		unsigned mask = 0;
		bool active = false;
	};
	struct timer : watcher {
		__kernel_timespec ts{};
		bool armed = false;
	};
	struct async : io {
		target user;
	};

	explicit loop(const options &) {
		io_uring_params p{};
		p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN |
			  IORING_SETUP_SINGLE_ISSUER;
		p.cq_entries = 65536;
		int r = io_uring_queue_init_params(4096, &ring_, &p);
		if (r < 0) { // an older kernel: no COOP_TASKRUN / SINGLE_ISSUER
			p = io_uring_params{};
			p.flags = IORING_SETUP_CQSIZE;
			p.cq_entries = 65536;
			r = io_uring_queue_init_params(4096, &ring_, &p);
		}
		if (r < 0) {
			std::string why = std::string("io_uring_queue_init: ") + std::strerror(-r);
			unavailable(why.c_str());
		}
	}
	~loop() { io_uring_queue_exit(&ring_); }

	void io_start(io &w, int fd, unsigned want, callback cb, void *arg) {
		w.t = {cb, arg};
		w.fd = fd;
		w.mask = (want & want_write) ? POLLIN | POLLOUT : POLLIN;
		w.active = true;
		++w.gen;
		poll(w, k_io);
	}
	void io_set_write(io &w, bool on) {
		cancel_poll(w);
		w.mask = on ? POLLIN | POLLOUT : POLLIN;
		w.active = true;
		poll(w, k_io);
	}
	void io_stop(io &w) {
		if (w.active)
			cancel_poll(w);
	}
	void io_close(io &w) {
		io_stop(w);
		w.fd = -1;
	}

	void timer_start(timer &t, uint64_t ms, callback cb, void *arg) {
		timer_stop(t);
		t.t = {cb, arg};
		t.ts.tv_sec = int64_t(ms / 1000);
		t.ts.tv_nsec = int64_t(ms % 1000 * 1000000);
		t.armed = true;
		++t.gen;
		io_uring_sqe *sqe = sqe_get();
		io_uring_prep_timeout(sqe, &t.ts, 0, 0);
		io_uring_sqe_set_data64(sqe, t.tag(k_timer));
	}
	void timer_stop(timer &t) {
		if (!t.armed)
			return;
		t.armed = false;
		io_uring_sqe *sqe = sqe_get();
		io_uring_prep_timeout_remove(sqe, t.tag(k_timer), 0);
		io_uring_sqe_set_data64(sqe, k_ignore);
		++t.gen;
	}
	void timer_close(timer &t) { timer_stop(t); }

	void async_start(async &a, callback cb, void *arg) {
		int fd = make_eventfd();
		a.user = {cb, arg};
		a.t = {nullptr, nullptr};
		a.fd = fd;
		a.mask = POLLIN;
		a.active = true;
		++a.gen;
		poll(a, k_async);
	}
	void async_send(async &a) { signal_eventfd(a.fd); }
	void async_stop(async &a) {
		cancel_poll(a, k_async);
		::close(a.fd);
	}

	void run_once(bool block) {
		int r = block ? io_uring_submit_and_wait(&ring_, 1) : io_uring_submit(&ring_);
		if (r < 0 && r != -EINTR && r != -ETIME && r != -EBUSY) {
			errno = -r;
			die("io_uring_submit");
		}
		io_uring_cqe *cqe;
		unsigned head, seen = 0;
		io_uring_for_each_cqe(&ring_, head, cqe) {
			++seen;
			complete(cqe->user_data, cqe->res, cqe->flags);
		}
		io_uring_cq_advance(&ring_, seen);
	}
	void finish() { io_uring_submit(&ring_); }

private:
	io_uring_sqe *sqe_get() {
		io_uring_sqe *sqe = io_uring_get_sqe(&ring_);
		while (!sqe) { // SQ full: hand it to the kernel
			io_uring_submit(&ring_);
			sqe = io_uring_get_sqe(&ring_);
		}
		return sqe;
	}
	void poll(io &w, kind k) {
		io_uring_sqe *sqe = sqe_get();
		io_uring_prep_poll_multishot(sqe, w.fd, w.mask);
		io_uring_sqe_set_data64(sqe, w.tag(k));
	}
	void cancel_poll(io &w, kind k = k_io) {
		io_uring_sqe *sqe = sqe_get();
		io_uring_prep_poll_remove(sqe, w.tag(k));
		io_uring_sqe_set_data64(sqe, k_ignore);
		w.active = false;
		++w.gen;
	}

	void complete(uint64_t data, int res, unsigned flags) {
		kind k = kind(data & 3);
		if (k == k_ignore)
			return;
		auto gen = uint16_t(data >> 48);
		void *p = reinterpret_cast<void *>(data & 0x0000fffffffffffcull);
		if (k == k_timer) {
			auto *t = static_cast<timer *>(p);
			if (res != -ETIME || gen != t->gen || !t->armed)
				return; // cancelled
			t->armed = false;
			t->t();
			return;
		}
		auto *w = static_cast<io *>(p);
		if (gen != w->gen || !w->active)
			return; // stopped since
		if (!(flags & IORING_CQE_F_MORE))
			poll(*w, k); // the kernel ended the multishot: re-arm first
		if (res < 0)
			return;
		if (k == k_async) {
			if (consume_eventfd(w->fd))
				static_cast<async *>(w)->user();
			return;
		}
		w->t();
	}

	io_uring ring_;
};

} // namespace

int main(int argc, char **argv) { return bench_main<loop>(argc, argv); }
