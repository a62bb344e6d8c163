// SPDX-License-Identifier: MIT
// queue — one kevent queue: its lifecycle, its registrations, dispatch of
// what the backend reports, and delivery to the caller. Two parts are
// members of their own:
// - watches_ (watch_table.hpp): the fd watches and their backend calls;
// - waiters_ (waiters.hpp): the threads waiting, the poller role, who wakes
//   whom, forced wake-ups.
// Files: queue.cpp (lifecycle, registrations, statistics), queue_ctl.cpp
// (kevent_ctl), queue_wait.cpp (dispatch, the wait loop, delivery).
//
// LOCKING: one mutex, mu_, guards everything in the queue but the atomics,
// the parts above included (they assert it through the reference they hold).
// - kevent_ctl and kevent_get_events take mu_; origins and the backend's
//   watch/arm calls run under it. A function that expects it held says so
//   with mu_.assert_held() at its top (checked in debug builds).
// - At most one thread at a time (the poller) waits in backend::wait(),
//   *without* mu_; others sleep on the waiters' condition variable
//   (waiters.hpp).
// - force_wake() (READY with num == 0) takes no lock (waiters.hpp).
// - Lifetime: a count of references (the descriptor table's and one for
//   every call in progress); the queue is deleted by whoever closes it, once
//   only its own references remain (descriptor_table.cpp).
#pragma once

#include "backend/backend.hpp"
#include "core/io_pool.hpp"
#include "core/knode_pool.hpp"
#include "core/ready_list.hpp"
#include "core/registry.hpp"
#include "core/stats.hpp"
#include "core/timer_service.hpp"
#include "core/waiters.hpp"
#include "core/watch_table.hpp"
#include "origin/origin.hpp"
#include "ring/ring.hpp"
#include "sys/adaptive_mutex.hpp"
#include "sys/unique_fd.hpp"

#include <kevent/kevent.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <span>

namespace kevent::detail {

class queue final : public origin_services {
public:
	// 0 and a queue, or -errno. `rg` is its ring (or null).
	static int create(unsigned flags, std::unique_ptr<ring> rg, std::unique_ptr<queue> &out);
	~queue();

	int user_fd() const { return user_fd_; }
	descriptor_match probe_queue_descriptor(int fd) const {
		return be_->probe_queue_descriptor(fd);
	}

	// The C calls, arguments already checked for shape; -errno on failure.
	// `flags`: KEVENT_FLAGS_EINTR and KEVENT_FLAGS_ALL_READY
	// (kevent_get_events(3)); ABSTIME is the caller's, already applied.
	int ctl(unsigned cmd, std::span<ukevent> arg);
	int get_events(unsigned min_nr, unsigned max_nr, int64_t deadline_ns, ukevent *buf,
		       unsigned flags = 0);
	int wait_ring(unsigned num, unsigned old_uidx, int64_t deadline_ns, unsigned flags = 0);
	int commit_ring(unsigned new_uidx, unsigned over);
	int ring_fd();
	// READY with num == 0: no lock, async-signal-safe (waiters.hpp).
	void force_wake() noexcept { waiters_.force_wake(); }
	// A call of an origin's own (kevent_aio_*, kevent_inode_names):
	// f(origin_services &) under mu_, as a library call; -EBADF once closed.
	template <class F> int64_t with_origins(F f) {
		std::lock_guard lk(mu_);
		if (closed())
			return -EBADF;
		int64_t r = f(static_cast<origin_services &>(*this));
		flush_and_notify();
		return r;
	}
	void fill_stats(kevent_stats &st) const;
	// Add this queue's counters to a process-wide sum.
	void add_stats(kevent_stats &sum) const;

	// kevent_close: make blocked callers return EBADF, drop every
	// registration. The descriptor itself is closed by the caller.
	void shutdown();

