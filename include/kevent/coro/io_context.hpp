// SPDX-License-Identifier: MIT
// coro/io_context.hpp — kevent::coro::io_context, the scheduler of the
// coroutine layer: it owns (or borrows) one kevent queue, harvests its
// events and resumes the coroutine whose awaiter's address is the event's
// cookie, on the thread that harvested it. run() may be called from any
// number of threads at once.
//
// At most one of the context's blocking runners waits in the queue (the
// poller); the others park on the context's condition variable. The queue
// would otherwise hand its poller role to a sleeping runner each time the
// poller returns with events (kevent_get_events(3), wake-one): a futex
// wake-up and a context switch per harvest, which made 2 runners cost
// ~45% more CPU per request than 1. Here a poller that returns keeps
// nobody waiting: it runs what it harvested and polls again, while the
// parked runners sleep. They are woken only when there is work for them:
// a full batch (the kernel has more: a backlog), of which the poller hands
// half over (the spill list); posted work; stop(). A handler that runs long
// holds back no event for long either: a parked runner waits at most
// park_max, and takes the poller role over when it finds it vacant.
//
// Posted work (post(fn), co_await schedule(), spawn) goes to a list inside
// the context, not through the queue: a runner that is awake takes it
// before it blocks again, so posting costs no system call then. Only when
// every runner is blocked in kevent_get_events does a post make one
// KEVENT_UNOTIFY kevent of the context ready (kevent_unotify(7)), which the
// queue hands to one waiter (wake-one, docs/semantics.md).
//
// Work tracking: spawned tasks, posted handlers and work_guards count as
// work; run() returns when none is left (or after stop()).
//
// LOCKING: mu_ guards the posted list, the spill list, idle_ (runners
// blocked in the queue), polling_, parked_ and wake_pending_; park_cv_ waits
// on it. It is never held across a kevent call nor while user code runs. work_, stopped_ and the
// orphan count are atomics. See docs/coroutines.md for the lifetime, threading and cancellation
// rules.
#pragma once

#include <kevent/error.hpp>
#include <kevent/kevent.h>
#include <kevent/queue.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <coroutine>
#include <cstdint>
#include <cstring>
#include <exception>
#include <mutex>
#include <optional>
#include <set>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace kevent::coro {

class io_context;

namespace detail {

// What a kevent cookie points at: an operation awaiting its completion.
struct op_base {
	void (*complete)(op_base *self, const ukevent &ev) noexcept = nullptr;
};

// One item of posted work; intrusive, so schedule() and spawn allocate
// nothing beyond their frames.
struct posted_node {
	posted_node *next = nullptr;
	// execute = false: the context is destroyed with the node still
	// queued; release what the node owns without running it.
	void (*run)(posted_node *self, bool execute) = nullptr;
};

// The shared states of the context's sockets (coro/socket_slot.hpp): a
// socket's persistent kevent points at one, and a copy of its event may
// still be on its way to a runner after the socket is closed, so a slot is
// recycled, never freed, while the context lives. Type-erased here: the
// slot's type is coro/socket_slot.hpp's.
struct slot_pool {
	std::mutex mu;
	op_base *free = nullptr;
	std::vector<op_base *> all;
	void (*destroy)(op_base *) noexcept = nullptr;
	slot_pool() = default;
	slot_pool(const slot_pool &) = delete;
	slot_pool &operator=(const slot_pool &) = delete;
	~slot_pool() {
		for (op_base *p : all)
			destroy(p);
	}
};

// The batch the calling thread is dispatching, so that an awaiter destroyed
// from inside a handler can neutralise its own event still waiting later in
// the same batch (see operation.hpp).
struct batch_view {
	ukevent *evs = nullptr;
	unsigned next = 0; // index of the first event not yet dispatched
	unsigned n = 0;
};
inline thread_local batch_view tl_batch{};

} // namespace detail

// Keeps run() from returning for lack of work while it lives.
class work_guard;

class io_context {
public:
	// Owns a new queue on the chosen backend (throws std::system_error).
	explicit io_context(kevent::backend b = kevent::backend::automatic) : own_(b) {
		kfd_ = own_.fd();
		init();
	}
	// Borrows q, which must outlive the context.
	explicit io_context(kevent::queue &q) : kfd_(q.fd()) { init(); }

	io_context(const io_context &) = delete;
	io_context &operator=(const io_context &) = delete;

