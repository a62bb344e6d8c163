// SPDX-License-Identifier: MIT
// ring.hpp — reading a queue's ring (kevent_wait(3), kevent_commit(3),
// kevent_ring_fd(3)) without its index arithmetic: kevent::ring_view for one
// consumer (also mapping a shared ring read-only), kevent::ring_consumers for
// several claiming with compare-and-swap, and ring_entries, the range of
// ready entries both hand out. They work on a kevent descriptor made with a
// ring by kevent_init(3); they do not need kevent::queue.
#pragma once
// <sys/event.h> of libkevent-kqueue makes `kevent` a macro in C++ (see
// there); the namespace below keeps its name.
#pragma push_macro("kevent")
#undef kevent

#include <kevent/error.hpp>
#include <kevent/kevent.h>
#include <kevent/timeout.hpp>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>

namespace kevent {

// ---- the ring: kevent_wait(3), kevent_commit(3), kevent_ring_fd(3) ---------
//
// A queue made with a ring (kevent_init(ring, size, flags), or
// kevent_init(NULL, size, flags | KEVENT_INIT_SHARED_RING)) has its ready
// events moved into the ring by kevent_wait; the consumer reads the slots
// from uidx up to the published ring_kidx and gives them back with
// kevent_commit(new_uidx, over). The arithmetic of that — the wrap, the wrap
// count `over`, the full ring (kidx == uidx) whose release takes two commits
// because a commit to the current uidx releases nothing, the stale old_uidx —
// is done here once:
//
//     kevent::ring_view rv(kfd, ring, size);        // or ring_view::map_shared(kfd)
//     for (;;) {
//         rv.wait(64, std::nullopt);                // kevent_wait with the right old_uidx
//         for (const ukevent &ev : rv.entries())    // uidx .. ring_kidx
//             handle(ev);
//         rv.commit_all();                          // kevent_commit (twice if full)
//     }
//
// Positions. Both classes count in virtual positions: position p is the
// p-th entry the ring ever held; its slot is p % size, and a consumer that
// has released everything before p has uidx == p % size and wrap count
// over == p / size (a commit increments the library's wrap count exactly when
// it wraps, so the count of wrapping commits is floor(released / size)).
// kevent_commit(kfd, to % size, from / size) releases [from, to) for
// 0 < to - from < size; to - from == size (the full ring) is released as
// [from, to - 1) then [to - 1, to).
//
// What a view knows. The header publishes ring_kidx and ring_over only: when
// ring_kidx == uidx the ring is empty or full, and the header cannot say
// which. A view resolves it with the counts its own wait() returns (an
// event moved in and kidx back at uidx means full). Entries that
// kevent_get_events copied into the ring are seen through ring_kidx, except
// that a view which believes the ring empty cannot see a ring that
// kevent_get_events filled exactly; do not mix the two on one ring.
//
// Several consumers (Drepper's per-consumer claims): kevent::ring_consumers
// below.

namespace detail {

inline uint32_t load_acquire(const uint32_t &v) noexcept {
	// A plain atomic load: valid on the read-only mapping of a shared ring.
	return __atomic_load_n(&v, __ATOMIC_ACQUIRE);
}

// kevent_commit for [from, to) of a ring of `size` slots; see "Positions"
// above. Returns the position reached (to, or less on error, with ec set).
inline uint64_t ring_release(int kfd, unsigned size, uint64_t from, uint64_t to,
			     std::error_code &ec) noexcept {
	ec.clear();
	if (to - from == size) {
		// new_uidx == uidx releases nothing: two commits.
		if (kevent_commit(kfd, static_cast<unsigned>((to - 1) % size),
				  static_cast<unsigned>(from / size)) < 0) {
			ec = last_error();
			return from;
		}
		from = to - 1;
	}
	if (to != from && kevent_commit(kfd, static_cast<unsigned>(to % size),
					static_cast<unsigned>(from / size)) < 0) {
		ec = last_error();
		return from;
	}
	return to;
}

// kevent_wait with a relative timeout (nullopt: no limit). Returns the count
// moved into the ring, or -1 with ec set.
inline int ring_wait(int kfd, unsigned num, unsigned size, unsigned old_uidx,
		     std::optional<std::chrono::nanoseconds> timeout,
		     std::error_code &ec) noexcept {
	timespec ts{};
	if (timeout)
		ts = to_timespec(*timeout);
	// num above the ring size is EINVAL for the library; here it is "as
	// many as fit". 0 stays 0 (EINVAL).
	int n = kevent_wait(kfd, num > size ? size : num, old_uidx, timeout ? &ts : nullptr, 0);
	if (n < 0)
		ec = last_error();
	else
		ec.clear();
	return n;
}

} // namespace detail

// Entries [first, last) of a ring, by virtual position (see above): a range
// of const ukevent&. Valid until they are released.
class ring_entries {
public:
	class iterator {
	public:
		using iterator_category = std::forward_iterator_tag;
		using value_type = ukevent;
		using difference_type = std::ptrdiff_t;
		using pointer = const ukevent *;
		using reference = const ukevent &;