	// References (descriptor_table.cpp): the table's own, and one for every
	// call in progress.
	void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_acq_rel); }
	void drop_ref() noexcept { refs_.fetch_sub(1, std::memory_order_acq_rel); }
	uint32_t refs() const noexcept { return refs_.load(std::memory_order_acquire); }

	// fork(2): the child shares the parent's epoll file, so a queue it
	// inherited must not touch the backend. It may only be closed, which
	// leaves the parent's registrations alone.
	uint32_t fork_generation() const { return fork_gen_; }
	// The fork child's kevent_close of an inherited queue: close the
	// child's copies of the descriptors the queue opened at kevent_init
	// (the caller closes the user's number). Takes no lock and frees
	// nothing: a thread that did not survive the fork may have held mu_ or
	// been changing the registrations, and the child cannot wait for it.
	// The queue's memory is the child's to leak.
	void close_inherited() noexcept;

	// origin_services: origins call these under mu_ (asserted).
	timer_service &timers() override {
		mu_.assert_held();
		return timers_;
	}
	int watch_source(fd_source &src, int fd, uint32_t events) override {
		return watches_.watch_source(src, fd, events);
	}
	int arm_source(fd_source &src, int fd, const watch_mode &mode) override {
		return watches_.arm_source(src, fd, mode);
	}
	void unwatch_source(fd_source &src) override { watches_.unwatch_source(src); }
	bool number_watched(int fd) override { return watches_.find(fd) != nullptr; }
	void make_ready(knode &n) override { make_ready(&n); }
	void break_node(knode &n, int err) override { break_node(&n, err); }
	std::unique_ptr<origin_state> &per_queue_state(uint32_t type) override {
		mu_.assert_held();
		return origin_states_[type];
	}
	knode *add_node(const ukevent &uk) override;
	void remove_node(knode &n) override { free_node(&n); }
	knode *find_node(const kevent_key &key) override {
		mu_.assert_held();
		return reg_.find(key);
	}
	backend *live_backend() override {
		mu_.assert_held();
		return backend_closing_ ? nullptr : be_.get();
	}
	queue_stats &stats() override { return st_; }
	const std::shared_ptr<io_home> &pool_home() override { return home_; }

	// io_pool: a job finished (takes mu_); its origin takes the result.
	void complete_pooled(io_job &job);

private:
	explicit queue(std::unique_ptr<backend> be);

	bool closed() const { return waiters_.closed(); }

	// Registrations (queue.cpp).
	knode *new_node(const ukevent &uk);
	void free_node(knode *n);
	void break_node(knode *n, int err);
	// Cold: kept out of free_node, whose every call would otherwise pay
	// for the registers of its loop (bench/icount).
	[[gnu::cold]] void break_watch(fd_watch *w, int err);

	// Readiness and delivery (queue_wait.cpp).
	bool make_ready(knode *n); // false: it was queued already
	void dispatch(const backend_event *ev, int n, bool blocked = false);
	void expire_timers();
	int dispatch_pending();
	bool must_look() const;
	bool checks_at_delivery(const knode *n) const;
	bool still_ready(knode *n);
	bool poll_now(knode *n);
	unsigned deliver_to(ukevent *buf, unsigned max);
	// `news`: the call queued something new (a READY of kevents that all
	// waited already wakes nobody: it would cost a syscall for nothing).
	void flush_and_notify(bool news = true);

	enum class wanted { wait, go, done };
	template <class Want, class Room, class Deliver>
	int wait_loop(std::unique_lock<sys::adaptive_mutex> &lk, int64_t deadline_ns,
		      unsigned flags, Want want, Room room, Deliver deliver);

	// kevent_ctl commands (queue_ctl.cpp).
	int ctl_add(std::span<ukevent> arg);
	int ctl_remove_modify(unsigned cmd, std::span<ukevent> arg);
	int ctl_ready(std::span<ukevent> arg);
	int prepare_add(ukevent &e, knode *&out);
	int attach_fd(knode *n);
	void prefetch_key(std::span<const ukevent> arg, size_t i) const;

	mutable sys::adaptive_mutex mu_;
	std::unique_ptr<backend> be_;
	// Never call the backend again: the queue is being closed (the epoll
	// file goes with it, so taking each fd out first would be a wasted
	// syscall per registration). Set by shutdown().
	bool backend_closing_ = false;
	int user_fd_ = -1; // the caller's descriptor: a dup of be_->descriptor()
	// A harvest that finds events on the ready list may skip its look at
	// the kernel (queue_wait.cpp, must_look): not while LEVEL kevents are
	// registered (each look re-reports them, kevent_get_events(3)), and
	// not more than max_list_only_harvests times in a row, so that
	// descriptors' events join the list behind a stream of user events.
	static constexpr unsigned max_list_only_harvests = 16;
	unsigned list_only_harvests_ = 0;
	unsigned level_kevents_ = 0;
	waiters waiters_;
	knode_pool pool_; // before reg_ and the rest that point into it
	registry reg_;
	ready_list ready_;
	std::unique_ptr<ring> ring_;
	watch_table watches_;
	timer_service timers_;
	std::unique_ptr<origin_state> origin_states_[KEVENT_MAX];
	uint32_t fork_gen_ = 0;
	std::atomic<uint32_t> refs_{1};
	std::shared_ptr<io_home> home_; // where io_pool jobs report
	queue_stats st_;
};

} // namespace kevent::detail
