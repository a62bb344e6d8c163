// SPDX-License-Identifier: MIT
// events.hpp — the ukevent of each origin, built and read in C++: the origin
// and event-bit enums (kevent::socket::recv ...), the builders
// (socket_event, poll_event, pipe_event, timer_event, user_event,
// signal_event, inode_event, proc_event) with their chained modifiers, the
// readers of a delivered entry (cookie_u64, broken, error_of ...), the names
// of an inode delivery as kevent_inode_names(3) writes them, and operator<<
// as kevent_ukevent_str(3) prints. Plain values: no queue, no system call.
#pragma once
// <sys/event.h> of libkevent-kqueue makes `kevent` a macro in C++ (see
// there); the namespace below keeps its name.
#pragma push_macro("kevent")
#undef kevent

#include <kevent/error.hpp>
#include <kevent/kevent.h>
#include <sys/types.h>

#include <cerrno>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <ostream>
#include <span>
#include <string.h>
#include <string>
#include <string_view>

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
	move_self = KEVENT_INODE_MOVE_SELF,
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
inline constexpr inode_events move_self = inode_events::move_self;
} // namespace inode

// The clock a timer runs on (KEVENT_TIMER_* bits of ukevent::event).
enum class timer_clock : uint32_t {
	monotonic = 0,
	realtime = KEVENT_TIMER_REALTIME,
	boottime = KEVENT_TIMER_BOOTTIME,
};

namespace detail {

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
	// Not delivered until a MODIFY without it; what happens meanwhile is
	// collected (KEVENT_REQ_DISABLED). enabled() clears it.
	[[nodiscard]] constexpr Derived disabled() const noexcept {
		return with_flags(KEVENT_REQ_DISABLED);
	}
	[[nodiscard]] constexpr Derived enabled() const noexcept {
		return with_flags(0, KEVENT_REQ_DISABLED);
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
	// KEVENT_TIMER_NAMED: keyed by name; the interval travels in ret_data.
	constexpr timer_builder(uint64_t name, std::chrono::nanoseconds interval) noexcept
	    : event_builder(KEVENT_TIMER, name, KEVENT_TIMER_FIRED | KEVENT_TIMER_NAMED) {
		kevent_id iv{};
		iv.raw_u64 = detail::interval_id(interval);
		uk_.ret_data[0] = iv.raw[0];
		uk_.ret_data[1] = iv.raw[1];
	}

	// The clock the timer runs on (monotonic unless chosen).
	[[nodiscard]] constexpr timer_builder clock(timer_clock c) const noexcept {
		timer_builder t = *this;
		t.uk_.event = (t.uk_.event & ~(KEVENT_TIMER_REALTIME | KEVENT_TIMER_BOOTTIME)) |
			      static_cast<uint32_t>(c);
		return t;
	}
	// First expiry at an absolute time on the timer's clock, given as the
	// time since that clock's epoch (KEVENT_TIMER_ABSTIME); the interval then
	// repeats it (interval 0 requires oneshot()). A named timer's interval
	// is replaced by the time: it must be a oneshot(). Times before the
	// epoch are the epoch (already expired).
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
// KEVENT_TIMER_NAMED: a timer keyed by name, firing every interval; any
// number of timers of one period live in one queue (kevent_timer(7)).
constexpr timer_builder named_timer_event(uint64_t name,
					  std::chrono::nanoseconds interval) noexcept {
	return timer_builder(name, interval);
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

// ---- the names of an inode delivery -----------------------------------------

// One name an INODE delivery handed over (a record of kevent_inode_names(3)):
// the change, and the name in the watched directory ("" for the watched
// object itself). The name points into the caller's buffer.
struct inode_name {
	inode_events event;
	std::string_view name;
};

// The records one kevent_inode_names call wrote, oldest first: a forward
// range of inode_name over the caller's buffer, valid as long as it is.
// Empty: no name was left. Records are read with memcpy, so the buffer
// needs no particular alignment.
class inode_name_range {
public:
	class iterator {
	public:
		// Yields values, not references: a forward iterator to C++20
		// ranges, an input iterator to the older algorithms.
		using iterator_concept = std::forward_iterator_tag;
		using iterator_category = std::input_iterator_tag;
		using value_type = inode_name;
		using difference_type = std::ptrdiff_t;
		using pointer = void;
		using reference = inode_name;

		iterator() noexcept = default;
		inode_name operator*() const noexcept {
			uint32_t event = field(offsetof(kevent_inode_name, event));
			const char *name =
				reinterpret_cast<const char *>(p_) + sizeof(kevent_inode_name);
			return {static_cast<inode_events>(event),
				std::string_view(name,
						 strnlen(name,
							 field(offsetof(kevent_inode_name, len))))};
		}
		iterator &operator++() noexcept {
			p_ += sizeof(kevent_inode_name) + field(offsetof(kevent_inode_name, len));
			return *this;
		}
		iterator operator++(int) noexcept {
			iterator t = *this;
			++*this;
			return t;
		}
		bool operator==(const iterator &o) const noexcept { return p_ == o.p_; }

	private:
		friend class inode_name_range;
		explicit iterator(const std::byte *p) noexcept : p_(p) {}
		uint32_t field(size_t offset) const noexcept {
			uint32_t v;
			std::memcpy(&v, p_ + offset, sizeof v);
			return v;
		}
		const std::byte *p_ = nullptr;
	};

	inode_name_range() noexcept = default;
	// The first n bytes a kevent_inode_names call returned.
	explicit inode_name_range(std::span<const std::byte> written) noexcept : bytes_(written) {}

	iterator begin() const noexcept { return iterator(bytes_.data()); }
	iterator end() const noexcept { return iterator(bytes_.data() + bytes_.size()); }
	bool empty() const noexcept { return bytes_.empty(); }
	// The records as the C call wrote them.
	std::span<const std::byte> bytes() const noexcept { return bytes_; }

private:
	std::span<const std::byte> bytes_;
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

#pragma pop_macro("kevent")