		iterator() noexcept = default;
		reference operator*() const noexcept { return ring_->event[slot_]; }
		pointer operator->() const noexcept { return &ring_->event[slot_]; }
		iterator &operator++() noexcept {
			++pos_;
			if (++slot_ == size_)
				slot_ = 0;
			return *this;
		}
		iterator operator++(int) noexcept {
			iterator t = *this;
			++*this;
			return t;
		}
		bool operator==(const iterator &o) const noexcept { return pos_ == o.pos_; }
		// The virtual position of the entry.
		uint64_t position() const noexcept { return pos_; }

	private:
		friend class ring_entries;
		iterator(const kevent_ring *r, unsigned size, uint64_t pos) noexcept
		    : ring_(r), size_(size), slot_(size ? static_cast<unsigned>(pos % size) : 0),
		      pos_(pos) {}
		const kevent_ring *ring_ = nullptr;
		unsigned size_ = 0, slot_ = 0;
		uint64_t pos_ = 0;
	};

	ring_entries() noexcept = default;
	ring_entries(const kevent_ring *ring, unsigned size, uint64_t first, uint64_t last) noexcept
	    : ring_(ring), size_(size), first_(first), last_(last) {}

	iterator begin() const noexcept { return {ring_, size_, first_}; }
	iterator end() const noexcept { return {ring_, size_, last_}; }
	size_t size() const noexcept { return static_cast<size_t>(last_ - first_); }
	bool empty() const noexcept { return first_ == last_; }
	const ukevent &operator[](size_t i) const noexcept {
		return ring_->event[(first_ + i) % size_];
	}
	uint64_t first() const noexcept { return first_; }
	uint64_t last() const noexcept { return last_; }

private:
	const kevent_ring *ring_ = nullptr;
	unsigned size_ = 0;
	uint64_t first_ = 0, last_ = 0;
};

// One consumer's view of a queue's ring: which entries are ready, and the
// index arithmetic of kevent_wait and kevent_commit. Not thread-safe (one
// consumer thread; for several, ring_consumers). Does not own the queue;
// owns the mapping made by map_shared(). Move-only.
class ring_view {
public:
	ring_view() noexcept = default;
	// The ring given to kevent_init(ring, size, ...). `position`: entries
	// released before the view was made (0 for a fresh ring).
	ring_view(int kfd, const kevent_ring *ring, unsigned size, uint64_t position = 0) noexcept
	    : kfd_(kfd), ring_(ring), size_(size), pos_(position) {}

	// The shared ring of a KEVENT_INIT_SHARED_RING queue, mapped read-only
	// from kevent_ring_fd(kfd) (its size is the memfd's). A fresh ring.
	static ring_view map_shared(int kfd) {
		std::error_code ec;
		ring_view v = map_shared(kfd, ec);
		detail::throw_on(ec, "kevent_ring_fd");
		return v;
	}
	static ring_view map_shared(int kfd, std::error_code &ec) noexcept {
		ring_view v;
		int fd = kevent_ring_fd(kfd);
		if (fd < 0) {
			ec = detail::last_error();
			return v;
		}
		struct stat st {};
		void *p = MAP_FAILED;
		if (fstat(fd, &st) == 0 && st.st_size >= static_cast<off_t>(sizeof(kevent_ring)))
			p = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_SHARED,
				 fd, 0);
		ec = p == MAP_FAILED ? detail::last_error() : std::error_code{};
		::close(fd);
		if (p == MAP_FAILED)
			return v;
		v.kfd_ = kfd;
		v.ring_ = static_cast<const kevent_ring *>(p);
		v.size_ = static_cast<unsigned>(
			(static_cast<size_t>(st.st_size) - sizeof(kevent_ring)) / sizeof(ukevent));
		v.map_len_ = static_cast<size_t>(st.st_size);
		return v;
	}

	ring_view(const ring_view &) = delete;
	ring_view &operator=(const ring_view &) = delete;
	ring_view(ring_view &&o) noexcept { *this = std::move(o); }
	ring_view &operator=(ring_view &&o) noexcept {
		if (this != &o) {
			unmap();
			kfd_ = std::exchange(o.kfd_, -1);
			ring_ = std::exchange(o.ring_, nullptr);
			size_ = std::exchange(o.size_, 0u);
			pos_ = std::exchange(o.pos_, 0u);
			avail_ = std::exchange(o.avail_, 0u);
			map_len_ = std::exchange(o.map_len_, 0u);
		}
		return *this;
	}
	~ring_view() { unmap(); }

