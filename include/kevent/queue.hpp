// SPDX-License-Identifier: MIT
// queue.hpp — kevent::queue, the owner of one kevent descriptor (RAII,
// move-only): kevent_init and kevent_close, the four kevent_ctl commands
// (add, remove, modify, ready) and wake(), kevent_get_events with a timeout
// or a steady_clock deadline, the asynchronous I/O calls (kevent_aio_*), the
// names of an inode delivery (kevent_inode_names) and the statistics. Every
// fallible call comes in a throwing form and a noexcept std::error_code&
// form; thread safety and lifetime are described at the top of kevent.hpp.
#pragma once
// <sys/event.h> of libkevent-kqueue makes `kevent` a macro in C++ (see
// there); the namespace below keeps its name.
#pragma push_macro("kevent")
#undef kevent

#include <kevent/error.hpp>
#include <kevent/events.hpp>
#include <kevent/kevent.h>
#include <kevent/timeout.hpp>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <system_error>
#include <utility>

namespace kevent {

// Backend choice for kevent_init (KEVENT_INIT_*).
enum class backend : unsigned {
	automatic = KEVENT_INIT_AUTO, // epoll; KEVENT_BACKEND=uring asks for io_uring
	epoll = KEVENT_INIT_EPOLL,
	uring = KEVENT_INIT_URING,
};

// kevent_init options beyond the backend.
enum class init_option : unsigned {
	none = 0,
	// KEVENT_INIT_NO_FD_CHECK: accepted, changes nothing. It once skipped
	// a per-call check that fd() still names the queue; no call but
	// kevent_close makes that check any more (kevent_init(3)).
	no_fd_check = KEVENT_INIT_NO_FD_CHECK,
};

// Passed to get_events: a signal handler that runs while the call waits,
// before any event is collected, ends it with errc::interrupted
// (KEVENT_FLAGS_EINTR, kevent_get_events(3)); without it the wait goes on.
struct interruptible_t {
	explicit interruptible_t() = default;
};
inline constexpr interruptible_t interruptible{};

// Passed to get_events: the call asks the kernel even when the queue's
// ready list holds events, so it returns every event ready when it looks,
// up to the buffer's size (KEVENT_FLAGS_ALL_READY, kevent_get_events(3),
// "Fairness"), as epoll_wait(2) does.
struct all_ready_t {
	explicit all_ready_t() = default;
};
inline constexpr all_ready_t all_ready{};

// ---- the queue --------------------------------------------------------------

// Owns one kevent descriptor. See the top of kevent.hpp for thread safety
// and lifetime.
class queue {
public:
	// Opens a queue on the chosen backend (throws std::system_error).
	explicit queue(backend b = backend::automatic) {
		std::error_code ec;
		open(b, ec);
		detail::throw_on(ec, "kevent_init");
	}
	// Opens a queue; on failure ec is set and the queue is empty.
	queue(backend b, std::error_code &ec) noexcept { open(b, ec); }
	// The same, with init options.
	queue(backend b, init_option o) {
		std::error_code ec;
		open(b, ec, o);
		detail::throw_on(ec, "kevent_init");
	}
	queue(backend b, init_option o, std::error_code &ec) noexcept { open(b, ec, o); }

	// Takes ownership of an existing kevent descriptor.
	struct adopt_t {
		explicit adopt_t() = default;
	};
	static constexpr adopt_t adopt{};
	queue(adopt_t, int kfd) noexcept : fd_(kfd) {}