	// The context must be idle: no runner, no suspended operation.
	~io_context() {
		ukevent uk = wake_event();
		(void)kevent_ctl(kfd_, KEVENT_CTL_REMOVE, 1, &uk);
		while (posted_node_t *p = head_) {
			head_ = p->next;
			p->run(p, false);
		}
	}

	int fd() const noexcept { return kfd_; }
	// The queue's backend (KEVENT_BACKEND_EPOLL or _URING; 0 if unknown).
	uint32_t backend() const noexcept { return backend_; }

	// Runs handlers until no work is left or stop() is called; returns how
	// many it ran. Exceptions from handlers and detached tasks propagate.
	std::size_t run() { return loop(SIZE_MAX, true, nullptr); }
	// Runs at most one handler, blocking until there is one (0: stopped or
	// no work).
	std::size_t run_one() { return loop(1, true, nullptr); }
	// As run_one, waiting at most d for an event (0: none came).
	std::size_t run_one_for(std::chrono::nanoseconds d) {
		timespec ts = kevent::detail::to_timespec(d);
		return loop(1, true, &ts);
	}
	// Runs the handlers that are ready now, without blocking.
	std::size_t poll() { return loop(SIZE_MAX, false, nullptr); }
	std::size_t poll_one() { return loop(1, false, nullptr); }

	// Wakes every runner blocked in the queue (kevent_ctl READY with num 0);
	// they look at the posted list and the stop flag again.
	void wake_all() noexcept {
		{
			std::lock_guard lk(mu_);
			++park_gen_;
		}
		park_cv_.notify_all();
		(void)kevent_ctl(kfd_, KEVENT_CTL_READY, 0, nullptr);
	}

	// Makes every runner return soon; run() returns at once until restart().
	void stop() noexcept {
		stopped_.store(true, std::memory_order_seq_cst);
		{
			std::lock_guard lk(mu_);
			++park_gen_;
		}
		park_cv_.notify_all();
		signal_wake();
	}
	bool stopped() const noexcept { return stopped_.load(std::memory_order_acquire); }
	void restart() noexcept { stopped_.store(false, std::memory_order_release); }

	// Runs fn() on a runner thread, later (never inside post). Allocates one
	// node for fn.
	template <class F> void post(F &&fn) {
		struct node : detail::posted_node {
			std::decay_t<F> f;
			explicit node(F &&x) : f(std::forward<F>(x)) {}
		};
		auto *n = new node(std::forward<F>(fn));
		n->run = [](detail::posted_node *self, bool execute) {
			struct del {
				node *p;
				~del() { delete p; }
			} d{static_cast<node *>(self)};
			if (execute)
				d.p->f();
		};
		work_started();
		push(n);
	}

	// co_await ctx.schedule(): continue on a runner thread of this context.
	auto schedule() noexcept {
		struct awaiter : detail::posted_node {
			io_context *ctx;
			std::coroutine_handle<> h;
			bool await_ready() const noexcept { return false; }
			void await_suspend(std::coroutine_handle<> c) noexcept {
				h = c;
				run = [](detail::posted_node *self, bool execute) {
					if (execute)
						static_cast<awaiter *>(self)->h.resume();
				};
				ctx->work_started();
				ctx->push(this);
			}
			void await_resume() const noexcept {}
		};
		awaiter a;
		a.ctx = this;
		return a;
	}

	// Work tracking (work_guard, spawn): run() returns when work drops to 0.
	void work_started() noexcept { work_.fetch_add(1, std::memory_order_relaxed); }
	void work_finished() noexcept {
		if (work_.fetch_sub(1, std::memory_order_acq_rel) == 1)
			stop();
	}
	long outstanding_work() const noexcept { return work_.load(std::memory_order_relaxed); }

	// Resumes h on a runner (used by cancellation and cross-thread
	// completions). node must live until it runs.
	void post_node(detail::posted_node *node) noexcept {
		work_started();
		push(node);
	}

	// Withdraws a node posted with post_node that has not run yet; false
	// when a runner already took it.
	bool unpost(detail::posted_node *node) noexcept {
		{
			std::lock_guard lk(mu_);
			posted_node_t *prev = nullptr;
			posted_node_t *p = head_;
			while (p && p != node) {
				prev = p;
				p = p->next;
			}
			if (!p)
				return false;
			(prev ? prev->next : head_) = p->next;
			if (tail_ == p)
				tail_ = prev;
		}
		work_finished();
		return true;
	}