	int fd() const noexcept { return kfd_; }
	const kevent_ring *ring() const noexcept { return ring_; }
	unsigned size() const noexcept { return size_; }
	// Entries released so far through this view (a virtual position).
	uint64_t position() const noexcept { return pos_; }
	// What kevent_wait's old_uidx and kevent_commit's over must be now.
	unsigned uidx() const noexcept { return size_ ? static_cast<unsigned>(pos_ % size_) : 0; }
	unsigned over() const noexcept { return size_ ? static_cast<unsigned>(pos_ / size_) : 0; }
	// The published producer index and wrap count (acquire loads).
	unsigned kidx() const noexcept { return detail::load_acquire(ring_->ring_kidx); }
	unsigned published_over() const noexcept { return detail::load_acquire(ring_->ring_over); }

	// The ready entries: uidx up to ring_kidx (read with acquire).
	ring_entries entries() noexcept {
		sync(0);
		return {ring_, size_, pos_, pos_ + avail_};
	}
	// How many entries are ready (as entries().size()).
	size_t available() noexcept {
		sync(0);
		return static_cast<size_t>(avail_);
	}

	// kevent_wait(kfd, num, uidx(), timeout): sleeps until an event is
	// ready and the ring has room, then moves up to num (at most size())
	// events in. Returns how many it moved: 0 at timeout, after a forced
	// wake-up, or when another thread committed in between (the view was
	// stale; just call again).
	size_t wait(unsigned num, std::optional<std::chrono::nanoseconds> timeout) {
		std::error_code ec;
		size_t n = wait(num, timeout, ec);
		detail::throw_on(ec, "kevent_wait");
		return n;
	}
	size_t wait(unsigned num, std::optional<std::chrono::nanoseconds> timeout,
		    std::error_code &ec) noexcept {
		int n = detail::ring_wait(kfd_, num, size_, uidx(), timeout, ec);
		if (n <= 0)
			return 0;
		sync(static_cast<unsigned>(n));
		return static_cast<size_t>(n);
	}

	// Releases the first n ready entries (kevent_commit, twice when n is
	// the whole ring). n above available(): EINVAL, nothing released.
	// Returns n.
	size_t commit(size_t n) {
		std::error_code ec;
		n = commit(n, ec);
		detail::throw_on(ec, "kevent_commit");
		return n;
	}
	size_t commit(size_t n, std::error_code &ec) noexcept {
		if (n > avail_)
			sync(0);
		if (n > avail_) {
			ec = detail::errno_code(EINVAL);
			return 0;
		}
		uint64_t to = detail::ring_release(kfd_, size_, pos_, pos_ + n, ec);
		avail_ -= to - pos_;
		n = static_cast<size_t>(to - pos_);
		pos_ = to;
		return n;
	}
	// Releases every ready entry; returns how many.
	size_t commit_all() { return commit(available()); }
	size_t commit_all(std::error_code &ec) noexcept { return commit(available(), ec); }

private:
	// Learn how far the library has filled. `moved`: what our own
	// kevent_wait just returned (resolves kidx == uidx: empty or full).
	void sync(unsigned moved) noexcept {
		if (!ring_ || avail_ == size_)
			return;
		unsigned end = static_cast<unsigned>((pos_ + avail_) % size_);
		unsigned d = (kidx() + size_ - end) % size_;
		if (d == 0 && moved > 0)
			d = static_cast<unsigned>(size_ - avail_); // kidx came round: full
		avail_ += d;
	}
	void unmap() noexcept {
		if (map_len_)
			munmap(const_cast<kevent_ring *>(ring_), map_len_);
		map_len_ = 0;
	}

	int kfd_ = -1;
	const kevent_ring *ring_ = nullptr;
	unsigned size_ = 0;
	uint64_t pos_ = 0;   // released (virtual uidx)
	uint64_t avail_ = 0; // filled and not released
	size_t map_len_ = 0;
};

