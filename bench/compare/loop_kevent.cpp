// SPDX-License-Identifier: MIT
// loop_kevent.cpp — bench_cmp_kevent: the workloads on one kevent queue.
//
//   mode=epoll  kevent_init(KEVENT_INIT_EPOLL), events by kevent_get_events
//   mode=uring  kevent_init(KEVENT_INIT_URING); "n/a" while that backend is
//               not in the library (kevent_init fails)
//   mode=ring   the epoll backend, events through the ring (kevent_wait,
//               read in place, kevent_commit)
//
// Changes are batched as a kevent user would: starts, stops and changes
// collect in three lists that go to the library in one kevent_ctl each
// (REMOVE, then ADD, then MODIFY) before the loop waits, or when a list is
// full. A stop whose start is still in the list just drops the start.
// Sockets use the default mode (edge: new activity) with ALWAYS_QUEUE, as
// examples/evserver does; timers are ONESHOT.
//
// Timers: the key of a TIMER kevent is its interval (one timer per interval
// per queue, as in the patches), so timer i gets the interval
// ms * 1e6 + (i mod 1e6) nanoseconds: distinct keys, at most 1 ms late.
#include "http_server.hpp"
#include "workloads.hpp"

#include <kevent/kevent.h>
#include <kevent/kevent.hpp>

#include <poll.h>

namespace {

using namespace bench;

// What the change lists need of a watcher: where its pending entries are.
struct pending_ref {
	int add = -1; // index in the ADD list, or -1
	int mod = -1; // index in the MODIFY list, or -1
};

class loop {
public:
	struct io : pending_ref {
		int fd = -1;
		uint32_t bits = 0;
		target t;
	};
	struct timer : pending_ref {
		uint32_t sec = 0, nsec = 0; // the key
		bool armed = false;
		target t;
	};
	struct async {
		ukevent uk{};
		target t;
	};

	explicit loop(const options &o) {
		std::string mode = o.str("mode", "epoll");
		unsigned flags = KEVENT_INIT_EPOLL;
		kevent_ring *ring = nullptr;
		if (mode == "uring") {
			flags = KEVENT_INIT_URING;
		} else if (mode == "ring") {
			ring_mem_.reset(new ukevent[ring_size + 1]); // header + slots, 8-aligned
			ring = reinterpret_cast<kevent_ring *>(ring_mem_.get());
		} else if (mode != "epoll") {
			std::fprintf(stderr, "bench_cmp_kevent: mode must be epoll, uring or "
					     "ring\n");
			std::exit(2);
		}
		kfd_ = kevent_init(ring, ring ? ring_size : 0, flags);
		if (kfd_ < 0) {
			std::string why = "kevent_init(" + mode + "): " + std::strerror(errno);
			unavailable(why.c_str());
		}
		if (ring)
			rv_ = kevent::ring_view(kfd_, ring, ring_size);
	}
	~loop() { kevent_close(kfd_); }

	void io_start(io &w, int fd, unsigned want, callback cb, void *arg) {
		w.fd = fd;
		w.t = {cb, arg};
		w.bits = (want & want_accept)  ? KEVENT_SOCKET_ACCEPT
			 : (want & want_write) ? KEVENT_SOCKET_RECV | KEVENT_SOCKET_SEND
					       : KEVENT_SOCKET_RECV;
		ukevent uk = socket_kevent(w);
		uk.req_flags = KEVENT_REQ_ALWAYS_QUEUE;
		uk.ptr = &w;
		push(adds_, w.add, uk);
	}
	void io_set_write(io &w, bool on) {
		w.bits = on ? KEVENT_SOCKET_RECV | KEVENT_SOCKET_SEND : KEVENT_SOCKET_RECV;
		if (w.add >= 0) {
			adds_[size_t(w.add)].event = w.bits;
			return;
		}
		ukevent uk = socket_kevent(w);
		uk.ptr = &w;
		if (w.mod >= 0)
			mods_[size_t(w.mod)] = uk;
		else
			push(mods_, w.mod, uk);
	}
	void io_stop(io &w) {
		if (w.fd < 0)
			return;
		if (w.mod >= 0)
			kill(mods_, w.mod);
		if (w.add >= 0) {
			kill(adds_, w.add); // never reached the library
			return;
		}
		int none = -1;
		push(removes_, none, socket_kevent(w));
	}
	void io_close(io &w) {
		io_stop(w);
		w.fd = -1;
	}

	void timer_start(timer &t, uint64_t ms, callback cb, void *arg) {
		timer_stop(t);
		uint64_t ns = ms * 1000000 + (seq_++ % 1000000);
		t.sec = uint32_t(ns / 1000000000);
		t.nsec = uint32_t(ns % 1000000000);
		t.t = {cb, arg};
		t.armed = true;
		ukevent uk = timer_kevent(t);
		uk.event = KEVENT_TIMER_FIRED;
		uk.req_flags = KEVENT_REQ_ONESHOT;
		uk.ptr = &t;
		push(adds_, t.add, uk);
	}
	void timer_stop(timer &t) {
		if (!t.armed)
			return;
		t.armed = false;
		if (t.add >= 0) {
			kill(adds_, t.add);
			return;
		}
		int none = -1;
		push(removes_, none, timer_kevent(t));
	}
	void timer_close(timer &t) { timer_stop(t); }

