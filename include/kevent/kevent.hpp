// SPDX-License-Identifier: MIT
// kevent.hpp — the C++20 API of libkevent, header-only, inline over kevent.h.
//
// What it is for: using a kevent queue from C++ without hand-filling
// ukevent.id.raw[0] or checking -1/errno by hand.
//   - kevent::queue owns one kevent descriptor (RAII, move-only) and wraps
//     kevent_ctl / kevent_get_events / kevent_get_stats.
//   - kevent::socket_event, poll_event, pipe_event, timer_event, user_event,
//     signal_event, inode_event, proc_event build a ukevent for one origin;
//     chain .oneshot(), .edge(), .level(), .last_check(), .always_queue(),
//     .ready(), .cookie(...) (and .nomask() on a signal, .reap() on a
//     process) and convert the result to a ukevent.
//   - Every fallible call comes twice (Asio style): a throwing form
//     (std::system_error carrying the errno) and a noexcept form taking a
//     std::error_code& last, which is cleared on success.
//   - kevent::ring_view (one consumer) and kevent::ring_consumers (several,
//     claiming with compare-and-swap) read a queue's ring and do the index
//     arithmetic of kevent_wait / kevent_commit; see "the ring" below.
//
//     kevent::queue q;
//     ukevent evs[] = {kevent::socket_event(fd, kevent::socket::recv).cookie(conn),
//                      kevent::timer_event(std::chrono::milliseconds(100))};
//     for (ukevent &done : q.add(evs))    // entries copied back by ADD
//         ...;                            // ready at ADD, or failed (broken())
//     ukevent buf[64];
//     for (const ukevent &ev : q.get_events(buf, 1, std::chrono::seconds(1)))
//         ...;
//
// Thread safety: the C calls may be made from any thread at any time on one
// queue, so add/remove/modify/ready/wake/get_events/stats on one
// kevent::queue object may run concurrently from several threads. Moving,
// assigning, close(), release() and destroying the object must not race with
// any other use of it. Builders are plain values.
//
// Lifetime: a queue owns its descriptor from construction until close(),
// release() or destruction; destruction closes it (errors ignored; call
// close() to see them). Closing a queue removes every registration. A
// moved-from queue is empty (fd() == -1); calls on an empty queue fail with
// EBADF. Spans returned by add/remove/modify/ready/get_events are prefixes of
// the caller's own buffer and live as long as it does.
//
// Note: kevent::socket and kevent::pipe are namespaces of event bits; with
// `using namespace kevent;` an unqualified call to ::socket() or ::pipe()
// becomes ambiguous, so qualify those.
#pragma once

// One clear line instead of hundreds of errors about std::span and concepts
// when the compiler's default is older than C++20 (g++ 12 defaults to C++17).
// The missing include then stops the compiler at once: #error alone lets it
// go on through the whole header.
#if !defined(__cplusplus) || __cplusplus < 202002L
#error "kevent.hpp needs C++20: compile with -std=c++20 (CMake: link kevent::kevent, which requires it); C code uses kevent.h"
#include <kevent/kevent_hpp_needs_cxx20> // does not exist, on purpose
#endif

#include <kevent/kevent.h>
#include <sys/types.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <sys/mman.h>
#include <sys/stat.h>
#include <system_error>
#include <thread>
#include <type_traits>
#include <unistd.h>
#include <utility>

