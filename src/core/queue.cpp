// SPDX-License-Identifier: MIT
// queue — lifecycle, registrations, statistics. LOCKING: see queue.hpp.
#include "core/queue.hpp"

#include "core/descriptor_table.hpp"

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

namespace kevent::detail {

global_stats &process_stats() {
	static global_stats g;
	return g;
}

int queue::create(unsigned flags, std::unique_ptr<ring> rg, std::unique_ptr<queue> &out) {
	std::unique_ptr<backend> be;
	int r = make_backend(flags, be);
	if (r < 0)
		return r == -ENOSPC ? -ENOMEM : r; // epoll's watch limit, as documented
	// The queue first: the dup below must have an owner the moment it
	// exists (tests/regress/init_oom_leaks_fd_test.cpp).
	out.reset(new queue(std::move(be)));
	int ufd = fcntl(out->be_->descriptor(), F_DUPFD_CLOEXEC, 0);
	if (ufd < 0) {
		int err = errno;
		out.reset();
		return -err;
	}
	out->user_fd_ = ufd;
	out->fork_gen_ = current_fork_generation();
	out->ring_ = std::move(rg);
	return 0;
}

queue::queue(std::unique_ptr<backend> be)
    : be_(std::move(be)), waiters_(*be_, mu_), watches_(*be_, backend_closing_, mu_), timers_(*be_),
      home_(std::make_shared<io_home>()) {
	home_->q = this;
	process_stats().queues.fetch_add(1, std::memory_order_relaxed);
}

queue::~queue() {
	shutdown();
	process_stats().queues.fetch_sub(1, std::memory_order_relaxed);
}

void queue::shutdown() {
	{
		// Before mu_: a pool job reports holding home_->mu, then mu_.
		std::lock_guard h(home_->mu);
		home_->q = nullptr;
	}
	std::lock_guard lk(mu_);
	waiters_.close();
	backend_closing_ = true;
	// Free every registration, including BROKEN ones that left the
	// registry and wait on the ready list only.
	while (!ready_.empty())
		free_node(ready_.front());
	// One at a time, no list of them: closing must not need memory
	// (tests/regress/close_oom_leaks_queue_test.cpp).
	while (knode *n = reg_.first())
		free_node(n);
	for (auto &s : origin_states_)
		s.reset(); // after their kevents: they may share the origin's fds
}

void queue::close_inherited() noexcept {
	be_->close_inherited();
	// The shared ring's memfd was made at kevent_init too. Closed by
	// number: this queue is never destroyed in this process.
	if (ring_ && ring_->shared_fd() >= 0)
		::close(ring_->shared_fd());
}

// ---- registrations -------------------------------------------------------

knode *queue::new_node(const ukevent &uk) {
	mu_.assert_held();
	knode *n = pool_.make();
	n->uk = uk;
	n->uk.ret_flags = 0;
	n->uk.ret_data[0] = n->uk.ret_data[1] = 0;
	if (uk.req_flags & KEVENT_REQ_LEVEL)
		level_kevents_++;
	st_.registered.add();
	st_.by_type[uk.type].add();
	st_.added.add();
	process_stats().registered.fetch_add(1, std::memory_order_relaxed);
	return n;
}

knode *queue::add_node(const ukevent &uk) {
	mu_.assert_held();
	knode *n = new_node(uk);
	reg_.insert(n);
	return n;
}

void queue::complete_pooled(io_job &job) {
	std::lock_guard lk(mu_);
	// Taken: a REMOVE waited for this job and handed its result over
	// itself, or cancelled the operation.
	if (closed() || job.taken)
		return;
	job.taken = true;
	complete_operation(*this, job.token, job.result);
	flush_and_notify();
}

void queue::free_node(knode *n) {
	mu_.assert_held();
	if (n->has(on_ready)) {
		ready_.unlink(n);
		st_.ready.set(ready_.size());
	}
	reg_.erase(n);
	const origin_ops &o = origin_for(n->uk.type);
	if (o.uses_fd) {
		if (fd_watch *lost = watches_.detach(n))
			break_watch(lost, EBADF); // the others on this fd lost their file too
	} else {
		o.detach(*this, *n); // every row that is not uses_fd has one
	}
	delete n->ext;
	if (n->req(KEVENT_REQ_LEVEL))
		level_kevents_--;
	st_.registered.add(-1);
	st_.by_type[n->uk.type].add(-1);
	st_.removed.add();
	process_stats().registered.fetch_sub(1, std::memory_order_relaxed);
	pool_.release(n);
}

void queue::break_node(knode *n, int err) {
	mu_.assert_held();
	n->flags |= broken;
	n->broken_errno = err;
	make_ready(n);
}

// The file behind w is gone (closed, or its number reused): every kevent on
// it is delivered once as BROKEN. They leave the registry now, so that the
// number can be registered again at once.
void queue::break_watch(fd_watch *w, int err) {
	mu_.assert_held();
	watches_.break_all(w, [&](knode *n) {
		reg_.erase(n);
		if (n->has(adding)) {
			n->flags |= broken | add_ready;
			n->broken_errno = err;
		} else {
			break_node(n, err);
		}
	});
}

void queue::fill_stats(kevent_stats &st) const {
	st.backend = be_->kind();
	st.queues = 1;
	st.registered = st_.registered.get();
	for (int t = 0; t < KEVENT_MAX; t++)
		st.registered_by_type[t] = st_.by_type[t].get();
	st.ready = st_.ready.get();
	st.inflight_io = st_.inflight_io.get();
	st.added = st_.added.get();
	st.removed = st_.removed.get();
	st.delivered = st_.delivered.get();
	st.broken = st_.broken.get();
	st.wakeups = st_.wakeups.get();
	st.backend_calls = be_->calls();
}

void queue::add_stats(kevent_stats &sum) const {
	kevent_stats st{};
	fill_stats(st);
	for (int t = 0; t < KEVENT_MAX; t++)
		sum.registered_by_type[t] += st.registered_by_type[t];
	sum.ready += st.ready;
	sum.added += st.added;
	sum.removed += st.removed;
	sum.delivered += st.delivered;
	sum.broken += st.broken;
	sum.wakeups += st.wakeups;
	sum.backend_calls += st.backend_calls;
}

} // namespace kevent::detail
