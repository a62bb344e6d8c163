// SPDX-License-Identifier: MIT
// loop_asio.cpp — bench_cmp_asio: standalone Asio (libasio-dev, its epoll
// reactor), one io_context run by the loop thread. Sockets are
// posix::stream_descriptor with async_wait (readiness, re-armed after each
// completion, as the other rows; async_read_some would add Asio's read);
// timers are steady_timer; a wake-up is asio::post (one handler per post:
// Asio does not coalesce). A stop cancels (the handler then runs with
// operation_aborted and does nothing); a close releases the descriptor
// (deregistered, not closed: the workload owns the fd).
#include "http_server.hpp"
#include "workloads.hpp"

#include <asio.hpp>

#include <optional>

namespace {

using namespace bench;

class loop {
public:
	struct io {
		std::optional<asio::posix::stream_descriptor> sd;
		target t;
		unsigned gen = 0;     // bumped by stop: a completion of an older wait is dropped
		bool writing = false; // write interest wanted
		bool write_armed = false; // a wait_write is outstanding
	};
	struct timer {
		std::optional<asio::steady_timer> st;
		target t;
		bool armed = false;
	};
	struct async {
		target t;
	};

	explicit loop(const options &) : ctx_(1), guard_(ctx_.get_executor()) {}

	void io_start(io &w, int fd, unsigned want, callback cb, void *arg) {
		w.t = {cb, arg};
		if (!w.sd || w.sd->native_handle() != fd) {
			io_close(w);
			w.sd.emplace(ctx_, fd);
		}
		++w.gen;
		w.writing = w.write_armed = false;
		arm(w, asio::posix::descriptor_base::wait_read);
		if (want & want_write)
			io_set_write(w, true);
	}
	void io_set_write(io &w, bool on) {
		if (on && !w.write_armed)
			arm(w, asio::posix::descriptor_base::wait_write);
		w.writing = on;
	}
	void io_stop(io &w) {
		if (!w.sd)
			return;
		++w.gen;
		w.sd->cancel();
	}
	void io_close(io &w) {
		if (!w.sd)
			return;
		++w.gen;
		(void)w.sd->release(); // cancels and deregisters; the fd stays open
		w.sd.reset();
	}

	void timer_start(timer &t, uint64_t ms, callback cb, void *arg) {
		t.t = {cb, arg};
		if (!t.st)
			t.st.emplace(ctx_);
		t.st->expires_after(std::chrono::milliseconds(ms));
		t.armed = true;
		t.st->async_wait([&t](const asio::error_code &ec) {
			if (ec || !t.armed)
				return;
			t.armed = false;
			t.t();
		});
	}
	void timer_stop(timer &t) {
		t.armed = false;
		if (t.st)
			t.st->cancel();
	}
	void timer_close(timer &t) {
		t.armed = false;
		t.st.reset();
	}

	void async_start(async &a, callback cb, void *arg) { a.t = {cb, arg}; }
	void async_send(async &a) {
		asio::post(ctx_, [&a] { a.t(); });
	}
	void async_stop(async &) {}

	// Blocking: run_one (one handler, Asio's unit of work); else poll.
	void run_once(bool block) {
		if (block)
			ctx_.run_one();
		else
			ctx_.poll();
	}
	void finish() { ctx_.poll(); }

private:
	// One wait at a time per direction; a completion re-arms it (a
	// persistent watch, as the other rows) unless the watch was stopped or
	// (for writes) the interest dropped meanwhile.
	void arm(io &w, asio::posix::descriptor_base::wait_type type) {
		unsigned gen = w.gen;
		bool write = type == asio::posix::descriptor_base::wait_write;
		if (write)
			w.write_armed = true;
		w.sd->async_wait(type, [this, &w, gen, type, write](const asio::error_code &ec) {
			if (ec || gen != w.gen)
				return; // cancelled, or an older registration
			if (write) {
				w.write_armed = false;
				if (!w.writing)
					return;
			}
			arm(w, type);
			w.t();
		});
	}

	asio::io_context ctx_;
	asio::executor_work_guard<asio::io_context::executor_type> guard_;
};

} // namespace

int main(int argc, char **argv) { return bench_main<loop>(argc, argv); }
