// SPDX-License-Identifier: MIT
// stress_test.cpp — issue 6 "Done when": 8 threads on one queue (waits,
// ADD/REMOVE/MODIFY, READY, forced wake-ups, fds closed under their
// registrations) for KEVENT_STRESS_SECONDS (default 20). At the end every
// registration ended exactly once — ONESHOT ones by one delivery (or by a
// REMOVE that found them), persistent ones by their REMOVE or one BROKEN
// delivery — nothing leaked and the statistics are zero after close.
#include "threads_support.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

using kevent_test::make;
using kevent_test::queue_stats;
using namespace kevent_threads;

// TSan models a descriptor as a variable: close(2) writes it, every call
// given the number reads it. This test closes registered fds on purpose
// while waiters deliver their kevents, and the library then calls
// epoll_ctl(EPOLL_CTL_DEL) on the number from the delivering thread (by
// design: the kernel does not tell epoll users about a close; an item is
// keyed by (file, number), so DEL on a closed or reused number is ENOENT).
// Those reports are about descriptors, never memory: suppress exactly the
// races whose top frame is a descriptor call, nothing else.
extern "C" const char *__tsan_default_suppressions() {
	// (Interceptor frames print as "close" but are named __interceptor_close.)
	return "race_top:^__interceptor_close$\n"
	       "race_top:^__interceptor_epoll_ctl$\n"
	       "race_top:^__interceptor_socketpair$\n"
	       "race_top:^__interceptor_pipe2$\n"
	       "race_top:^close$\n"
	       "race_top:^epoll_ctl$\n"
	       "race_top:^socketpair$\n"
	       "race_top:^pipe2$\n";
}

namespace {

int stress_seconds() {
	const char *s = std::getenv("KEVENT_STRESS_SECONDS");
	int v = s ? std::atoi(s) : 20;
	return v > 0 ? v : 20;
}

// What a cookie (one registration) is.
enum kind : uint8_t {
	k_unused,
	k_user_oneshot,
	k_user_persistent,
	k_timer_oneshot,
	k_fd_oneshot,
	k_fd_persistent,
};

constexpr unsigned kMaxRegs = 1u << 21;

struct book {
	std::unique_ptr<std::atomic<uint8_t>[]> kinds { new std::atomic<uint8_t>[ kMaxRegs ] };
	std::unique_ptr<std::atomic<uint32_t>[]> delivered {
		new std::atomic<uint32_t>[ kMaxRegs ]
	};
	// Ends: a delivery flagged DONE, an ADD that copied it back DONE, or
	// a REMOVE that found it. Exactly one per registration.
	std::unique_ptr<std::atomic<uint32_t>[]> ended { new std::atomic<uint32_t>[ kMaxRegs ] };
	std::atomic<uint32_t> next{0};