	void async_start(async &a, callback cb, void *arg) {
		a.t = {cb, arg};
		a.uk = ukevent{};
		a.uk.type = KEVENT_UNOTIFY;
		a.uk.id.raw_u64 = reinterpret_cast<uintptr_t>(&a);
		ukevent add = a.uk;
		add.ptr = &a;
		if (kevent_ctl(kfd_, KEVENT_CTL_ADD, 1, &add) != 0)
			die("kevent_ctl(ADD unotify)");
	}
	// Any thread: READY on the key (coalesced by the library while queued).
	void async_send(async &a) {
		ukevent uk = a.uk;
		(void)kevent_ctl(kfd_, KEVENT_CTL_READY, 1, &uk);
	}
	void async_stop(async &a) {
		ukevent uk = a.uk;
		(void)kevent_ctl(kfd_, KEVENT_CTL_REMOVE, 1, &uk);
	}

	void run_once(bool block) {
		flush();
		static const timespec zero{};
		if (rv_.size()) {
			if (rv_.wait(ring_size,
				     block ? std::nullopt
					   : std::optional<std::chrono::nanoseconds>(0)) == 0)
				return;
			for (const ukevent &ev : rv_.entries())
				dispatch(ev);
			rv_.commit_all();
			return;
		}
		int n = kevent_get_events(kfd_, 1, max_events, block ? nullptr : &zero, evs_, 0);
		if (n < 0)
			die("kevent_get_events");
		for (int i = 0; i < n; ++i)
			dispatch(evs_[i]);
	}
	void finish() { flush(); }

private:
	static constexpr unsigned ring_size = 1024;
	static constexpr unsigned max_events = 1024;
	static constexpr size_t max_batch = 1024;

	static ukevent socket_kevent(const io &w) {
		ukevent uk{};
		uk.type = KEVENT_SOCKET;
		uk.id.raw[0] = uint32_t(w.fd);
		uk.event = w.bits;
		return uk;
	}
	static ukevent timer_kevent(const timer &t) {
		ukevent uk{};
		uk.type = KEVENT_TIMER;
		uk.id.raw[0] = t.sec;
		uk.id.raw[1] = t.nsec;
		return uk;
	}

	void push(std::vector<ukevent> &list, int &ref, const ukevent &uk) {
		if (list.size() >= max_batch)
			flush();
		ref = int(list.size());
		list.push_back(uk);
	}
	static void kill(std::vector<ukevent> &list, int &ref) {
		list[size_t(ref)].type = dead;
		ref = -1;
	}

	// REMOVE first (a stopped and restarted fd), then ADD, then MODIFY.
	void flush() {
		ctl(KEVENT_CTL_REMOVE, removes_, false);
		ctl(KEVENT_CTL_ADD, adds_, true);
		ctl(KEVENT_CTL_MODIFY, mods_, false);
	}
	void ctl(unsigned cmd, std::vector<ukevent> &list, bool is_add) {
		size_t live = 0;
		for (ukevent &uk : list) {
			if (uk.type == dead)
				continue;
			if (uk.ptr && uk.type == KEVENT_SOCKET) {
				auto *w = static_cast<io *>(uk.ptr);
				(is_add ? w->add : w->mod) = -1;
			} else if (uk.ptr && uk.type == KEVENT_TIMER) {
				static_cast<timer *>(uk.ptr)->add = -1;
			}
			list[live++] = uk;
		}
		list.resize(live);
		if (live == 0)
			return;
		int n = kevent_ctl(kfd_, cmd, unsigned(live), list.data());
		if (n < 0)
			die("kevent_ctl");
		// ADD copies back only failures (ALWAYS_QUEUE keeps the ready ones);
		// REMOVE and MODIFY write every entry back with DONE.
		for (int i = 0; is_add && i < n; ++i)
			if (list[size_t(i)].ret_flags & KEVENT_RET_BROKEN) {
				errno = -int32_t(list[size_t(i)].ret_data[1]);
				die("kevent_ctl(ADD) entry");
			}
		list.clear();
	}

	void dispatch(const ukevent &ev) {
		switch (ev.type) {
		case KEVENT_SOCKET: {
			static_cast<io *>(ev.ptr)->t();
			break;
		}
		case KEVENT_TIMER: {
			auto *t = static_cast<timer *>(ev.ptr);
			// A timer stopped or restarted since this event was taken.
			if (!t->armed || t->sec != ev.id.raw[0] || t->nsec != ev.id.raw[1])
				break;
			t->armed = false;
			t->t();
			break;
		}
		case KEVENT_UNOTIFY: {
			static_cast<async *>(ev.ptr)->t();
			break;
		}
		default:
			break;
		}
	}

	static constexpr uint32_t dead = ~uint32_t(0);
	int kfd_ = -1;
	uint64_t seq_ = 0;
	std::unique_ptr<ukevent[]> ring_mem_;
	kevent::ring_view rv_;
	std::vector<ukevent> adds_, removes_, mods_;
	ukevent evs_[max_events];
};

} // namespace

int main(int argc, char **argv) { return bench_main<loop>(argc, argv); }