namespace kevent {

// ---- origins and event bits -------------------------------------------------

// The origin of a kevent (ukevent::type).
enum class origin : uint32_t {
	socket = KEVENT_SOCKET,
	inode = KEVENT_INODE,
	timer = KEVENT_TIMER,
	poll = KEVENT_POLL,
	naio = KEVENT_NAIO,
	aio = KEVENT_AIO,
	pipe = KEVENT_PIPE,
	signal = KEVENT_SIGNAL,
	posix_timer = KEVENT_POSIX_TIMER,
	unotify = KEVENT_UNOTIFY,
	proc = KEVENT_PROC,
};

// Event bits of KEVENT_SOCKET.
enum class socket_events : uint32_t {
	none = 0,
	recv = KEVENT_SOCKET_RECV,
	accept = KEVENT_SOCKET_ACCEPT,
	send = KEVENT_SOCKET_SEND,
};

// Event bits of KEVENT_PIPE.
enum class pipe_events : uint32_t {
	none = 0,
	recv = KEVENT_PIPE_RECV,
	send = KEVENT_PIPE_SEND,
};

// Event bits of KEVENT_INODE (overflow is reported, never requested).
enum class inode_events : uint32_t {
	none = 0,
	create = KEVENT_INODE_CREATE,
	remove = KEVENT_INODE_REMOVE,
	modify = KEVENT_INODE_MODIFY,
	attrib = KEVENT_INODE_ATTRIB,
	moved_from = KEVENT_INODE_MOVED_FROM,
	moved_to = KEVENT_INODE_MOVED_TO,
	close_write = KEVENT_INODE_CLOSE_WRITE,
	overflow = KEVENT_INODE_OVERFLOW,
};

constexpr socket_events operator|(socket_events a, socket_events b) noexcept {
	return static_cast<socket_events>(static_cast<uint32_t>(a) | static_cast<uint32_t>(b));
}
constexpr socket_events operator&(socket_events a, socket_events b) noexcept {
	return static_cast<socket_events>(static_cast<uint32_t>(a) & static_cast<uint32_t>(b));
}
constexpr pipe_events operator|(pipe_events a, pipe_events b) noexcept {
	return static_cast<pipe_events>(static_cast<uint32_t>(a) | static_cast<uint32_t>(b));
}
constexpr pipe_events operator&(pipe_events a, pipe_events b) noexcept {
	return static_cast<pipe_events>(static_cast<uint32_t>(a) & static_cast<uint32_t>(b));
}

constexpr inode_events operator|(inode_events a, inode_events b) noexcept {
	return static_cast<inode_events>(static_cast<uint32_t>(a) | static_cast<uint32_t>(b));
}
constexpr inode_events operator&(inode_events a, inode_events b) noexcept {
	return static_cast<inode_events>(static_cast<uint32_t>(a) & static_cast<uint32_t>(b));
}

// kevent::socket::recv | kevent::socket::send ...
namespace socket {
inline constexpr socket_events recv = socket_events::recv;
inline constexpr socket_events accept = socket_events::accept;
inline constexpr socket_events send = socket_events::send;
} // namespace socket

// kevent::pipe::recv, kevent::pipe::send
namespace pipe {
inline constexpr pipe_events recv = pipe_events::recv;
inline constexpr pipe_events send = pipe_events::send;
} // namespace pipe

// kevent::inode::create | kevent::inode::remove ...
namespace inode {
inline constexpr inode_events create = inode_events::create;
inline constexpr inode_events remove = inode_events::remove;
inline constexpr inode_events modify = inode_events::modify;
inline constexpr inode_events attrib = inode_events::attrib;
inline constexpr inode_events moved_from = inode_events::moved_from;
inline constexpr inode_events moved_to = inode_events::moved_to;
inline constexpr inode_events close_write = inode_events::close_write;
inline constexpr inode_events overflow = inode_events::overflow;
} // namespace inode

// The clock a timer runs on (KEVENT_TIMER_* bits of ukevent::event).
enum class timer_clock : uint32_t {
	monotonic = 0,
	realtime = KEVENT_TIMER_REALTIME,
	boottime = KEVENT_TIMER_BOOTTIME,
};

// Backend choice for kevent_init (KEVENT_INIT_*).
enum class backend : unsigned {
	automatic = KEVENT_INIT_AUTO, // io_uring when it works, else epoll; KEVENT_BACKEND
				      // overrides
	epoll = KEVENT_INIT_EPOLL,
	uring = KEVENT_INIT_URING,
};

// kevent_init options beyond the backend.
enum class init_option : unsigned {
	none = 0,
	// KEVENT_INIT_NO_FD_CHECK: the queue is closed only through this object
	// (or kevent_close of what release() returned), never by close(2) of
	// fd(); calls then skip the per-call check that fd() still names the
	// queue (one system call each).
	no_fd_check = KEVENT_INIT_NO_FD_CHECK,
};

namespace detail {

inline std::error_code errno_code(int e) noexcept { return {e, std::system_category()}; }
inline std::error_code last_error() noexcept { return errno_code(errno); }

inline void throw_on(const std::error_code &ec, const char *what) {
	if (ec)
		throw std::system_error(ec, what);
}

// A duration as a relative timespec; negative durations mean "now" (do not
// block), which is what a caller computing "deadline - now" wants.
inline timespec to_timespec(std::chrono::nanoseconds d) noexcept {
	if (d.count() < 0)
		d = std::chrono::nanoseconds::zero();
	auto secs = std::chrono::duration_cast<std::chrono::seconds>(d);
	timespec ts{};
	ts.tv_sec = static_cast<time_t>(secs.count());
	ts.tv_nsec = static_cast<long>((d - secs).count());
	return ts;
}

inline constexpr uint32_t invalid_nsec = 1000000000u; // the library rejects it: EINVAL

// Common part of every builder. Builders are immutable values: each modifier
// returns a modified copy, so chains work on temporaries and on named
// builders alike ([[nodiscard]] catches a modifier whose result is dropped).
template <class Derived> class event_builder {
public:
	// Remove the kevent after its first delivery (KEVENT_REQ_ONESHOT).
	[[nodiscard]] constexpr Derived oneshot() const noexcept {
		return with_flags(KEVENT_REQ_ONESHOT);
	}
	// Come back only if ready at the moment of the new edge (KEVENT_REQ_ET).
	// Clears level(): the two are exclusive, the last one chosen wins.
	[[nodiscard]] constexpr Derived edge() const noexcept {
		return with_flags(KEVENT_REQ_ET, KEVENT_REQ_LEVEL);
	}
	// Come back at every get_events while the condition holds
	// (KEVENT_REQ_LEVEL). Clears edge().
	[[nodiscard]] constexpr Derived level() const noexcept {
		return with_flags(KEVENT_REQ_LEVEL, KEVENT_REQ_ET);
	}
	// Re-check readiness just before delivery (KEVENT_REQ_LAST_CHECK).
	[[nodiscard]] constexpr Derived last_check() const noexcept {
		return with_flags(KEVENT_REQ_LAST_CHECK);
	}
	// Ready at ADD: keep it registered and queue it instead of copying it
	// back (KEVENT_REQ_ALWAYS_QUEUE).
	[[nodiscard]] constexpr Derived always_queue() const noexcept {
		return with_flags(KEVENT_REQ_ALWAYS_QUEUE);
	}
	// Ready as soon as it is added (KEVENT_REQ_READY).
	[[nodiscard]] constexpr Derived ready() const noexcept {
		return with_flags(KEVENT_REQ_READY);
	}
	// Wake every queue watching the object, not just one (KEVENT_REQ_WAKEUP_ALL).
	[[nodiscard]] constexpr Derived wakeup_all() const noexcept {
		return with_flags(KEVENT_REQ_WAKEUP_ALL);
	}
	// Any raw KEVENT_REQ_* bits (unknown bits make ADD fail with EINVAL).
	[[nodiscard]] constexpr Derived req_flags(uint32_t flags) const noexcept {
		return with_flags(flags);
	}

	// The cookie, returned untouched with every delivery.
	[[nodiscard]] Derived cookie(void *p) const noexcept {
		Derived d = self();
		d.uk_.user[0] = d.uk_.user[1] = 0;
		d.uk_.ptr = p;
		return d;
	}
	template <std::integral T> [[nodiscard]] constexpr Derived cookie(T v) const noexcept {
		Derived d = self();
		auto u = static_cast<uint64_t>(v);
		d.uk_.user[0] = static_cast<uint32_t>(u);
		d.uk_.user[1] = static_cast<uint32_t>(u >> 32);
		return d;
	}

	// ret_data given at ADD/READY (the payload of a KEVENT_CTL_READY on a
	// user event; the absolute time of a timer).
	[[nodiscard]] constexpr Derived ret_data(uint32_t d0, uint32_t d1) const noexcept {
		Derived d = self();
		d.uk_.ret_data[0] = d0;
		d.uk_.ret_data[1] = d1;
		return d;
	}

	constexpr const ukevent &raw() const noexcept { return uk_; }
	constexpr operator ukevent() const noexcept { return uk_; }

protected:
	constexpr event_builder(uint32_t type, uint64_t id, uint32_t event) noexcept {
		uk_.id.raw_u64 = id;
		uk_.type = type;
		uk_.event = event;
	}
	constexpr Derived with_flags(uint32_t set, uint32_t clear = 0) const noexcept {
		Derived d = self();
		d.uk_.req_flags = (d.uk_.req_flags & ~clear) | set;
		return d;
	}
	constexpr const Derived &self() const noexcept {
		return static_cast<const Derived &>(*this);
	}

	ukevent uk_{};
};

constexpr uint64_t fd_id(int fd) noexcept {
	// raw[0] = fd, raw[1] = 0 (a negative fd keeps its bits: ADD gives EBADF).
	kevent_id id{};
	id.raw[0] = static_cast<uint32_t>(fd);
	id.raw[1] = 0;
	return id.raw_u64;
}

// Encodes an interval as { raw[0] seconds, raw[1] nanoseconds }; one that
// does not fit (negative, or seconds beyond 32 bits) gets nanoseconds 1e9,
// which ADD rejects with EINVAL, instead of silently becoming another key.
constexpr uint64_t interval_id(std::chrono::nanoseconds d) noexcept {
	kevent_id id{};
	auto secs = std::chrono::duration_cast<std::chrono::seconds>(d);
	if (d.count() < 0 || secs.count() > static_cast<int64_t>(UINT32_MAX)) {
		id.raw[0] = 0;
		id.raw[1] = invalid_nsec;
	} else {
		id.raw[0] = static_cast<uint32_t>(secs.count());
		id.raw[1] = static_cast<uint32_t>((d - secs).count());
	}
	return id.raw_u64;
}

} // namespace detail

// A ukevent under construction for a socket, poll, pipe or user event.
class event : public detail::event_builder<event> {
public:
	constexpr event(origin type, uint64_t id, uint32_t events) noexcept
	    : event_builder(static_cast<uint32_t>(type), id, events) {}

private:
	friend class detail::event_builder<event>;
};

// A timer under construction: the common modifiers plus clock and an
// absolute first expiry.
class timer_builder : public detail::event_builder<timer_builder> {
public:
	explicit constexpr timer_builder(std::chrono::nanoseconds interval) noexcept
	    : event_builder(KEVENT_TIMER, detail::interval_id(interval), KEVENT_TIMER_FIRED) {}