// Several threads consuming one ring (Drepper's per-consumer indexes claimed
// with compare-and-swap). One object shared by the consumers, with three
// virtual positions (see "Positions" above):
//
//   released <= claimed <= produced <= released + size
//
//   produced  entries kevent_wait has moved in: wait() adds what its
//             kevent_wait returned. The library fills slots in order under
//             its lock, so the first `produced` entries are always written.
//   claimed   entries handed to a consumer: claim(max) takes
//             [c, c + min(max, produced - c)) by a CAS of claimed from c;
//             each entry goes to exactly one consumer.
//   released  entries given back to the library: release(r) waits (spin,
//             then yield) until released == r.first(), then commits
//             [r.first(), r.last()) as above — new_uidx = last % size,
//             over = first / size, two commits for a whole ring — and only
//             then stores released = r.last(). Commits are thus made in
//             order, one at a time, each with the wrap count of the position
//             it starts from, so the library never sees EINVAL or EOVERFLOW.
//
// wait() passes old_uidx = released % size: a wait that races with a commit
// sees a stale view and returns 0 at once (call again), and a wait blocked on
// a full ring returns when a commit makes room. A consumer must release what
// it claimed before it calls wait() (a full ring waits for that release),
// must read its entries before release(), and must not claim while it holds
// an unreleased claim that a later consumer's release would wait for —
// i.e. claim, handle, release, repeat. Only wait() may fill the ring (no
// kevent_get_events and no other kevent_wait on the queue).
class ring_consumers {
public:
	ring_consumers(int kfd, const kevent_ring *ring, unsigned size,
		       uint64_t position = 0) noexcept
	    : kfd_(kfd), ring_(ring), size_(size), produced_(position), claimed_(position),
	      released_(position) {}
	// Takes over a single consumer's view (its released and ready entries).
	explicit ring_consumers(ring_view &v) noexcept
	    : ring_consumers(v.fd(), v.ring(), v.size(), v.position()) {
		produced_.store(v.position() + v.available(), std::memory_order_relaxed);
	}
	ring_consumers(const ring_consumers &) = delete;
	ring_consumers &operator=(const ring_consumers &) = delete;

	unsigned size() const noexcept { return size_; }
	uint64_t produced() const noexcept { return produced_.load(std::memory_order_acquire); }
	uint64_t claimed() const noexcept { return claimed_.load(std::memory_order_acquire); }
	uint64_t released() const noexcept { return released_.load(std::memory_order_acquire); }

	// Claims up to max ready entries for the calling consumer; empty when
	// every produced entry is claimed (then wait()).
	ring_entries claim(size_t max) noexcept {
		uint64_t c = claimed_.load(std::memory_order_relaxed);
		for (;;) {
			uint64_t p = produced_.load(std::memory_order_acquire);
			if (c >= p || max == 0)
				return {ring_, size_, c, c};
			uint64_t n = p - c < max ? p - c : max;
			if (claimed_.compare_exchange_weak(c, c + n, std::memory_order_acquire,
							   std::memory_order_relaxed))
				return {ring_, size_, c, c + n};
		}
	}

	// Gives a claimed range back, in claim order (see above).
	void release(const ring_entries &r) {
		std::error_code ec;
		release(r, ec);
		detail::throw_on(ec, "kevent_commit");
	}
	void release(const ring_entries &r, std::error_code &ec) noexcept {
		ec.clear();
		if (r.empty())
			return;
		for (unsigned spins = 0; released_.load(std::memory_order_acquire) != r.first();)
			if (++spins > 64)
				std::this_thread::yield();
		detail::ring_release(kfd_, size_, r.first(), r.last(), ec);
		// Even on error (a closed queue): later consumers must not spin
		// for ever.
		released_.store(r.last(), std::memory_order_release);
	}

	// kevent_wait with old_uidx = released % size; adds what it moved to
	// produced. Returns that count: 0 at timeout, after a forced wake-up,
	// or when a commit raced with it (call claim() and wait() again).
	size_t wait(unsigned num, std::optional<std::chrono::nanoseconds> timeout) {
		std::error_code ec;
		size_t n = wait(num, timeout, ec);
		detail::throw_on(ec, "kevent_wait");
		return n;
	}
	size_t wait(unsigned num, std::optional<std::chrono::nanoseconds> timeout,
		    std::error_code &ec) noexcept {
		uint64_t rel = released_.load(std::memory_order_acquire);
		int n = detail::ring_wait(kfd_, num, size_, static_cast<unsigned>(rel % size_),
					  timeout, ec);
		if (n <= 0)
			return 0;
		produced_.fetch_add(static_cast<uint64_t>(n), std::memory_order_release);
		return static_cast<size_t>(n);
	}

private:
	int kfd_;
	const kevent_ring *ring_;
	unsigned size_;
	alignas(64) std::atomic<uint64_t> produced_;
	alignas(64) std::atomic<uint64_t> claimed_;
	alignas(64) std::atomic<uint64_t> released_;
};

} // namespace kevent

#pragma pop_macro("kevent")