	queue(const queue &) = delete;
	queue &operator=(const queue &) = delete;
	queue(queue &&o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
	queue &operator=(queue &&o) noexcept {
		if (this != &o) {
			reset();
			fd_ = std::exchange(o.fd_, -1);
		}
		return *this;
	}
	~queue() { reset(); }

	int fd() const noexcept { return fd_; }
	bool is_open() const noexcept { return fd_ >= 0; }
	explicit operator bool() const noexcept { return is_open(); }
	// Gives up ownership; the caller must kevent_close() the result.
	[[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }

	// kevent_close: removes every registration. The queue is empty afterwards
	// even on error. Closing an empty queue is a no-op.
	void close() {
		std::error_code ec;
		close(ec);
		detail::throw_on(ec, "kevent_close");
	}
	void close(std::error_code &ec) noexcept {
		ec.clear();
		if (fd_ < 0)
			return;
		int fd = std::exchange(fd_, -1);
		if (kevent_close(fd) < 0)
			ec = detail::last_error();
	}

	// ADD. Returns the entries copied back, compacted to the front of evs:
	// those ready at ADD (DONE, with ret_data; no longer registered unless
	// always_queue()) and those that failed (BROKEN|DONE, error_of()).
	// Empty: everything was queued.
	std::span<ukevent> add(std::span<ukevent> evs) {
		return checked(ctl(KEVENT_CTL_ADD, evs), "kevent_ctl(ADD)");
	}
	std::span<ukevent> add(std::span<ukevent> evs, std::error_code &ec) noexcept {
		return ctl(KEVENT_CTL_ADD, evs, ec);
	}
	std::span<ukevent> add(ukevent &ev) { return add(std::span<ukevent>(&ev, 1)); }
	std::span<ukevent> add(ukevent &ev, std::error_code &ec) noexcept {
		return add(std::span<ukevent>(&ev, 1), ec);
	}

	// REMOVE, matched by (id, type). Every entry is written back in place
	// (DONE; BROKEN|DONE when not registered), so the whole span is returned.
	std::span<ukevent> remove(std::span<ukevent> evs) {
		return checked(ctl(KEVENT_CTL_REMOVE, evs), "kevent_ctl(REMOVE)");
	}
	std::span<ukevent> remove(std::span<ukevent> evs, std::error_code &ec) noexcept {
		return ctl(KEVENT_CTL_REMOVE, evs, ec);
	}
	std::span<ukevent> remove(ukevent &ev) { return remove(std::span<ukevent>(&ev, 1)); }
	std::span<ukevent> remove(ukevent &ev, std::error_code &ec) noexcept {
		return remove(std::span<ukevent>(&ev, 1), ec);
	}

	// MODIFY: replaces event bits, req_flags and cookie; written back in place
	// like remove(), so the whole span is returned.
	std::span<ukevent> modify(std::span<ukevent> evs) {
		return checked(ctl(KEVENT_CTL_MODIFY, evs), "kevent_ctl(MODIFY)");
	}
	std::span<ukevent> modify(std::span<ukevent> evs, std::error_code &ec) noexcept {
		return ctl(KEVENT_CTL_MODIFY, evs, ec);
	}
	std::span<ukevent> modify(ukevent &ev) { return modify(std::span<ukevent>(&ev, 1)); }
	std::span<ukevent> modify(ukevent &ev, std::error_code &ec) noexcept {
		return modify(std::span<ukevent>(&ev, 1), ec);
	}

	// READY: marks the named kevents ready. Returns the entries that were
	// not found (BROKEN), compacted to the front; empty: all were marked.
	std::span<ukevent> ready(std::span<ukevent> evs) {
		return checked(ctl(KEVENT_CTL_READY, evs), "kevent_ctl(READY)");
	}
	std::span<ukevent> ready(std::span<ukevent> evs, std::error_code &ec) noexcept {
		return ctl(KEVENT_CTL_READY, evs, ec);
	}
	std::span<ukevent> ready(ukevent &ev) { return ready(std::span<ukevent>(&ev, 1)); }
	std::span<ukevent> ready(ukevent &ev, std::error_code &ec) noexcept {
		return ready(std::span<ukevent>(&ev, 1), ec);
	}

	// Wakes every thread blocked in get_events (READY with num 0); they return
	// what they have, possibly nothing. Safe from a signal handler (the
	// error_code form).
	void wake() {
		std::error_code ec;
		wake(ec);
		detail::throw_on(ec, "kevent_ctl(READY, 0)");
	}
	void wake(std::error_code &ec) noexcept {
		if (kevent_ctl(fd_, KEVENT_CTL_READY, 0, nullptr) < 0)
			ec = detail::last_error();
		else
			ec.clear();
	}

	// Waits until min_nr events are ready or the timeout passes (nullopt: no
	// limit; zero or negative: do not block), then takes up to buf.size() of
	// them. Returns the delivered prefix of buf (may be shorter than min_nr at
	// timeout, or empty after wake()).
	std::span<ukevent> get_events(std::span<ukevent> buf, unsigned min_nr,
				      std::optional<std::chrono::nanoseconds> timeout) {
		return throwing(buf, min_nr, timeout);
	}
	std::span<ukevent> get_events(std::span<ukevent> buf, unsigned min_nr,
				      std::optional<std::chrono::nanoseconds> timeout,
				      std::error_code &ec) noexcept {
		return wait_for(buf, min_nr, timeout, 0, ec);
	}
	// As above with an absolute deadline on steady_clock (KEVENT_FLAGS_ABSTIME,
	// CLOCK_MONOTONIC); a deadline in the past does not block.
	std::span<ukevent> get_events(std::span<ukevent> buf, unsigned min_nr,
				      std::chrono::steady_clock::time_point deadline) {
		return throwing(buf, min_nr, deadline);
	}
	std::span<ukevent> get_events(std::span<ukevent> buf, unsigned min_nr,
				      std::chrono::steady_clock::time_point deadline,
				      std::error_code &ec) noexcept {
		timespec ts = detail::to_timespec(deadline.time_since_epoch());
		return wait(buf, min_nr, &ts, KEVENT_FLAGS_ABSTIME, ec);
	}
	// As above, interruptible: a signal handler that runs during the wait
	// with nothing collected ends it with errc::interrupted (thrown as
	// std::system_error, or in ec). Loop on it as on EINTR.
	std::span<ukevent> get_events(std::span<ukevent> buf, unsigned min_nr,
				      std::optional<std::chrono::nanoseconds> timeout,
				      interruptible_t) {
		return throwing(buf, min_nr, timeout, interruptible);
	}
	std::span<ukevent> get_events(std::span<ukevent> buf, unsigned min_nr,
				      std::optional<std::chrono::nanoseconds> timeout,
				      interruptible_t, std::error_code &ec) noexcept {
		return wait_for(buf, min_nr, timeout, KEVENT_FLAGS_EINTR, ec);
	}
	// As above, every event ready when the call looks (all_ready).
	std::span<ukevent> get_events(std::span<ukevent> buf, unsigned min_nr,
				      std::optional<std::chrono::nanoseconds> timeout,
				      all_ready_t) {
		return throwing(buf, min_nr, timeout, all_ready);
	}
	std::span<ukevent> get_events(std::span<ukevent> buf, unsigned min_nr,
				      std::optional<std::chrono::nanoseconds> timeout, all_ready_t,
				      std::error_code &ec) noexcept {
		return wait_for(buf, min_nr, timeout, KEVENT_FLAGS_ALL_READY, ec);
	}
	std::span<ukevent> get_events(std::span<ukevent> buf, unsigned min_nr,
				      std::chrono::steady_clock::time_point deadline,
				      interruptible_t) {
		return throwing(buf, min_nr, deadline, interruptible);
	}
	std::span<ukevent> get_events(std::span<ukevent> buf, unsigned min_nr,
				      std::chrono::steady_clock::time_point deadline,
				      interruptible_t, std::error_code &ec) noexcept {
		timespec ts = detail::to_timespec(deadline.time_since_epoch());
		return wait(buf, min_nr, &ts, KEVENT_FLAGS_ABSTIME | KEVENT_FLAGS_EINTR, ec);
	}

	// Asynchronous I/O (kevent_aio_read(3) ...): each call starts one
	// operation and returns its id; the completion is a ONESHOT kevent of
	// type KEVENT_AIO (files) or KEVENT_NAIO (sockets) carrying `cookie`.
	// The buffer must live until that kevent is delivered, the operation
	// is REMOVEd (which cancels it), or the queue is closed. With an
	// error_code: -1 and ec on failure; else throws std::system_error.
	int64_t aio_read(int fd, std::span<std::byte> buf, int64_t off, uint64_t cookie) {
		return io_or_throw(kevent_aio_read(fd_, fd, buf.data(), buf.size(), off, cookie),
				   "kevent_aio_read");
	}
	int64_t aio_read(int fd, std::span<std::byte> buf, int64_t off, uint64_t cookie,
			 std::error_code &ec) noexcept {
		return io(kevent_aio_read(fd_, fd, buf.data(), buf.size(), off, cookie), ec);
	}
	int64_t aio_write(int fd, std::span<const std::byte> buf, int64_t off, uint64_t cookie) {
		return io_or_throw(kevent_aio_write(fd_, fd, buf.data(), buf.size(), off, cookie),
				   "kevent_aio_write");
	}
	int64_t aio_write(int fd, std::span<const std::byte> buf, int64_t off, uint64_t cookie,
			  std::error_code &ec) noexcept {
		return io(kevent_aio_write(fd_, fd, buf.data(), buf.size(), off, cookie), ec);
	}
	int64_t aio_fsync(int fd, bool datasync, uint64_t cookie) {
		return io_or_throw(
			kevent_aio_fsync(fd_, fd, datasync ? KEVENT_AIO_FSYNC_DATASYNC : 0, cookie),
			"kevent_aio_fsync");
	}
	int64_t aio_fsync(int fd, bool datasync, uint64_t cookie, std::error_code &ec) noexcept {
		return io(kevent_aio_fsync(fd_, fd, datasync ? KEVENT_AIO_FSYNC_DATASYNC : 0,
					   cookie),
			  ec);
	}
	int64_t aio_recv(int fd, std::span<std::byte> buf, int flags, uint64_t cookie) {
		return io_or_throw(kevent_aio_recv(fd_, fd, buf.data(), buf.size(), flags, cookie),
				   "kevent_aio_recv");
	}
	int64_t aio_recv(int fd, std::span<std::byte> buf, int flags, uint64_t cookie,
			 std::error_code &ec) noexcept {
		return io(kevent_aio_recv(fd_, fd, buf.data(), buf.size(), flags, cookie), ec);
	}
	int64_t aio_send(int fd, std::span<const std::byte> buf, int flags, uint64_t cookie) {
		return io_or_throw(kevent_aio_send(fd_, fd, buf.data(), buf.size(), flags, cookie),
				   "kevent_aio_send");
	}
	int64_t aio_send(int fd, std::span<const std::byte> buf, int flags, uint64_t cookie,
			 std::error_code &ec) noexcept {
		return io(kevent_aio_send(fd_, fd, buf.data(), buf.size(), flags, cookie), ec);
	}
	int64_t aio_accept(int fd, int flags, uint64_t cookie) {
		return io_or_throw(kevent_aio_accept(fd_, fd, flags, cookie), "kevent_aio_accept");
	}
	int64_t aio_accept(int fd, int flags, uint64_t cookie, std::error_code &ec) noexcept {
		return io(kevent_aio_accept(fd_, fd, flags, cookie), ec);
	}
	int64_t aio_connect(int fd, const sockaddr *addr, unsigned addrlen, uint64_t cookie) {
		return io_or_throw(kevent_aio_connect(fd_, fd, addr, addrlen, cookie),
				   "kevent_aio_connect");
	}
	int64_t aio_connect(int fd, const sockaddr *addr, unsigned addrlen, uint64_t cookie,
			    std::error_code &ec) noexcept {
		return io(kevent_aio_connect(fd_, fd, addr, addrlen, cookie), ec);
	}
	int64_t aio_sendfile(int out_fd, int in_fd, int64_t off, size_t len, uint64_t cookie) {
		return io_or_throw(kevent_aio_sendfile(fd_, out_fd, in_fd, off, len, cookie),
				   "kevent_aio_sendfile");
	}
	int64_t aio_sendfile(int out_fd, int in_fd, int64_t off, size_t len, uint64_t cookie,
			     std::error_code &ec) noexcept {
		return io(kevent_aio_sendfile(fd_, out_fd, in_fd, off, len, cookie), ec);
	}

	// The names behind a delivered INODE kevent (kevent_inode_names(3)):
	// copies as many whole records as fit into buf, removes them from the
	// queue and returns them, oldest first; empty when no name is left, so
	// call again until it is. A buf too small for the next record is EINVAL.
	inode_name_range inode_names(const ukevent &ev, std::span<std::byte> buf) {
		std::error_code ec;
		auto r = inode_names(ev, buf, ec);
		detail::throw_on(ec, "kevent_inode_names");
		return r;
	}
	inode_name_range inode_names(const ukevent &ev, std::span<std::byte> buf,
				     std::error_code &ec) noexcept {
		// A huge buffer is offered as UINT_MAX bytes, never a truncated size.
		unsigned size = buf.size() > UINT_MAX ? UINT_MAX
						      : static_cast<unsigned>(buf.size());
		int n = kevent_inode_names(fd_, &ev, buf.data(), size);
		if (n < 0) {
			ec = detail::last_error();
			return {};
		}
		ec.clear();
		return inode_name_range(buf.first(static_cast<size_t>(n)));
	}

	// The backend the queue runs on: KEVENT_BACKEND_EPOLL or _URING.
	unsigned backend_in_use() const { return stats().backend; }
	unsigned backend_in_use(std::error_code &ec) const noexcept { return stats(ec).backend; }

	// The queue's counters (kevent_get_stats).
	kevent_stats stats() const {
		std::error_code ec;
		auto st = stats(ec);
		detail::throw_on(ec, "kevent_get_stats");
		return st;
	}
	kevent_stats stats(std::error_code &ec) const noexcept {
		// kevent_get_stats(-1) is the process-wide view: an empty queue must
		// not silently report it.
		if (fd_ < 0) {
			ec = detail::errno_code(EBADF);
			return kevent_stats{};
		}
		return get_stats(fd_, ec);
	}

	// Sums over every open queue of the process (kevent_get_stats(-1)).
	static kevent_stats global_stats() {
		std::error_code ec;
		auto st = global_stats(ec);
		detail::throw_on(ec, "kevent_get_stats");
		return st;
	}
	static kevent_stats global_stats(std::error_code &ec) noexcept { return get_stats(-1, ec); }

private:
	static int64_t io(int64_t r, std::error_code &ec) noexcept {
		if (r < 0)
			ec = detail::last_error();
		else
			ec.clear();
		return r;
	}
	static int64_t io_or_throw(int64_t r, const char *what) {
		std::error_code ec;
		io(r, ec);
		detail::throw_on(ec, what);
		return r;
	}

	void open(backend b, std::error_code &ec, init_option o = init_option::none) noexcept {
		fd_ = kevent_init(nullptr, 0, static_cast<unsigned>(b) | static_cast<unsigned>(o));
		if (fd_ < 0) {
			ec = detail::last_error();
			fd_ = -1;
		} else {
			ec.clear();
		}
	}

	void reset() noexcept {
		if (fd_ >= 0)
			(void)kevent_close(std::exchange(fd_, -1));
	}

	struct ctl_result {
		std::span<ukevent> evs;
		std::error_code ec;
	};

	static std::span<ukevent> checked(ctl_result r, const char *what) {
		detail::throw_on(r.ec, what);
		return r.evs;
	}

	ctl_result ctl(unsigned cmd, std::span<ukevent> evs) noexcept {
		ctl_result r;
		r.evs = ctl(cmd, evs, r.ec);
		return r;
	}

	std::span<ukevent> ctl(unsigned cmd, std::span<ukevent> evs, std::error_code &ec) noexcept {
		// A size the C call cannot even be told is as invalid as one above
		// KEVENT_CTL_MAX: never truncate it into a smaller, valid count.
		if (evs.size() > UINT_MAX) {
			ec = detail::errno_code(EINVAL);
			return {};
		}
		int n = kevent_ctl(fd_, cmd, static_cast<unsigned>(evs.size()), evs.data());
		if (n < 0) {
			ec = detail::last_error();
			return {};
		}
		ec.clear();
		switch (cmd) {
		case KEVENT_CTL_ADD:
			return evs.first(static_cast<size_t>(n) <= evs.size()
						 ? static_cast<size_t>(n)
						 : evs.size());
		case KEVENT_CTL_READY: {
			size_t marked = static_cast<size_t>(n) <= evs.size()
						? static_cast<size_t>(n)
						: evs.size();
			return evs.first(evs.size() - marked);
		}
		default:
			return evs;
		}
	}

	// The throwing form of each get_events: the error_code form, then throw.
	template <class... Args>
	std::span<ukevent> throwing(std::span<ukevent> buf, unsigned min_nr, Args... args) {
		std::error_code ec;
		auto r = get_events(buf, min_nr, args..., ec);
		detail::throw_on(ec, "kevent_get_events");
		return r;
	}
	// A relative timeout (nullopt: none) with `flags`.
	std::span<ukevent> wait_for(std::span<ukevent> buf, unsigned min_nr,
				    std::optional<std::chrono::nanoseconds> timeout, unsigned flags,
				    std::error_code &ec) noexcept {
		timespec ts{};
		if (timeout)
			ts = detail::to_timespec(*timeout);
		return wait(buf, min_nr, timeout ? &ts : nullptr, flags, ec);
	}
	std::span<ukevent> wait(std::span<ukevent> buf, unsigned min_nr, const timespec *ts,
				unsigned flags, std::error_code &ec) noexcept {
		// max_nr is clamped, not truncated: a huge buffer just receives at
		// most UINT_MAX events.
		unsigned max_nr = buf.size() > UINT_MAX ? UINT_MAX
							: static_cast<unsigned>(buf.size());
		int n = kevent_get_events(fd_, min_nr, max_nr, ts, buf.data(), flags);
		if (n < 0) {
			ec = detail::last_error();
			return {};
		}
		ec.clear();
		return buf.first(static_cast<size_t>(n));
	}

	static kevent_stats get_stats(int kfd, std::error_code &ec) noexcept {
		kevent_stats st{};
		if (kevent_get_stats(kfd, &st, sizeof st) < 0)
			ec = detail::last_error();
		else
			ec.clear();
		return st;
	}

	int fd_ = -1;
};

} // namespace kevent

#pragma pop_macro("kevent")