	// The clock the timer runs on (monotonic unless chosen).
	[[nodiscard]] constexpr timer_builder clock(timer_clock c) const noexcept {
		timer_builder t = *this;
		t.uk_.event = (t.uk_.event & ~(KEVENT_TIMER_REALTIME | KEVENT_TIMER_BOOTTIME)) |
			      static_cast<uint32_t>(c);
		return t;
	}
	// First expiry at an absolute time on the timer's clock, given as the
	// time since that clock's epoch (KEVENT_TIMER_ABSTIME); the interval then
	// repeats it (interval 0 requires oneshot()). Times before the epoch are
	// the epoch (already expired).
	[[nodiscard]] constexpr timer_builder
	at(std::chrono::nanoseconds since_epoch) const noexcept {
		timer_builder t = *this;
		if (since_epoch.count() < 0)
			since_epoch = std::chrono::nanoseconds::zero();
		auto secs = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
		t.uk_.event |= KEVENT_TIMER_ABSTIME;
		if (secs.count() > static_cast<int64_t>(UINT32_MAX)) {
			t.uk_.ret_data[0] = 0;
			t.uk_.ret_data[1] = detail::invalid_nsec;
		} else {
			t.uk_.ret_data[0] = static_cast<uint32_t>(secs.count());
			t.uk_.ret_data[1] = static_cast<uint32_t>((since_epoch - secs).count());
		}
		return t;
	}
	// First expiry at a steady_clock time (CLOCK_MONOTONIC on Linux).
	[[nodiscard]] constexpr timer_builder
	at(std::chrono::steady_clock::time_point tp) const noexcept {
		return clock(timer_clock::monotonic).at(tp.time_since_epoch());
	}
	// First expiry at a wall-clock time (CLOCK_REALTIME).
	[[nodiscard]] constexpr timer_builder
	at(std::chrono::system_clock::time_point tp) const noexcept {
		return clock(timer_clock::realtime).at(tp.time_since_epoch());
	}

private:
	friend class detail::event_builder<timer_builder>;
};

// A signal under construction: the common modifiers plus nomask().
class signal_builder : public detail::event_builder<signal_builder> {
public:
	explicit constexpr signal_builder(int signo) noexcept
	    : event_builder(KEVENT_SIGNAL, static_cast<uint32_t>(signo), KEVENT_SIGNAL_DELIVERY) {}

