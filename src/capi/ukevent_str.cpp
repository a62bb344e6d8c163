// SPDX-License-Identifier: MIT
// kevent_ukevent_str — a ukevent as one line of text, for debugging and logs
// (the kevent counterpart of strerror). Names the origin, the id the way the
// origin reads it, the event bits, req_flags, ret_flags, ret_data (with the
// error text of a BROKEN entry) and the cookie. snprintf semantics: returns
// the length it needed and NUL-terminates whenever size > 0. What it says
// of each origin — its name, how its id reads, its bits' names — is the cold
// part of the origin's row (src/origin/origin_table.cpp).
//
// Never allocates and takes no lock, so it is safe anywhere snprintf is.
#include "origin/origin.hpp"

#include <kevent/kevent.h>

#include <cerrno>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <span>

using namespace kevent::detail;

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

// "A|B|0x40" for the named bits, then any unknown ones in hex; "0" for none.
void add_bits(writer &w, uint32_t bits, std::span<const bit_name> names) {
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
	{KEVENT_REQ_DISABLED, "DISABLED"},
};
constexpr bit_name ret_names[] = {
	{KEVENT_RET_BROKEN, "BROKEN"},
	{KEVENT_RET_DONE, "DONE"},
	{KEVENT_RET_COPY_FAILED, "COPY_FAILED"},
};
// The origin's name in upper case, as its constant spells it (SOCKET).
void add_upper(writer &w, const char *name) {
	char up[32];
	size_t i = 0;
	for (; name[i] && i + 1 < sizeof up; i++)
		up[i] = name[i] >= 'a' && name[i] <= 'z' ? static_cast<char>(name[i] - 'a' + 'A')
							 : name[i];
	up[i] = '\0';
	w.add("%s ", up);
}

// strerror_r comes in two shapes (GNU: returns the text; XSI: fills buf).
[[maybe_unused]] const char *error_text(int r, const char *buf) {
	return r == 0 ? buf : "Unknown error";
}
[[maybe_unused]] const char *error_text(const char *r, const char *) { return r; }

// The id the way the origin reads it (its row's id_format), then the event
// bits by the names of the row. `info` is null for a type past the table.
void add_id_and_events(writer &w, const ukevent &ev, const origin_info *info) {
	const uint32_t *raw = ev.id.raw;
	switch (info ? info->id : id_format::raw) {
	case id_format::fd:
		w.add("fd=%d ", static_cast<int>(raw[0]));
		break;
	case id_format::op: // the id is the operation's, not a descriptor
		w.add("op=%" PRIu64 " ", ev.id.raw_u64);
		break;
	case id_format::interval:
		if (ev.type == KEVENT_TIMER && (ev.event & KEVENT_TIMER_NAMED)) {
			w.add("name=%" PRIu64 " ", ev.id.raw_u64); // kevent_timer(7)
			break;
		}
		// Nanoseconds of 1e9 or more are no interval (ADD refuses them):
		// as a decimal fraction they would read as a valid, wrong one
		// (0.1000000000s for 1e9 ns).
		if (raw[1] < 1000000000u)
			w.add("interval=%" PRIu32 ".%09" PRIu32 "s ", raw[0], raw[1]);
		else
			w.add("interval=%" PRIu32 "s+%" PRIu32 "ns(invalid) ", raw[0], raw[1]);
		break;
	case id_format::signal:
		w.add("sig=%d%s ", static_cast<int>(raw[0]),
		      (ev.id.raw_u64 & KEVENT_SIGNAL_NOMASK) ? " NOMASK" : "");
		break;
	case id_format::pid:
		w.add("pid=%d ", static_cast<int>(raw[0]));
		break;
	case id_format::user: // any id, any bits
		w.add("id=%" PRIu64 " events=0x%" PRIx32, ev.id.raw_u64, ev.event);
		return;
	case id_format::raw: // not built in, or an unknown type: raw values
		w.add("id=0x%" PRIx64 " events=0x%" PRIx32, ev.id.raw_u64, ev.event);
		return;
	}
	add_bits(w, ev.event, info->bits);
}

void add_data(writer &w, const ukevent &ev, const origin_info *info) {
	// Counts are decimal (timer expirations, signal deliveries, bytes an
	// operation moved), event bits hex.
	bool count = info && info->counts;
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
	const origin_info *info = ev->type < KEVENT_MAX ? &origin_info_for(ev->type) : nullptr;
	if (info)
		add_upper(w, info->name);
	else
		w.add("type=%" PRIu32 " ", ev->type);
	add_id_and_events(w, *ev, info);
	w.add(" req=");
	add_bits(w, ev->req_flags, req_names);
	w.add(" ret=");
	add_bits(w, ev->ret_flags, ret_names);
	add_data(w, *ev, info);
	uint64_t cookie = ev->user[0] | (static_cast<uint64_t>(ev->user[1]) << 32);
	w.add(" cookie=0x%" PRIx64, cookie);
	if (size > 0 && w.length() == 0)
		buf[0] = '\0';
	errno = saved_errno;
	return w.length() > INT32_MAX ? INT32_MAX : static_cast<int>(w.length());
}