	book() {
		for (unsigned i = 0; i < kMaxRegs; i++) {
			kinds[i].store(k_unused, std::memory_order_relaxed);
			delivered[i].store(0, std::memory_order_relaxed);
			ended[i].store(0, std::memory_order_relaxed);
		}
	}
	// A fresh cookie, or kMaxRegs when the book is full.
	uint32_t take(kind k) {
		uint32_t c = next.fetch_add(1);
		if (c >= kMaxRegs)
			return kMaxRegs;
		kinds[c] = k;
		return c;
	}
	void end(uint32_t c) { ended[c]++; }
};

// A pool of live user/timer keys the readier and remover pick from.
struct pool {
	std::mutex mu;
	std::vector<std::pair<uint64_t, uint32_t>> items; // (id, cookie); timers: id = interval
	std::vector<uint32_t> types;
	void put(uint64_t id, uint32_t type, uint32_t c) {
		std::lock_guard lk(mu);
		items.emplace_back(id, c);
		types.push_back(type);
	}
	bool pick(rng &r, uint64_t &id, uint32_t &type, uint32_t &c, bool erase) {
		std::lock_guard lk(mu);
		if (items.empty())
			return false;
		size_t i = r.below(static_cast<unsigned>(items.size()));
		id = items[i].first;
		c = items[i].second;
		type = types[i];
		if (erase) {
			items[i] = items.back();
			items.pop_back();
			types[i] = types.back();
			types.pop_back();
		}
		return true;
	}
	size_t size() {
		std::lock_guard lk(mu);
		return items.size();
	}
};

class Stress : public kevent_test::QueueTest {};

//   waiter0: get_events(min 1, max 16, NULL)        ┐
//   waiter1: get_events(min 1..3, max 8, 20 ms)     ├─ delivered[c]++; ended[c]++ if DONE
//   waiter2: get_events(min 1, max 1, 5 ms) + 0     ┘
//   adder:    ADD user ONESHOT (READY|ALWAYS_QUEUE or not yet ready),
//             user persistent, ONESHOT timers of 1..3 ms (unique intervals)
//   readier:  READY random live user ids (one or a batch of 4)
//   remover:  MODIFY or REMOVE random live user/timer ids (ended[c]++ if found)
//   fds:      socketpairs and pipes: ADD ONESHOT or persistent on one end,
//             then write / close the peer / close the watched end itself,
//             sometimes leaving the closed number to be reused by the next
//             ADD (old kevents: BROKEN, delivered once); REMOVE the rest
//   chaos:    READY num=0, kevent_get_stats, ADD+REMOVE of a long timer
//                  │  all on one queue, for KEVENT_STRESS_SECONDS
//   end: stop the producers; READY every live user ONESHOT, REMOVE the
//        rest; wait until every registration ended; release the waiters;
//        check ended[c] == 1 for all, delivered[c] <= 1 for ONESHOT;
//        registered == ready == 0; close; process-wide stats zero.
TEST_P(Stress, EightThreadsEveryRegistrationEndsExactlyOnce) {
	const int seconds = stress_seconds();
	auto b = std::make_unique<book>();
	pool live;
	std::atomic<bool> stop_producers{false}, stop_waiters{false};
	std::atomic<int> waiters_running{3};
	std::atomic<uint64_t> bad{0}, ctl_errors{0}, forced{0}, readies{0}, removes{0}, modifies{0},
		fd_cycles{0}, broken_seen{0}, closed_under{0};
	std::mutex fail_mu;
	std::string first_failure;
	auto fail = [&](const std::string &why) {
		bad++;
		std::lock_guard lk(fail_mu);
		if (first_failure.empty())
			first_failure = why;
	};

	// Create the monotonic timerfd now: later it must not take a number the
	// fd thread just closed (the fd thread reasons about its own numbers).
	{
		ukevent t = make(KEVENT_TIMER, kevent_test::timer_id(3600000), KEVENT_TIMER_FIRED);
		ASSERT_EQ(0, add(t));
		ukevent r = make(KEVENT_TIMER, t.id.raw_u64, 0);
		ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &r));
	}

	auto on_delivery = [&](const ukevent &e) {
		uint64_t c = kevent_test::cookie_of(e);
		if (c >= kMaxRegs || b->kinds[c].load() == k_unused) {
			fail("delivery with unknown cookie " + std::to_string(c));
			return;
		}
		unsigned k = b->kinds[c].load();
		b->delivered[c]++;
		bool oneshot = k == k_user_oneshot || k == k_timer_oneshot || k == k_fd_oneshot;
		if (e.ret_flags & KEVENT_RET_BROKEN) {
			broken_seen++;
			if (k != k_fd_oneshot && k != k_fd_persistent)
				fail("BROKEN delivery of a non-fd kevent, cookie " +
				     std::to_string(c));
		}
		if (e.ret_flags & KEVENT_RET_DONE)
			b->end(static_cast<uint32_t>(c));
		else if (oneshot)
			fail("ONESHOT delivered without DONE, cookie " + std::to_string(c));
	};

	std::vector<std::thread> ts;
	// --- waiters -------------------------------------------------------
	ts.emplace_back([&] {
		ukevent buf[16];
		while (!stop_waiters.load()) {
			int n = kevent_get_events(kfd, 1, 16, nullptr, buf, 0);
			if (n < 0) {
				fail(std::string("get_events: ") + std::strerror(errno));
				break;
			}
			for (int i = 0; i < n; i++)
				on_delivery(buf[i]);
		}
		waiters_running--;
	});
	ts.emplace_back([&] {
		ukevent buf[8];
		rng r(11);
		while (!stop_waiters.load()) {
			timespec t = kevent_test::ms(20);
			int n = kevent_get_events(kfd, 1 + r.below(3), 8, &t, buf, 0);
			if (n < 0) {
				fail(std::string("get_events: ") + std::strerror(errno));
				break;
			}
			for (int i = 0; i < n; i++)
				on_delivery(buf[i]);
		}
		waiters_running--;
	});
	ts.emplace_back([&] {
		ukevent buf[1];
		while (!stop_waiters.load()) {
			timespec t = kevent_test::ms(5);
			int n = kevent_get_events(kfd, 1, 1, &t, buf, 0);
			if (n < 0) {
				fail(std::string("get_events: ") + std::strerror(errno));
				break;
			}
			for (int i = 0; i < n; i++)
				on_delivery(buf[i]);
			n = kevent_get_events(kfd, 0, 1, nullptr, buf, 0); // never blocks
			for (int i = 0; i < n; i++)
				on_delivery(buf[i]);
		}
		waiters_running--;
	});

	// Copy-back of an ADD batch: entries ready at ADD (DONE) end there.
	auto after_add = [&](int n, ukevent *v) {
		if (n < 0) {
			ctl_errors++;
			return;
		}
		for (int i = 0; i < n; i++) {
			uint64_t c = kevent_test::cookie_of(v[i]);
			if (v[i].ret_flags & KEVENT_RET_BROKEN) {
				fail("ADD failed: errno " + std::to_string(-int(v[i].ret_data[1])) +
				     " cookie " + std::to_string(c));
				b->end(static_cast<uint32_t>(c)); // not registered
			} else if (v[i].ret_flags & KEVENT_RET_DONE) {
				b->end(static_cast<uint32_t>(c)); // ready at ADD, not kept
			}
		}
	};

	// --- adder ---------------------------------------------------------
	ts.emplace_back([&] {
		rng r(1);
		uint32_t timer_seq = 0;
		while (!stop_producers.load()) {
			if (live.size() > 2000) {
				std::this_thread::sleep_for(milliseconds(1));
				continue;
			}
			ukevent v[8];
			unsigned n = 1 + r.below(8);
			unsigned made = 0;
			for (unsigned i = 0; i < n; i++) {
				unsigned what = r.below(10);
				kind k = what < 5   ? k_user_oneshot
					 : what < 8 ? k_user_persistent
						    : k_timer_oneshot;
				uint32_t c = b->take(k);
				if (c == kMaxRegs)
					break;
				if (k == k_timer_oneshot) {
					// Unique interval: 1 ms + up to 2 ms in 1 ns steps.
					kevent_id id{};
					id.raw[1] = 1000000 + (timer_seq++ % 2000000);
					v[made++] = make(KEVENT_TIMER, id.raw_u64,
							 KEVENT_TIMER_FIRED, KEVENT_REQ_ONESHOT, c);
				} else {
					unsigned rf = k == k_user_oneshot ? KEVENT_REQ_ONESHOT : 0;
					if (k == k_user_oneshot && r.below(2))
						rf |= KEVENT_REQ_READY | KEVENT_REQ_ALWAYS_QUEUE;
					v[made++] = make(KEVENT_UNOTIFY, c, 0, rf, c);
				}
			}
			if (!made)
				break;
			ukevent keep[8];
			std::copy(v, v + made, keep);
			after_add(kevent_ctl(kfd, KEVENT_CTL_ADD, made, v), v);
			// Into the pool once registered (none is copied back: user
			// ones are queued, timers are not ready at ADD).
			for (unsigned i = 0; i < made; i++)
				live.put(keep[i].id.raw_u64, keep[i].type,
					 kevent_test::cookie_of(keep[i]));
		}
	});
	// --- readier -------------------------------------------------------
	ts.emplace_back([&] {
		rng r(2);
		while (!stop_producers.load()) {
			ukevent v[4];
			unsigned n = r.below(3) ? 1 : 4, k = 0;
			for (unsigned i = 0; i < n; i++) {
				uint64_t id;
				uint32_t type, c;
				if (!live.pick(r, id, type, c, false) || type != KEVENT_UNOTIFY)
					continue;
				v[k] = make(KEVENT_UNOTIFY, id, 0);
				v[k++].ret_data[0] = c;
			}
			if (!k) {
				std::this_thread::yield();
				continue;
			}
			if (kevent_ctl(kfd, KEVENT_CTL_READY, k, v) < 0)
				ctl_errors++;
			readies++;
		}
	});
	// --- remover / modifier --------------------------------------------
	ts.emplace_back([&] {
		rng r(3);
		while (!stop_producers.load()) {
			uint64_t id;
			uint32_t type, c;
			bool remove = r.below(3) != 0;
			if (!live.pick(r, id, type, c, remove)) {
				std::this_thread::yield();
				continue;
			}
			if (remove) {
				ukevent e = make(type, id, 0);
				if (kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &e) != 0)
					ctl_errors++;
				else if (e.ret_flags == KEVENT_RET_DONE)
					b->end(c);
				else if (e.ret_data[1] != static_cast<uint32_t>(-ENOENT))
					fail("REMOVE: errno " +
					     std::to_string(-int(e.ret_data[1])));
				removes++;
			} else if (type == KEVENT_UNOTIFY) {
				unsigned k = b->kinds[c].load();
				ukevent e = make(KEVENT_UNOTIFY, id, r.below(16),
						 k == k_user_oneshot ? KEVENT_REQ_ONESHOT : 0, c);
				if (kevent_ctl(kfd, KEVENT_CTL_MODIFY, 1, &e) != 0)
					ctl_errors++;
				modifies++;
			}
			if (r.below(64) == 0)
				std::this_thread::yield();
		}
	});
	// --- fds -----------------------------------------------------------
	ts.emplace_back([&] {
		rng r(4);
		struct reg {
			int watched = -1, peer = -1;
			uint32_t type = 0;
			uint32_t cookie = 0;
			bool closed = false; // watched end closed, kevent left behind
		};
		std::vector<reg> regs;
		// Closed numbers with a kevent left on them: the next ADD on the
		// same number makes those kevents BROKEN (delivered once).
		std::map<int, uint32_t> orphans;
		auto remove_reg = [&](reg &g) {
			ukevent e = make(g.type, static_cast<uint32_t>(g.watched), 0);
			if (kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &e) != 0)
				ctl_errors++;
			else if (e.ret_flags == KEVENT_RET_DONE)
				b->end(g.cookie);
			else if (e.ret_data[1] != static_cast<uint32_t>(-ENOENT))
				fail("fd REMOVE: errno " + std::to_string(-int(e.ret_data[1])));
		};
		while (!stop_producers.load()) {
			// Open and register up to 8 at a time.
			while (regs.size() < 8) {
				int p[2];
				bool sock = r.below(2);
				int rc = sock ? ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
							     p)
					      : ::pipe2(p, O_CLOEXEC | O_NONBLOCK);
				if (rc != 0) {
					fail(std::string("socketpair/pipe: ") +
					     std::strerror(errno));
					break;
				}
				bool oneshot = r.below(2);
				uint32_t c = b->take(oneshot ? k_fd_oneshot : k_fd_persistent);
				if (c == kMaxRegs) {
					::close(p[0]);
					::close(p[1]);
					break;
				}
				reg g;
				g.watched = p[0];
				g.peer = p[1];
				g.cookie = c;
				unsigned ev;
				if (r.below(3) == 0) {
					g.type = KEVENT_POLL;
					ev = POLLIN;
				} else if (sock) {
					g.type = KEVENT_SOCKET;
					ev = KEVENT_SOCKET_RECV;
				} else {
					g.type = KEVENT_PIPE;
					ev = KEVENT_PIPE_RECV;
				}
				// A number we left kevents on, now registered again:
				// this ADD makes those kevents BROKEN (delivered once).
				// (Reused as the unwatched peer, it keeps its orphan.)
				orphans.erase(p[0]);
				ukevent a = make(g.type, static_cast<uint32_t>(g.watched), ev,
						 oneshot ? KEVENT_REQ_ONESHOT : 0, c);
				after_add(kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &a), &a);
				regs.push_back(g);
			}
			if (regs.empty())
				break;
			// One action on a random registration.
			size_t i = r.below(static_cast<unsigned>(regs.size()));
			reg &g = regs[i];
			char x = 'x';
			switch (r.below(6)) {
			case 0:
			case 1: // data: a new edge
				if (g.peer >= 0 && ::write(g.peer, &x, 1) != 1 && errno != EAGAIN)
					fail(std::string("write: ") + std::strerror(errno));
				continue;
			case 2: // the peer goes away: BROKEN (or EOF) on the watched end
				if (g.peer >= 0) {
					::close(g.peer);
					g.peer = -1;
				}
				continue;
			case 3: // close the watched end, then REMOVE (DONE or delivered)
				::close(g.watched);
				closed_under++;
				remove_reg(g);
				break;
			case 4: // close the watched end and leave the kevent behind
				::close(g.watched);
				closed_under++;
				orphans[g.watched] = g.cookie;
				g.closed = true;
				break;
			default: // REMOVE, then close
				remove_reg(g);
				::close(g.watched);
				break;
			}
			if (g.peer >= 0)
				::close(g.peer);
			regs[i] = regs.back();
			regs.pop_back();
			fd_cycles++;
		}
		for (auto &g : regs) {
			remove_reg(g);
			::close(g.watched);
			if (g.peer >= 0)
				::close(g.peer);
		}
		// Orphans whose number was not reused: REMOVE by key (the kevent
		// is still registered unless it was delivered BROKEN meanwhile).
		for (auto [fd, c] : orphans) {
			for (uint32_t type : {KEVENT_POLL, KEVENT_SOCKET, KEVENT_PIPE}) {
				ukevent e = make(type, static_cast<uint32_t>(fd), 0);
				if (kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &e) == 0 &&
				    e.ret_flags == KEVENT_RET_DONE)
					b->end(c);
			}
		}
	});
	// --- chaos ---------------------------------------------------------
	ts.emplace_back([&] {
		rng r(5);
		while (!stop_producers.load()) {
			switch (r.below(3)) {
			case 0:
				kevent_ctl(kfd, KEVENT_CTL_READY, 0, nullptr);
				forced++;
				break;
			case 1: {
				kevent_stats st{};
				if (kevent_get_stats(kfd, &st, sizeof st) != 0)
					fail("get_stats");
				break;
			}
			default: {
				ukevent t = make(KEVENT_TIMER, kevent_test::timer_id(7200000),
						 KEVENT_TIMER_FIRED, 0, 0);
				if (kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &t) != 0)
					fail("chaos timer ADD");
				ukevent rm = make(KEVENT_TIMER, t.id.raw_u64, 0);
				if (kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &rm) != 0 ||
				    rm.ret_flags != KEVENT_RET_DONE)
					fail("chaos timer REMOVE");
				break;
			}
			}
			std::this_thread::sleep_for(std::chrono::microseconds(200 + r.below(800)));
		}
	});

	std::this_thread::sleep_for(std::chrono::seconds(seconds));
	stop_producers = true;
	for (size_t i = 3; i < ts.size(); i++)
		ts[i].join();

	// Drain: READY every live user ONESHOT, REMOVE the rest; timers fire.
	{
		std::lock_guard lk(live.mu);
		for (size_t i = 0; i < live.items.size(); i++) {
			auto [id, c] = live.items[i];
			uint32_t type = live.types[i];
			if (b->kinds[c].load() == k_user_oneshot) {
				ukevent e = make(KEVENT_UNOTIFY, id, 0);
				kevent_ctl(kfd, KEVENT_CTL_READY, 1, &e); // not found: ended
									  // already
			} else if (type == KEVENT_UNOTIFY) {
				ukevent e = make(KEVENT_UNOTIFY, id, 0);
				if (kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &e) == 0 &&
				    e.ret_flags == KEVENT_RET_DONE)
					b->end(c);
			}
		}
	}
	const uint32_t regs_total = std::min(b->next.load(), kMaxRegs);
	auto all_ended = [&] {
		for (uint32_t c = 0; c < regs_total; c++)
			if (b->ended[c].load() == 0)
				return false;
		return true;
	};
	bool ended = wait_until(all_ended, milliseconds(15000));
	kevent_stats st = queue_stats(kfd);
	stop_waiters = true;
	release_waiters(kfd, waiters_running);
	for (size_t i = 0; i < 3; i++)
		ts[i].join();

	std::printf("[ stats    ] %d s: %u registrations, %llu delivered, %llu broken, %llu "
		    "wake-ups, %llu READY calls, %llu REMOVE, %llu MODIFY, %llu forced wake-ups, "
		    "%llu fd cycles (%llu closed under a kevent)\n",
		    seconds, regs_total, (unsigned long long)st.delivered,
		    (unsigned long long)st.broken, (unsigned long long)st.wakeups,
		    (unsigned long long)readies.load(), (unsigned long long)removes.load(),
		    (unsigned long long)modifies.load(), (unsigned long long)forced.load(),
		    (unsigned long long)fd_cycles.load(), (unsigned long long)closed_under.load());
	EXPECT_EQ(0u, bad.load()) << "first failure: " << first_failure;
	EXPECT_EQ(0u, ctl_errors.load()) << "a kevent_ctl call failed";
	EXPECT_TRUE(ended) << "not every registration ended within 15 s";
	static const char *names[] = {"unused",        "user ONESHOT", "user persistent",
				      "timer ONESHOT", "fd ONESHOT",   "fd persistent"};
	unsigned wrong = 0;
	for (uint32_t c = 0; c < regs_total && wrong < 20; c++) {
		unsigned k = b->kinds[c].load();
		uint32_t e = b->ended[c].load(), d = b->delivered[c].load();
		bool oneshot = k == k_user_oneshot || k == k_timer_oneshot || k == k_fd_oneshot;
		if (e != 1 || (oneshot && d > 1)) {
			ADD_FAILURE() << names[k] << " cookie " << c << ": ended " << e
				      << " times, delivered " << d << " times";
			wrong++;
		}
	}
	EXPECT_EQ(0u, st.registered) << "registrations left after every one ended";
	EXPECT_EQ(0u, st.ready);
	EXPECT_EQ(0, kevent_close(kfd));
	kfd = -1;
	kevent_stats g = kevent_test::global_stats();
	EXPECT_EQ(0u, g.queues);
	EXPECT_EQ(0u, g.registered);
	EXPECT_EQ(0u, g.inflight_io);
}

} // namespace

KEVENT_INSTANTIATE_BACKENDS(Stress);
