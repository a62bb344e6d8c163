// SPDX-License-Identifier: MIT
#include "program.hpp"

#include "../model/model_queue.hpp"
#include "real_world.hpp"

#include <poll.h>
#include <time.h>

namespace kevent_diff {

using kevent_model::file_kind;

namespace {

constexpr size_t max_ops = 64;
constexpr uint32_t day = 86400;

class reader {
public:
	reader(const uint8_t *d, size_t n) : d_(d), n_(n) {}
	bool more() const { return i_ < n_; }
	uint8_t next() { return i_ < n_ ? d_[i_++] : 0; }

private:
	const uint8_t *d_;
	size_t n_, i_ = 0;
};

template <class T, size_t N> T pick(const T (&table)[N], uint8_t b) { return table[b % N]; }

void set_id(ukevent &e, uint32_t lo, uint32_t hi) {
	e.id.raw[0] = lo;
	e.id.raw[1] = hi;
}

// An fd number: mostly the slots, sometimes one that fails.
void decode_fd(ukevent &e, uint8_t b) {
	unsigned s = b % 4;
	if (s < kevent_model::slot_count) {
		set_id(e, uint32_t(real_world::first_fd + int(s)), 0);
		return;
	}
	switch ((b >> 2) % 4) {
	case 0:
		set_id(e, uint32_t(real_world::never_open_fd), 0); // EBADF
		break;
	case 1:
		set_id(e, UINT32_MAX, 0); // fd -1: EBADF
		break;
	case 2:
		set_id(e, uint32_t(real_world::first_fd), 1); // a second key for an fd: EINVAL
		break;
	default:
		set_id(e, uint32_t(real_world::first_fd), 0);
		break;
	}
}

// Event bits per fd origin: the valid ones, often, and a few invalid ones.
const uint32_t socket_events[] = {KEVENT_SOCKET_RECV,
				  KEVENT_SOCKET_SEND,
				  KEVENT_SOCKET_RECV | KEVENT_SOCKET_SEND,
				  KEVENT_SOCKET_ACCEPT,
				  KEVENT_SOCKET_RECV | KEVENT_SOCKET_ACCEPT,
				  0,
				  0x8,
				  KEVENT_SOCKET_RECV};
const uint32_t pipe_events[] = {
	KEVENT_PIPE_RECV, KEVENT_PIPE_SEND, KEVENT_PIPE_RECV | KEVENT_PIPE_SEND, 0, 0x2,
	KEVENT_PIPE_RECV};
const uint32_t poll_events[] = {POLLIN,  POLLOUT,           POLLIN | POLLOUT,
				POLLHUP, POLLRDHUP,         POLLIN | POLLRDHUP,
				POLLERR, POLLNVAL | POLLIN, 0,
				0x10000, POLLPRI,           POLLRDNORM,
				POLLIN};

template <size_t N>
void fd_entry(ukevent &e, uint32_t type, const uint32_t (&events)[N], uint8_t b1, uint8_t b2) {
	e.type = type;
	decode_fd(e, b1);
	e.event = pick(events, b2);
}

int64_t now_ns(clockid_t c) {
	timespec t{};
	clock_gettime(c, &t);
	return int64_t(t.tv_sec) * 1000000000 + t.tv_nsec;
}

// Timers are deterministic: due now, or a day and more away.
void decode_timer(ukevent &e, uint8_t b1, uint8_t b2, uint8_t b5) {
	static const uint32_t intervals[][2] = {
		{0, 0}, {day, 0}, {day, 5}, {2 * day, 0}, {UINT32_MAX, 0}, {0, 1000000000u},
	};
	const uint32_t *iv = intervals[b1 % 6];
	set_id(e, iv[0], iv[1]);
	static const uint32_t clocks[] = {0, 0, KEVENT_TIMER_REALTIME, KEVENT_TIMER_BOOTTIME,
					  KEVENT_TIMER_REALTIME | KEVENT_TIMER_BOOTTIME};
	e.event = KEVENT_TIMER_FIRED | pick(clocks, b2);
	if (b2 & 0x10)
		e.event |= KEVENT_TIMER_ABSTIME;
	if ((b2 & 0xe0) == 0xe0)
		e.event &= ~KEVENT_TIMER_FIRED; // EINVAL
	if (b2 & 0x08) {
		// Named (kevent_timer(7)): the same value is the name, and the
		// interval moves to ret_data (ABSTIME overwrites it below).
		e.event |= KEVENT_TIMER_NAMED;
		e.ret_data[0] = iv[0];
		e.ret_data[1] = iv[1];
	}
	if (!(e.event & KEVENT_TIMER_ABSTIME))
		return;
	clockid_t c = (e.event & KEVENT_TIMER_REALTIME)   ? CLOCK_REALTIME
		      : (e.event & KEVENT_TIMER_BOOTTIME) ? CLOCK_BOOTTIME
							  : CLOCK_MONOTONIC;
	switch (b5 % 4) {
	case 0:
	case 1: { // a millisecond ago: due at once
		int64_t t = now_ns(c) - 1000000;
		e.ret_data[0] = uint32_t(t / 1000000000);
		e.ret_data[1] = uint32_t(t % 1000000000);
		break;
	}
	case 2: // 2106: never in a run
		e.ret_data[0] = UINT32_MAX;
		e.ret_data[1] = 0;
		break;
	default: // nanoseconds out of range: EINVAL
		e.ret_data[0] = 0;
		e.ret_data[1] = 1000000000u;
		break;
	}
}

ukevent decode_entry(reader &r) {
	uint8_t b0 = r.next(), b1 = r.next(), b2 = r.next(), b3 = r.next(), b4 = r.next(),
		b5 = r.next();
	ukevent e{};
	e.ret_data[0] = b5;
	switch (b0 % 16) {
	case 0:
	case 1:
	case 2:
		fd_entry(e, KEVENT_SOCKET, socket_events, b1, b2);
		break;
	case 3:
	case 4:
		fd_entry(e, KEVENT_PIPE, pipe_events, b1, b2);
		break;
	case 5:
	case 6:
	case 7:
		fd_entry(e, KEVENT_POLL, poll_events, b1, b2);
		break;
	case 8:
	case 9:
	case 10:
		e.type = KEVENT_TIMER;
		decode_timer(e, b1, b2, b5);
		break;
	case 11:
	case 12:
	case 13:
		e.type = KEVENT_UNOTIFY;
		set_id(e, b1 % 4, (b1 & 0x80) ? 1 : 0);
		e.event = b2;
		e.ret_data[1] = uint32_t(b5) << 8;
		break;
	case 14: {
		static const uint32_t types[] = {KEVENT_NAIO, KEVENT_AIO, KEVENT_POSIX_TIMER};
		e.type = pick(types, b1);
		set_id(e, b1, 0);
		e.event = 1;
		break;
	}
	default:
		e.type = (b1 & 1) ? KEVENT_MAX : UINT32_MAX; // EINVAL
		set_id(e, b1, 0);
		e.event = 1;
		break;
	}
	e.req_flags = b3 & KEVENT_REQ_MASK;
	if (b3 == 0xff)
		e.req_flags |= 0x100; // an unknown bit: EINVAL
	e.user[0] = b4;
	e.user[1] = b4 ^ 0x55u;
	return e;
}

} // namespace

program decode(const uint8_t *data, size_t size) {
	reader r(data, size);
	program p;
	uint8_t k = r.next();
	for (unsigned i = 0; i < kevent_model::slot_count; i++)
		p.kinds[i] = (k >> i) & 1 ? file_kind::socket : file_kind::pipe_read;
	while (r.more() && p.ops.size() < max_ops) {
		uint8_t b = r.next();
		op o{};
		switch (b % 16) {
		case 0:
		case 1:
		case 2:
		case 3:
		case 4:
		case 5: {
			static const unsigned cmds[] = {KEVENT_CTL_ADD,    KEVENT_CTL_ADD,
							KEVENT_CTL_ADD,    KEVENT_CTL_REMOVE,
							KEVENT_CTL_MODIFY, KEVENT_CTL_READY};
			o.kind = op_kind::ctl;
			o.cmd = cmds[b % 16];
			unsigned n = 1 + (b >> 4) % 4;
			if (o.cmd == KEVENT_CTL_READY && (b >> 4) == 15)
				n = 0; // wake-up only
			for (unsigned i = 0; i < n; i++)
				o.entries.push_back(decode_entry(r));
			break;
		}
		case 6:
		case 7:
		case 8: {
			o.kind = op_kind::get_events;
			uint8_t m = r.next();
			o.max_nr = m == 0xff ? 0 : 1 + m % 8; // 0: EINVAL
			o.min_nr = r.next() % (o.max_nr + 2); // above max_nr: EINVAL
			static const timeout_kind t[] = {
				timeout_kind::zero, timeout_kind::zero,
				timeout_kind::zero, timeout_kind::abstime_past,
				timeout_kind::none, timeout_kind::one_ms};
			o.timeout = pick(t, b >> 4);
			break;
		}
		case 9:
		case 10:
			o.kind = op_kind::write;
			break;
		case 11:
			o.kind = op_kind::drain;
			break;
		case 12:
			o.kind = op_kind::close_peer;
			break;
		case 13:
			o.kind = op_kind::close;
			break;
		default:
			o.kind = op_kind::reopen;
			o.file = (b >> 4) & 1 ? file_kind::socket : file_kind::pipe_read;
			break;
		}
		o.slot = (b >> 5) % kevent_model::slot_count;
		p.ops.push_back(std::move(o));
	}
	return p;
}

std::string describe(const op &o) {
	static const char *const kinds[] = {"ctl",        "get_events", "write", "drain",
					    "close_peer", "close",      "reopen"};
	static const char *const cmds[] = {"ADD", "REMOVE", "MODIFY", "READY"};
	std::string s = kinds[static_cast<int>(o.kind)];
	switch (o.kind) {
	case op_kind::ctl:
		s += std::string(" ") + cmds[o.cmd];
		for (const ukevent &e : o.entries)
			s += " " + kevent_model::describe(e);
		break;
	case op_kind::get_events:
		s += " min=" + std::to_string(o.min_nr) + " max=" + std::to_string(o.max_nr) +
		     " timeout=" + std::to_string(static_cast<int>(o.timeout));
		break;
	default:
		s += " slot=" + std::to_string(o.slot);
		if (o.kind == op_kind::reopen)
			s += o.file == file_kind::socket ? " socket" : " pipe";
		break;
	}
	return s;
}

} // namespace kevent_diff
