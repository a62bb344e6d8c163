// SPDX-License-Identifier: MIT
// kevent_ukevent_str — a ukevent as one line of text, for debugging and logs
// (the kevent counterpart of strerror). Names the origin, the id the way the
// origin reads it, the event bits, req_flags, ret_flags, ret_data (with the
// error text of a BROKEN entry) and the cookie. snprintf semantics: returns
// the length it needed and NUL-terminates whenever size > 0.
//
// Never allocates and takes no lock, so it is safe anywhere snprintf is.
#include <kevent/kevent.h>

#include <cerrno>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <poll.h>

namespace {

// snprintf over a caller's buffer that keeps counting past its end.
class writer {
public:
	writer(char *buf, size_t size) : buf_(buf), size_(size) {}

	__attribute__((format(printf, 2, 3))) void add(const char *fmt, ...) {
		bool room = len_ < size_;
		va_list ap;
		va_start(ap, fmt);
		int w = std::vsnprintf(room ? buf_ + len_ : nullptr, room ? size_ - len_ : 0, fmt,
				       ap);
		va_end(ap);
		if (w > 0)
			len_ += static_cast<size_t>(w);
	}
	size_t length() const { return len_; }

private:
	char *buf_;
	size_t size_;
	size_t len_ = 0;
};

struct bit_name {
	uint32_t bit;
	const char *name;
};

// "A|B|0x40" for the named bits, then any unknown ones in hex; "0" for none.
template <size_t N> void add_bits(writer &w, uint32_t bits, const bit_name (&names)[N]) {
	if (bits == 0) {
		w.add("0");
		return;
	}
	const char *sep = "";
	for (const bit_name &b : names) {
		if ((bits & b.bit) == b.bit && b.bit != 0) {
			w.add("%s%s", sep, b.name);
			bits &= ~b.bit;
			sep = "|";
		}
	}
	if (bits)
		w.add("%s0x%" PRIx32, sep, bits);
}

constexpr bit_name req_names[] = {
	{KEVENT_REQ_ONESHOT, "ONESHOT"},
	{KEVENT_REQ_WAKEUP_ALL, "WAKEUP_ALL"},
	{KEVENT_REQ_ET, "ET"},
	{KEVENT_REQ_LAST_CHECK, "LAST_CHECK"},
	{KEVENT_REQ_ALWAYS_QUEUE, "ALWAYS_QUEUE"},
	{KEVENT_REQ_READY, "READY"},
	{KEVENT_REQ_LEVEL, "LEVEL"},
};
constexpr bit_name ret_names[] = {
	{KEVENT_RET_BROKEN, "BROKEN"},
	{KEVENT_RET_DONE, "DONE"},
	{KEVENT_RET_COPY_FAILED, "COPY_FAILED"},
};
constexpr bit_name socket_names[] = {
	{KEVENT_SOCKET_RECV, "RECV"},
	{KEVENT_SOCKET_ACCEPT, "ACCEPT"},
	{KEVENT_SOCKET_SEND, "SEND"},
};
// An asynchronous operation's kind (kevent_aio_*(3)): NAIO's are the SOCKET
// bits and two of libkevent's own.
constexpr bit_name naio_names[] = {
	{KEVENT_NAIO_RECV, "RECV"},         {KEVENT_NAIO_ACCEPT, "ACCEPT"},
	{KEVENT_NAIO_SEND, "SEND"},         {KEVENT_NAIO_CONNECT, "CONNECT"},
	{KEVENT_NAIO_SENDFILE, "SENDFILE"},
};
constexpr bit_name aio_names[] = {
	{KEVENT_AIO_READ, "READ"},
	{KEVENT_AIO_WRITE, "WRITE"},
	{KEVENT_AIO_FSYNC, "FSYNC"},
};
constexpr bit_name pipe_names[] = {
	{KEVENT_PIPE_RECV, "RECV"},
	{KEVENT_PIPE_SEND, "SEND"},
};
constexpr bit_name timer_names[] = {
	{KEVENT_TIMER_FIRED, "FIRED"},
	{KEVENT_TIMER_REALTIME, "REALTIME"},
	{KEVENT_TIMER_BOOTTIME, "BOOTTIME"},
	{KEVENT_TIMER_ABSTIME, "ABSTIME"},
};
constexpr bit_name inode_names[] = {
	{KEVENT_INODE_CREATE, "CREATE"},           {KEVENT_INODE_REMOVE, "REMOVE"},
	{KEVENT_INODE_MODIFY, "MODIFY"},           {KEVENT_INODE_ATTRIB, "ATTRIB"},
	{KEVENT_INODE_MOVED_FROM, "MOVED_FROM"},   {KEVENT_INODE_MOVED_TO, "MOVED_TO"},
	{KEVENT_INODE_CLOSE_WRITE, "CLOSE_WRITE"}, {KEVENT_INODE_OVERFLOW, "OVERFLOW"},
};
constexpr bit_name signal_names[] = {{KEVENT_SIGNAL_DELIVERY, "DELIVERY"}};
constexpr bit_name proc_names[] = {
	{KEVENT_PROC_EXIT, "EXIT"},
	{KEVENT_PROC_REAP, "REAP"},
};
// The kernel's values, as KEVENT_POLL uses them (distinct bits on Linux).
constexpr bit_name poll_names[] = {
	{POLLIN, "POLLIN"},         {POLLPRI, "POLLPRI"},       {POLLOUT, "POLLOUT"},
	{POLLERR, "POLLERR"},       {POLLHUP, "POLLHUP"},       {POLLNVAL, "POLLNVAL"},
	{POLLRDNORM, "POLLRDNORM"}, {POLLRDBAND, "POLLRDBAND"}, {POLLWRNORM, "POLLWRNORM"},
	{POLLWRBAND, "POLLWRBAND"}, {POLLMSG, "POLLMSG"},       {POLLRDHUP, "POLLRDHUP"},
};

constexpr const char *type_names[KEVENT_MAX] = {
	"SOCKET", "INODE",  "TIMER",       "POLL",    "NAIO", "AIO",
	"PIPE",   "SIGNAL", "POSIX_TIMER", "UNOTIFY", "PROC",
};

// strerror_r comes in two shapes (GNU: returns the text; XSI: fills buf).
[[maybe_unused]] const char *error_text(int r, const char *buf) {
	return r == 0 ? buf : "Unknown error";
}
[[maybe_unused]] const char *error_text(const char *r, const char *) { return r; }

void add_id_and_events(writer &w, const ukevent &ev) {
	const uint32_t *raw = ev.id.raw;
	switch (ev.type) {
	case KEVENT_SOCKET:
		w.add("fd=%d ", static_cast<int>(raw[0]));
		add_bits(w, ev.event, socket_names);
		return;
	case KEVENT_NAIO: // the id is the operation's, not a descriptor
		w.add("op=%" PRIu64 " ", ev.id.raw_u64);
		add_bits(w, ev.event, naio_names);
		return;
	case KEVENT_AIO:
		w.add("op=%" PRIu64 " ", ev.id.raw_u64);
		add_bits(w, ev.event, aio_names);
		return;
	case KEVENT_PIPE:
		w.add("fd=%d ", static_cast<int>(raw[0]));
		add_bits(w, ev.event, pipe_names);
		return;
	case KEVENT_POLL:
		w.add("fd=%d ", static_cast<int>(raw[0]));
		add_bits(w, ev.event, poll_names);
		return;
	case KEVENT_INODE:
		w.add("fd=%d ", static_cast<int>(raw[0]));
		add_bits(w, ev.event, inode_names);
		return;
	case KEVENT_TIMER:
		// Nanoseconds of 1e9 or more are no interval (ADD refuses them):
		// as a decimal fraction they would read as a valid, wrong one
		// (0.1000000000s for 1e9 ns).
		if (raw[1] < 1000000000u)
			w.add("interval=%" PRIu32 ".%09" PRIu32 "s ", raw[0], raw[1]);
		else
			w.add("interval=%" PRIu32 "s+%" PRIu32 "ns(invalid) ", raw[0], raw[1]);
		add_bits(w, ev.event, timer_names);
		return;
	case KEVENT_SIGNAL:
		w.add("sig=%d%s ", static_cast<int>(raw[0]),
		      (ev.id.raw_u64 & KEVENT_SIGNAL_NOMASK) ? " NOMASK" : "");
		add_bits(w, ev.event, signal_names);
		return;
	case KEVENT_PROC:
		w.add("pid=%d ", static_cast<int>(raw[0]));
		add_bits(w, ev.event, proc_names);
		return;
	case KEVENT_UNOTIFY: // any id, any bits
		w.add("id=%" PRIu64 " events=0x%" PRIx32, ev.id.raw_u64, ev.event);
		return;
	default: // POSIX_TIMER and unknown types: raw values
		w.add("id=0x%" PRIx64 " events=0x%" PRIx32, ev.id.raw_u64, ev.event);
		return;
	}
}

void add_data(writer &w, const ukevent &ev) {
	// Counts are decimal (timer expirations, signal deliveries, bytes an
	// operation moved), event bits hex.
	bool count = ev.type == KEVENT_TIMER || ev.type == KEVENT_SIGNAL ||
		     ev.type == KEVENT_NAIO || ev.type == KEVENT_AIO;
	w.add(count ? " data=[%" PRIu32 "," : " data=[0x%" PRIx32 ",", ev.ret_data[0]);
	auto d1 = static_cast<int32_t>(ev.ret_data[1]);
	if ((ev.ret_flags & KEVENT_RET_BROKEN) && d1 < 0) {
		char msg[128] = "";
		// Negated as unsigned: -INT32_MIN overflows an int32_t (UB;
		// tests/regress/ukevent_str_int_min_test).
		int err = static_cast<int>(0u - ev.ret_data[1]);
		w.add("%" PRId32 " (%s)]", d1, error_text(strerror_r(err, msg, sizeof msg), msg));
	} else {
		w.add("%" PRIu32 "]", ev.ret_data[1]);
	}
}

} // namespace

extern "C" KEVENT_API int kevent_ukevent_str(const struct ukevent *ev, char *buf, size_t size) {
	if (!ev || (!buf && size > 0)) {
		errno = EINVAL;
		return -1;
	}
	int saved_errno = errno; // a pretty-printer in an error path keeps errno
	writer w(buf, size);
	if (ev->type < KEVENT_MAX)
		w.add("%s ", type_names[ev->type]);
	else
		w.add("type=%" PRIu32 " ", ev->type);
	add_id_and_events(w, *ev);
	w.add(" req=");
	add_bits(w, ev->req_flags, req_names);
	w.add(" ret=");
	add_bits(w, ev->ret_flags, ret_names);
	add_data(w, *ev);
	uint64_t cookie = ev->user[0] | (static_cast<uint64_t>(ev->user[1]) << 32);
	w.add(" cookie=0x%" PRIx64, cookie);
	if (size > 0 && w.length() == 0)
		buf[0] = '\0';
	errno = saved_errno;
	return w.length() > INT32_MAX ? INT32_MAX : static_cast<int>(w.length());
}