	// The queue consumes the signal: no handler runs, no default action
	// (KEVENT_SIGNAL_NOMASK, part of the key). See kevent_signal(7).
	[[nodiscard]] constexpr signal_builder nomask() const noexcept {
		signal_builder b = *this;
		b.uk_.id.raw_u64 |= KEVENT_SIGNAL_NOMASK;
		return b;
	}

private:
	friend class detail::event_builder<signal_builder>;
};

// A process exit under construction: the common modifiers plus reap().
class proc_builder : public detail::event_builder<proc_builder> {
public:
	explicit constexpr proc_builder(pid_t pid) noexcept
	    : event_builder(KEVENT_PROC, detail::fd_id(pid), KEVENT_PROC_EXIT) {}

	// Reap the child when its exit is delivered (KEVENT_PROC_REAP); without
	// it the child stays a zombie for waitpid(2).
	[[nodiscard]] constexpr proc_builder reap() const noexcept {
		proc_builder b = *this;
		b.uk_.event |= KEVENT_PROC_REAP;
		return b;
	}

private:
	friend class detail::event_builder<proc_builder>;
};

// KEVENT_SOCKET on socket fd: recv (data or EOF), accept, send (room).
constexpr event socket_event(int fd, socket_events events) noexcept {
	return event(origin::socket, detail::fd_id(fd), static_cast<uint32_t>(events));
}
// KEVENT_POLL on any pollable fd with POLLIN, POLLOUT ... bits.
constexpr event poll_event(int fd, uint32_t poll_bits) noexcept {
	return event(origin::poll, detail::fd_id(fd), poll_bits);
}
// KEVENT_PIPE on a pipe or FIFO end: recv (data), send (room).
constexpr event pipe_event(int fd, pipe_events events) noexcept {
	return event(origin::pipe, detail::fd_id(fd), static_cast<uint32_t>(events));
}
// KEVENT_TIMER firing every interval (the interval is also the key).
constexpr timer_builder timer_event(std::chrono::nanoseconds interval) noexcept {
	return timer_builder(interval);
}
// KEVENT_UNOTIFY: a user event keyed by id, made ready by queue::ready().
constexpr event user_event(uint64_t id, uint32_t events = 0) noexcept {
	return event(origin::unotify, id, events);
}

// KEVENT_SIGNAL for signal number signo; ret_data[0] counts deliveries.
constexpr signal_builder signal_event(int signo) noexcept { return signal_builder(signo); }
// KEVENT_INODE on the fd of a directory or file; the names that changed come
// from kevent_inode_names(3).
constexpr event inode_event(int fd, inode_events events) noexcept {
	return event(origin::inode, detail::fd_id(fd), static_cast<uint32_t>(events));
}
// KEVENT_PROC: the exit of process pid; ret_data[0] = the wait status of a
// child (a negative pid keeps its bits: ADD gives EINVAL).
constexpr proc_builder proc_event(pid_t pid) noexcept { return proc_builder(pid); }

// ---- reading delivered events ---------------------------------------------

inline uint64_t cookie_u64(const ukevent &uk) noexcept {
	return uk.user[0] | (static_cast<uint64_t>(uk.user[1]) << 32);
}
template <class T = void> T *cookie_ptr(const ukevent &uk) noexcept {
	return static_cast<T *>(uk.ptr);
}
inline bool broken(const ukevent &uk) noexcept { return (uk.ret_flags & KEVENT_RET_BROKEN) != 0; }
inline bool done(const ukevent &uk) noexcept { return (uk.ret_flags & KEVENT_RET_DONE) != 0; }
inline origin origin_of(const ukevent &uk) noexcept { return static_cast<origin>(uk.type); }
inline int fd_of(const ukevent &uk) noexcept { return static_cast<int>(uk.id.raw[0]); }
// The error of a BROKEN entry (ret_data[1] = -errno), or no error.
inline std::error_code error_of(const ukevent &uk) noexcept {
	if (!broken(uk))
		return {};
	auto neg = static_cast<int32_t>(uk.ret_data[1]);
	return detail::errno_code(neg < 0 ? -neg : EIO);
}

// ---- the queue --------------------------------------------------------------

// Owns one kevent descriptor. See the top of this file for thread safety.
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
		std::error_code ec;
		auto r = get_events(buf, min_nr, timeout, ec);
		detail::throw_on(ec, "kevent_get_events");
		return r;
	}
	std::span<ukevent> get_events(std::span<ukevent> buf, unsigned min_nr,
				      std::optional<std::chrono::nanoseconds> timeout,
				      std::error_code &ec) noexcept {
		timespec ts{};
		if (timeout)
			ts = detail::to_timespec(*timeout);
		return wait(buf, min_nr, timeout ? &ts : nullptr, 0, ec);
	}
	// As above with an absolute deadline on steady_clock (KEVENT_FLAGS_ABSTIME,
	// CLOCK_MONOTONIC); a deadline in the past does not block.
	std::span<ukevent> get_events(std::span<ukevent> buf, unsigned min_nr,
				      std::chrono::steady_clock::time_point deadline) {
		std::error_code ec;
		auto r = get_events(buf, min_nr, deadline, ec);
		detail::throw_on(ec, "kevent_get_events");
		return r;
	}
	std::span<ukevent> get_events(std::span<ukevent> buf, unsigned min_nr,
				      std::chrono::steady_clock::time_point deadline,
				      std::error_code &ec) noexcept {
		timespec ts = detail::to_timespec(deadline.time_since_epoch());
		return wait(buf, min_nr, &ts, KEVENT_FLAGS_ABSTIME, ec);
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
	int64_t aio_connect(int fd, const sockaddr *addr, unsigned addrlen, uint64_t cookie) {
		return io_or_throw(kevent_aio_connect(fd_, fd, addr, addrlen, cookie), "kevent_aio_"
										       "connect");
	}
	int64_t aio_sendfile(int out_fd, int in_fd, int64_t off, size_t len, uint64_t cookie) {
		return io_or_throw(kevent_aio_sendfile(fd_, out_fd, in_fd, off, len, cookie), "keve"
											      "nt_"
											      "aio_"
											      "send"
											      "fil"
											      "e");
	}

	// The backend the queue runs on: KEVENT_BACKEND_EPOLL or _URING.
	unsigned backend_in_use() const { return stats().backend; }

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

// ---- the ring (SPEC §6: kevent_wait(3), kevent_commit(3), kevent_ring_fd(3)) --
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

// Prints ev as kevent_ukevent_str(3) does: "TIMER interval=0.001000000s FIRED
// req=ONESHOT ret=DONE data=[1,0] cookie=0x7". In the global namespace, where
// ukevent lives, so that argument-dependent lookup finds it.
inline std::ostream &operator<<(std::ostream &os, const ukevent &ev) {
	char small[256];
	int n = kevent_ukevent_str(&ev, small, sizeof small);
	if (n < 0)
		return os << "<ukevent?>";
	if (static_cast<size_t>(n) < sizeof small)
		return os << small;
	std::string big(static_cast<size_t>(n) + 1, '\0');
	kevent_ukevent_str(&ev, big.data(), big.size());
	big.resize(static_cast<size_t>(n));
	return os << big;
}