	// An awaiter destroyed while its event waits in the spill list (a batch
	// a poller handed to parked runners): the event is dropped there. False
	// when no runner holds it in the list (see operation.hpp, abandon).
	bool withdraw_spilled(const detail::op_base *op) noexcept {
		std::lock_guard lk(mu_);
		for (unsigned i = 0; i < spill_n_; ++i)
			if (spill_[i].ptr == op) {
				spill_[i].ptr = nullptr;
				return true;
			}
		return false;
	}

	// A unique name for a one-shot ABSTIME timer of this context: the
	// interval of such a timer is not used for timing and serves as its key
	// (kevent_timer(7)), so equal deadlines never collide with EEXIST.
	// Names start at 2^31 seconds, far above any period a program uses.
	kevent_id next_timer_name() noexcept {
		uint64_t n = timer_names_.fetch_add(1, std::memory_order_relaxed);
		kevent_id id{};
		id.raw[0] = 0x80000000u + static_cast<uint32_t>(n / 1000000000u);
		id.raw[1] = static_cast<uint32_t>(n % 1000000000u);
		return id;
	}

	// An AIO operation whose awaiter was destroyed after REMOVE answered
	// EALREADY: its completion is dropped when it arrives.
	void orphan(uint32_t type, uint64_t id) {
		std::lock_guard lk(orphan_mu_);
		orphans_.insert({type, id});
		orphan_count_.fetch_add(1, std::memory_order_release);
	}

	// The pool of socket states (coro/socket_slot.hpp).
	detail::slot_pool &socket_slots() noexcept { return slots_; }

	// Records an exception of a detached task; the runner that ran it
	// rethrows it from run().
	void report(std::exception_ptr e) noexcept {
		std::lock_guard lk(mu_);
		if (!error_)
			error_ = std::move(e);
	}

private:
	using posted_node_t = detail::posted_node;

	static constexpr unsigned batch_max = 16;
	// A parked runner looks at the poller role at least this often: first
	// park_min, doubling while a runner is blocked in the queue (an idle
	// program), back to park_min when the role was vacant.
	static constexpr std::chrono::microseconds park_min{2000};
	static constexpr std::chrono::microseconds park_max{64000};

	void init() {
		kevent_stats st{};
		if (kevent_get_stats(kfd_, &st, sizeof st) == 0)
			backend_ = st.backend;
		ukevent uk = wake_event();
		int n = kevent_ctl(kfd_, KEVENT_CTL_ADD, 1, &uk);
		if (n < 0)
			throw std::system_error(kevent::detail::last_error(), "kevent_ctl(ADD)");
		if (n == 1 && (uk.ret_flags & KEVENT_RET_BROKEN))
			throw std::system_error(
				kevent::detail::errno_code(-static_cast<int32_t>(uk.ret_data[1])),
				"kevent_ctl(ADD)");
	}

	ukevent wake_event() const noexcept {
		ukevent uk{};
		uk.type = KEVENT_UNOTIFY;
		uk.id.raw_u64 = reinterpret_cast<uintptr_t>(this);
		uk.ptr = const_cast<int *>(&wake_tag_);
		return uk;
	}

	// Makes the wake kevent ready when a runner is blocked and no wake is
	// on its way: one blocked runner takes it.
	void signal_wake() noexcept {
		{
			std::lock_guard lk(mu_);
			if (idle_ == 0 || wake_pending_)
				return;
			wake_pending_ = true;
		}
		ukevent uk = wake_event();
		(void)kevent_ctl(kfd_, KEVENT_CTL_READY, 1, &uk);
	}

	// Posted work wakes a parked runner (no kevent call), else the runner
	// blocked in the queue; a runner that is awake takes it anyway.
	void push(posted_node_t *n) noexcept {
		bool wake = false, unpark = false;
		{
			std::lock_guard lk(mu_);
			n->next = nullptr;
			if (tail_)
				tail_->next = n;
			else
				head_ = n;
			tail_ = n;
			if (parked_ > 0) {
				unpark = true;
			} else {
				wake = idle_ > 0 && !wake_pending_;
				if (wake)
					wake_pending_ = true;
			}
		}
		if (unpark)
			park_cv_.notify_one();
		if (wake) {
			ukevent uk = wake_event();
			(void)kevent_ctl(kfd_, KEVENT_CTL_READY, 1, &uk);
		}
	}

	posted_node_t *pop_locked() noexcept {
		posted_node_t *n = head_;
		if (n) {
			head_ = n->next;
			if (!head_)
				tail_ = nullptr;
		}
		return n;
	}

