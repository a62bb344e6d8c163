// SPDX-License-Identifier: MIT
// The extern "C" entry points: argument checks, errno, exception barrier.
// Nothing here knows how a queue works; it checks shapes, finds the queue
// and translates -errno into (-1, errno).
#include "capi/guarded.hpp"
#include "capi/stats_at_close.hpp"
#include "core/descriptor_table.hpp"
#include "sys/clock.hpp"

#include <kevent/kevent.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <exception>
#include <new>
#include <unistd.h>

using namespace kevent::detail;
using kevent::capi::guarded;

namespace {

// The flags kevent_get_events(3) and kevent_wait(3) know; others: EINVAL.
constexpr unsigned wait_flags = KEVENT_FLAGS_ABSTIME | KEVENT_FLAGS_EINTR | KEVENT_FLAGS_ALL_READY;

bool valid_timespec(const timespec &t) {
	return t.tv_sec >= 0 && t.tv_nsec >= 0 && t.tv_nsec < kevent::sys::ns_per_s;
}

// Absolute CLOCK_MONOTONIC ns, or -1 for no limit.
int64_t deadline_of(const timespec *timeout, unsigned flags) {
	if (!timeout)
		return -1;
	int64_t t = kevent::sys::to_ns(*timeout);
	if (flags & KEVENT_FLAGS_ABSTIME)
		return t;
	return kevent::sys::add_sat(kevent::sys::now_ns(CLOCK_MONOTONIC), t);
}

} // namespace

extern "C" {

KEVENT_API int kevent_init(struct kevent_ring *ring, unsigned ring_size, unsigned flags) {
	return guarded([&] {
		if (flags &
		    ~(KEVENT_INIT_BACKEND_MASK | KEVENT_INIT_SHARED_RING | KEVENT_INIT_NO_FD_CHECK))
			return -EINVAL;
		std::unique_ptr<kevent::detail::ring> rg;
		if (flags & KEVENT_INIT_SHARED_RING) {
			// The library allocates it: no caller memory, a size.
			if (ring || ring_size < 2)
				return -EINVAL;
			if (int r = kevent::detail::ring::create_shared(ring_size, rg); r < 0)
				return r;
		} else {
			if ((ring == nullptr) != (ring_size == 0) || ring_size == 1)
				return -EINVAL;
			if (ring)
				rg = std::make_unique<kevent::detail::ring>(ring, ring_size);
		}
		std::unique_ptr<queue> q;
		if (int r = queue::create(flags & KEVENT_INIT_BACKEND_MASK, std::move(rg), q);
		    r < 0)
			return r;
		// KEVENT_INIT_NO_FD_CHECK is accepted and changes nothing: no call
		// but kevent_close checks the number any more (kevent_init(3)).
		// Not installed (no memory for the table, or a number past its
		// end), the queue is gone and its descriptor must go too.
		int fd = q->user_fd();
		int r;
		try {
			r = install_queue(std::move(q));
		} catch (const std::bad_alloc &) {
			::close(fd);
			throw;
		}
		if (r < 0) {
			::close(fd);
			return r;
		}
		return fd;
	});
}

KEVENT_API int kevent_ctl(int kfd, unsigned cmd, unsigned num, struct ukevent *arg) {
	return guarded([&] {
		if (cmd > KEVENT_CTL_READY || num > KEVENT_CTL_MAX || (num > 0 && !arg))
			return -EINVAL;
		queue_ref q;
		if (int r = lookup_queue(kfd, q); r < 0)
			return r;
		if (num == 0) {
			// READY with nothing named: wake every blocked thread.
			// Lock-free, so a signal handler may do it.
			if (cmd == KEVENT_CTL_READY)
				q->force_wake();
			return 0;
		}
		return q->ctl(cmd, std::span<ukevent>(arg, num));
	});
}

KEVENT_API int kevent_get_events(int kfd, unsigned min_nr, unsigned max_nr,
				 const struct timespec *timeout, struct ukevent *buf,
				 unsigned flags) {
	return guarded([&] {
		if (max_nr == 0 || min_nr > max_nr || !buf || (flags & ~wait_flags) ||
		    (timeout && !valid_timespec(*timeout)))
			return -EINVAL;
		max_nr = std::min<unsigned>(max_nr, INT_MAX);
		int64_t deadline = deadline_of(timeout, flags);
		queue_ref q;
		if (int r = lookup_queue(kfd, q); r < 0)
			return r;
		return q->get_events(min_nr, max_nr, deadline, buf, flags);
	});
}

KEVENT_API int kevent_wait(int kfd, unsigned num, unsigned old_uidx, const struct timespec *timeout,
			   unsigned flags) {
	return guarded([&] {
		if (num == 0 || (flags & ~wait_flags) || (timeout && !valid_timespec(*timeout)))
			return -EINVAL;
		int64_t deadline = deadline_of(timeout, flags);
		queue_ref q;
		if (int r = lookup_queue(kfd, q); r < 0)
			return r;
		return q->wait_ring(num, old_uidx, deadline, flags);
	});
}

KEVENT_API int kevent_commit(int kfd, unsigned new_uidx, unsigned over) {
	return guarded([&] {
		queue_ref q;
		if (int r = lookup_queue(kfd, q); r < 0)
			return r;
		return q->commit_ring(new_uidx, over);
	});
}

KEVENT_API int kevent_ring_fd(int kfd) {
	return guarded([&] {
		queue_ref q;
		if (int r = lookup_queue(kfd, q); r < 0)
			return r;
		return q->ring_fd();
	});
}

KEVENT_API int kevent_close(int kfd) {
	stats_at_close(kfd); // KEVENT_STATS_AT_CLOSE=1: kevent_close(3)
	return guarded([&] { return close_queue(kfd); });
}

KEVENT_API int kevent_get_stats(int kfd, struct kevent_stats *stats, unsigned size) {
	return guarded([&] {
		if (!stats || size < offsetof(kevent_stats, queues))
			return -EINVAL;
		kevent_stats st{};
		if (kfd == -1) {
			// Live totals come from process-wide counters, so that a
			// registration leaked by a closed queue still shows; the
			// rest is summed over the open queues.
			for_each_queue(
				[](const queue &q, void *sum) {
					q.add_stats(*static_cast<kevent_stats *>(sum));
				},
				&st);
			global_stats &g = process_stats();
			st.queues = g.queues.load(std::memory_order_relaxed);
			st.registered = g.registered.load(std::memory_order_relaxed);
			st.inflight_io = g.inflight_io.load(std::memory_order_relaxed);
		} else {
			queue_ref q;
			if (int r = lookup_queue(kfd, q); r < 0)
				return r;
			q->fill_stats(st);
		}
		st.size = static_cast<uint32_t>(std::min<size_t>(size, sizeof st));
		std::memcpy(stats, &st, st.size);
		return 0;
	});
}

KEVENT_API int kevent_inode_names(int kfd, const struct ukevent *ev, void *buf, unsigned size) {
	return guarded([&] {
		if (!ev || !buf || ev->type != KEVENT_INODE)
			return -EINVAL;
		queue_ref q;
		if (int r = lookup_queue(kfd, q); r < 0)
			return r;
		return static_cast<int>(q->with_origins([&](origin_services &svc) {
			return inode_names(svc, ev->id.raw_u64, buf, size);
		}));
	});
}

} // extern "C"