	void rethrow_reported() {
		std::exception_ptr e;
		{
			std::lock_guard lk(mu_);
			e = std::exchange(error_, nullptr);
		}
		if (e)
			std::rethrow_exception(e);
	}

	bool is_orphan(const ukevent &ev) {
		if (orphan_count_.load(std::memory_order_acquire) == 0)
			return false;
		if (ev.type != KEVENT_AIO && ev.type != KEVENT_NAIO)
			return false;
		std::lock_guard lk(orphan_mu_);
		auto it = orphans_.find({ev.type, ev.id.raw_u64});
		if (it == orphans_.end())
			return false;
		orphans_.erase(it);
		orphan_count_.fetch_sub(1, std::memory_order_release);
		return true;
	}

	// Dispatches one harvested event; false for the context's own wake.
	bool dispatch(ukevent &ev) {
		if (ev.ptr == &wake_tag_) {
			std::lock_guard lk(mu_);
			wake_pending_ = false;
			return false;
		}
		if (!ev.ptr || is_orphan(ev))
			return false;
		auto *op = static_cast<detail::op_base *>(ev.ptr);
		op->complete(op, ev);
		return true;
	}

	// Hands the second half of a full batch to a parked runner: the kernel
	// has more (a backlog), so a second thread has work. Under mu_.
	unsigned spill_locked(ukevent *evs, unsigned n) noexcept {
		unsigned give = std::min(n / 2, spill_max - spill_n_);
		std::memcpy(spill_ + spill_n_, evs + (n - give), give * sizeof *evs);
		spill_n_ += give;
		return n - give;
	}

	unsigned take_spill_locked(ukevent *evs, std::size_t max) noexcept {
		unsigned got = static_cast<unsigned>(std::min<std::size_t>(spill_n_, max));
		std::memcpy(evs, spill_, got * sizeof *evs);
		std::memmove(spill_, spill_ + got, (spill_n_ - got) * sizeof *evs);
		spill_n_ -= got;
		return got;
	}

	// Dispatches a batch; returns how many handlers it ran.
	std::size_t run_batch(ukevent *evs, unsigned n) {
		std::size_t ran = 0;
		struct batch_scope {
			detail::batch_view saved = detail::tl_batch;
			~batch_scope() { detail::tl_batch = saved; }
		} scope;
		detail::tl_batch = {evs, 0, n};
		for (unsigned i = 0; i < n; ++i) {
			detail::tl_batch.next = i + 1;
			if (dispatch(evs[i]))
				++ran;
		}
		// Only after the whole batch: a throw in the middle would lose
		// the events harvested after it.
		rethrow_reported();
		return ran;
	}

	enum class next_step { stop, handler, batch, poll, done };

	using clock = std::chrono::steady_clock;

	// What the runner does next (under lk): run a posted handler (p), a
	// spilled batch (got), poll the queue, park, or leave.
	next_step choose(std::unique_lock<std::mutex> &lk, bool block,
			 const std::optional<clock::time_point> &deadline, posted_node_t *&p,
			 ukevent *evs, std::size_t max, unsigned &got) {
		auto park_for = std::chrono::duration_cast<clock::duration>(park_min);
		for (;;) {
			// Read under mu_: stop() sets the flag before it looks at
			// idle_ under mu_, so a runner about to block is either
			// seen there (and woken) or sees the flag here.
			if (stopped_.load(std::memory_order_acquire))
				return next_step::stop;
			if ((p = pop_locked()))
				return next_step::handler;
			if (spill_n_ > 0) {
				got = take_spill_locked(evs, max);
				return next_step::batch;
			}
			if (!block)
				return next_step::poll;
			if (work_.load(std::memory_order_acquire) == 0)
				return next_step::done;
			if (!polling_) {
				polling_ = true;
				++idle_;
				return next_step::poll;
			}
			// Another runner polls: park.
			auto now = clock::now();
			if (deadline && now >= *deadline)
				return next_step::done;
			auto until = now + park_for;
			if (deadline && *deadline < until)
				until = *deadline;
			uint64_t gen = park_gen_;
			++parked_;
			bool timed_out = park_cv_.wait_until(lk, until) == std::cv_status::timeout;
			--parked_;
			// A forced wake-up (wake_all) ends a bounded wait, as it ends
			// kevent_get_events: run_one_for returns 0.
			if (park_gen_ != gen && deadline)
				return next_step::done;
			if (!timed_out || park_gen_ != gen)
				park_for = std::chrono::duration_cast<clock::duration>(park_min);
			else if (polling_)
				park_for = std::min(
					2 * park_for,
					std::chrono::duration_cast<clock::duration>(park_max));
			// Else the role is vacant (the poller runs a long handler):
			// the next round takes it.
		}
	}

	std::size_t loop(std::size_t limit, bool block, const timespec *limit_ts) {
		std::size_t ran = 0;
		ukevent evs[batch_max];
		std::optional<clock::time_point> deadline;
		if (limit_ts)
			deadline = clock::now() + std::chrono::seconds(limit_ts->tv_sec) +
				   std::chrono::nanoseconds(limit_ts->tv_nsec);
		while (ran < limit) {
			posted_node_t *p = nullptr;
			unsigned got = 0;
			next_step step;
			{
				std::unique_lock lk(mu_);
				step = choose(lk, block, deadline, p, evs,
					      std::min<std::size_t>(batch_max, limit - ran), got);
			}
			if (step == next_step::stop) {
				// Pass the stop on to the next blocked runner, if any.
				signal_wake();
				break;
			}
			if (step == next_step::done)
				break;
			if (step == next_step::handler) {
				{
					struct finish {
						io_context *c;
						~finish() { c->work_finished(); }
					} f{this};
					++ran;
					p->run(p, true);
				}
				rethrow_reported();
				continue;
			}
			if (step == next_step::batch) {
				ran += run_batch(evs, got);
				continue;
			}
			unsigned want = static_cast<unsigned>(
				std::min<std::size_t>(batch_max, limit - ran));
			timespec zero{}, left{};
			if (block && deadline) {
				auto d =
					std::max(clock::duration::zero(), *deadline - clock::now());
				left = kevent::detail::to_timespec(
					std::chrono::duration_cast<std::chrono::nanoseconds>(d));
			}
			int n = kevent_get_events(kfd_, block ? 1 : 0, want,
						  block ? (deadline ? &left : nullptr) : &zero, evs,
						  0);
			int err = n < 0 ? errno : 0; // before the locking below
			bool unpark = false;
			if (block) {
				std::lock_guard lk(mu_);
				--idle_;
				polling_ = false;
				if (n > 1 && static_cast<unsigned>(n) == want && parked_ > 0 &&
				    spill_n_ < spill_max) {
					n = static_cast<int>(
						spill_locked(evs, static_cast<unsigned>(n)));
					unpark = true;
				}
			}
			if (unpark)
				park_cv_.notify_one();
			if (n < 0) {
				if (err == EINTR)
					continue;
				throw std::system_error(kevent::detail::errno_code(err),
							"kevent_get_events");
			}
			if (n == 0 && (!block || deadline))
				break;
			ran += run_batch(evs, static_cast<unsigned>(n));
		}
		return ran;
	}

	kevent::queue own_{kevent::queue::adopt, -1};
	int kfd_ = -1;
	uint32_t backend_ = 0;
	const int wake_tag_ = 0;

	std::mutex mu_;
	posted_node_t *head_ = nullptr;
	posted_node_t *tail_ = nullptr;
	unsigned idle_ = 0;
	bool wake_pending_ = false;
	bool polling_ = false;  // a blocking runner has the poller role
	unsigned parked_ = 0;   // runners waiting on park_cv_
	uint64_t park_gen_ = 0; // bumped by stop() and wake_all()
	std::condition_variable park_cv_;
	static constexpr unsigned spill_max = 2 * batch_max;
	ukevent spill_[spill_max];
	unsigned spill_n_ = 0;
	std::exception_ptr error_;

	std::atomic<long> work_{0};
	std::atomic<bool> stopped_{false};
	std::atomic<uint64_t> timer_names_{0};

	detail::slot_pool slots_;

	std::mutex orphan_mu_;
	std::set<std::pair<uint32_t, uint64_t>> orphans_;
	std::atomic<unsigned> orphan_count_{0};
};

class work_guard {
public:
	explicit work_guard(io_context &ctx) noexcept : ctx_(&ctx) { ctx.work_started(); }
	work_guard(work_guard &&o) noexcept : ctx_(std::exchange(o.ctx_, nullptr)) {}
	work_guard(const work_guard &) = delete;
	work_guard &operator=(const work_guard &) = delete;
	work_guard &operator=(work_guard &&) = delete;
	~work_guard() { reset(); }
	void reset() noexcept {
		if (auto *c = std::exchange(ctx_, nullptr))
			c->work_finished();
	}

private:
	io_context *ctx_;
};

} // namespace kevent::coro
