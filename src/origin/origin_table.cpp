// SPDX-License-Identifier: MIT
// The map of the library: one row per ukevent.type.
//
// A row is the origin's hooks (origin_ops, the hot part the event path
// calls, defined in src/origin/<origin>.cpp) and its names (origin_info, the
// cold part kevent_ukevent_str and KEVENT_STATS_AT_CLOSE print). The rows
// are set by index in rows() below — C++20 has no `[KEVENT_SOCKET] = {...}`
// array designators, so a consteval function assigns them, which also
// proves at compile time that every type has exactly one row and that each
// row has the hooks the core calls without looking (complete_row). The hot
// and the cold parts are then laid out as two arrays, so that the event path
// shares its cache lines with no names.
//
// Adding an origin: docs/design.md, "Adding an origin".
#include "origin/origin.hpp"

#include <array>
#include <cerrno>
#include <poll.h>

namespace kevent::detail {

// Each origin's hooks, defined in its own file. The core calls them only
// through the rows below.
namespace socket_origin {
int validate(const ukevent &uk);
int check_kind(int fd, const sys::inode_id &inode);
uint32_t interest(const ukevent &uk);
fd_report translate(const ukevent &uk, uint32_t revents, int fd);
} // namespace socket_origin
namespace pipe_origin {
int validate(const ukevent &uk);
int check_kind(int fd, const sys::inode_id &inode);
uint32_t interest(const ukevent &uk);
fd_report translate(const ukevent &uk, uint32_t revents, int fd);
} // namespace pipe_origin
namespace poll_origin {
int validate(const ukevent &uk);
uint32_t interest(const ukevent &uk);
fd_report translate(const ukevent &uk, uint32_t revents, int fd);
} // namespace poll_origin
namespace timer_origin {
int validate(const ukevent &uk);
int attach(origin_services &svc, knode &n, const ukevent &req, bool &ready_now);
void detach(origin_services &svc, knode &n);
void on_user_ready(knode &n, const ukevent &req);
int check_modify(const knode &n, const ukevent &req);
void on_deliver(origin_services &svc, knode &n, ukevent &out);
} // namespace timer_origin
namespace unotify_origin {
int validate(const ukevent &uk);
int attach(origin_services &svc, knode &n, const ukevent &req, bool &ready_now);
void detach(origin_services &svc, knode &n);
void on_user_ready(knode &n, const ukevent &req);
} // namespace unotify_origin
namespace signal_origin {
int validate(const ukevent &uk);
int attach(origin_services &svc, knode &n, const ukevent &req, bool &ready_now);
void detach(origin_services &svc, knode &n);
} // namespace signal_origin
namespace inode_origin {
int validate(const ukevent &uk);
int attach(origin_services &svc, knode &n, const ukevent &req, bool &ready_now);
void detach(origin_services &svc, knode &n);
int modify(origin_services &svc, knode &n);
void on_deliver(origin_services &svc, knode &n, ukevent &out);
} // namespace inode_origin
namespace proc_origin {
int validate(const ukevent &uk);
int attach(origin_services &svc, knode &n, const ukevent &req, bool &ready_now);
void detach(origin_services &svc, knode &n);
} // namespace proc_origin
namespace aio_origin { // NAIO and AIO
int validate(const ukevent &uk);
int attach(origin_services &svc, knode &n, const ukevent &req, bool &ready_now);
void detach(origin_services &svc, knode &n);
int withdraw(origin_services &svc, knode &n);
} // namespace aio_origin

namespace {

// An origin that is not built in (POSIX_TIMER, reserved): ADD answers
// ENOSYS, so nothing is ever attached or detached.
int validate_not_built_in(const ukevent &) { return ENOSYS; }
int attach_not_built_in(origin_services &, knode &, const ukevent &, bool &) { return -ENOSYS; }
void detach_not_built_in(origin_services &, knode &) {}

// ---- the names of the event bits (kevent.h) ---------------------------------

constexpr bit_name socket_bits[] = {
	{KEVENT_SOCKET_RECV, "RECV"},
	{KEVENT_SOCKET_ACCEPT, "ACCEPT"},
	{KEVENT_SOCKET_SEND, "SEND"},
};
// An asynchronous operation's kind (kevent_aio_*(3)): NAIO's are the SOCKET
// bits and two of libkevent's own.
constexpr bit_name naio_bits[] = {
	{KEVENT_NAIO_RECV, "RECV"},         {KEVENT_NAIO_ACCEPT, "ACCEPT"},
	{KEVENT_NAIO_SEND, "SEND"},         {KEVENT_NAIO_CONNECT, "CONNECT"},
	{KEVENT_NAIO_SENDFILE, "SENDFILE"},
};
constexpr bit_name aio_bits[] = {
	{KEVENT_AIO_READ, "READ"},
	{KEVENT_AIO_WRITE, "WRITE"},
	{KEVENT_AIO_FSYNC, "FSYNC"},
};
constexpr bit_name pipe_bits[] = {
	{KEVENT_PIPE_RECV, "RECV"},
	{KEVENT_PIPE_SEND, "SEND"},
};
constexpr bit_name timer_bits[] = {
	{KEVENT_TIMER_FIRED, "FIRED"},       {KEVENT_TIMER_REALTIME, "REALTIME"},
	{KEVENT_TIMER_BOOTTIME, "BOOTTIME"}, {KEVENT_TIMER_ABSTIME, "ABSTIME"},
	{KEVENT_TIMER_NAMED, "NAMED"},
};
constexpr bit_name inode_bits[] = {
	{KEVENT_INODE_CREATE, "CREATE"},           {KEVENT_INODE_REMOVE, "REMOVE"},
	{KEVENT_INODE_MODIFY, "MODIFY"},           {KEVENT_INODE_ATTRIB, "ATTRIB"},
	{KEVENT_INODE_MOVED_FROM, "MOVED_FROM"},   {KEVENT_INODE_MOVED_TO, "MOVED_TO"},
	{KEVENT_INODE_CLOSE_WRITE, "CLOSE_WRITE"}, {KEVENT_INODE_OVERFLOW, "OVERFLOW"},
	{KEVENT_INODE_MOVE_SELF, "MOVE_SELF"},
};
constexpr bit_name signal_bits[] = {{KEVENT_SIGNAL_DELIVERY, "DELIVERY"}};
constexpr bit_name proc_bits[] = {
	{KEVENT_PROC_EXIT, "EXIT"},
	{KEVENT_PROC_REAP, "REAP"},
};
// The kernel's values, as KEVENT_POLL uses them (distinct bits on Linux).
constexpr bit_name poll_bits[] = {
	{POLLIN, "POLLIN"},         {POLLPRI, "POLLPRI"},       {POLLOUT, "POLLOUT"},
	{POLLERR, "POLLERR"},       {POLLHUP, "POLLHUP"},       {POLLNVAL, "POLLNVAL"},
	{POLLRDNORM, "POLLRDNORM"}, {POLLRDBAND, "POLLRDBAND"}, {POLLWRNORM, "POLLWRNORM"},
	{POLLWRBAND, "POLLWRBAND"}, {POLLMSG, "POLLMSG"},       {POLLRDHUP, "POLLRDHUP"},
};

// ---- the rows ------------------------------------------------------------------

struct origin_row {
	origin_ops ops;
	origin_info info;
};

using row_table = std::array<origin_row, KEVENT_MAX>;

consteval row_table rows() {
	row_table t{};
	t[KEVENT_SOCKET] = {
		{.uses_fd = true,
		 .validate = socket_origin::validate,
		 .check_kind = socket_origin::check_kind,
		 .interest = socket_origin::interest,
		 .translate = socket_origin::translate},
		{"socket", id_format::fd, socket_bits, false},
	};
	t[KEVENT_INODE] = {
		{.uses_fd = false,
		 .validate = inode_origin::validate,
		 .attach = inode_origin::attach,
		 .detach = inode_origin::detach,
		 .modify = inode_origin::modify,
		 .on_deliver = inode_origin::on_deliver},
		{"inode", id_format::fd, inode_bits, false},
	};
	t[KEVENT_TIMER] = {
		{.uses_fd = false,
		 .validate = timer_origin::validate,
		 .attach = timer_origin::attach,
		 .detach = timer_origin::detach,
		 .on_user_ready = timer_origin::on_user_ready,
		 .check_modify = timer_origin::check_modify,
		 .on_deliver = timer_origin::on_deliver},
		{"timer", id_format::interval, timer_bits, true},
	};
	t[KEVENT_POLL] = {
		// No kind check: whether epoll can watch the file is learnt
		// when it is watched (EPERM -> EINVAL), which saves an fstat
		// per ADD.
		{.uses_fd = true,
		 .validate = poll_origin::validate,
		 .interest = poll_origin::interest,
		 .translate = poll_origin::translate},
		{"poll", id_format::fd, poll_bits, false},
	};
	// NAIO (sockets) and AIO (files) differ only in name and bits.
	const origin_ops aio_ops{.uses_fd = false,
				 .is_io = true,
				 .validate = aio_origin::validate,
				 .attach = aio_origin::attach,
				 .detach = aio_origin::detach,
				 .withdraw = aio_origin::withdraw};
	t[KEVENT_NAIO] = {aio_ops, {"naio", id_format::op, naio_bits, true}};
	t[KEVENT_AIO] = {aio_ops, {"aio", id_format::op, aio_bits, true}};
	t[KEVENT_PIPE] = {
		{.uses_fd = true,
		 .validate = pipe_origin::validate,
		 .check_kind = pipe_origin::check_kind,
		 .interest = pipe_origin::interest,
		 .translate = pipe_origin::translate},
		{"pipe", id_format::fd, pipe_bits, false},
	};
	t[KEVENT_SIGNAL] = {
		{.uses_fd = false,
		 .validate = signal_origin::validate,
		 .attach = signal_origin::attach,
		 .detach = signal_origin::detach},
		{"signal", id_format::signal, signal_bits, true},
	};
	t[KEVENT_POSIX_TIMER] = {
		{.uses_fd = false,
		 .validate = validate_not_built_in,
		 .attach = attach_not_built_in,
		 .detach = detach_not_built_in},
		{"posix_timer", id_format::raw, {}, false},
	};
	t[KEVENT_UNOTIFY] = {
		{.uses_fd = false,
		 .validate = unotify_origin::validate,
		 .attach = unotify_origin::attach,
		 .detach = unotify_origin::detach,
		 .on_user_ready = unotify_origin::on_user_ready},
		{"unotify", id_format::user, {}, false},
	};
	t[KEVENT_PROC] = {
		{.uses_fd = false,
		 .watches_sources = true,
		 .validate = proc_origin::validate,
		 .attach = proc_origin::attach,
		 .detach = proc_origin::detach},
		{"proc", id_format::pid, proc_bits, false},
	};
	return t;
}

// Does the core find every hook it calls without looking? An fd row is
// watched (interest) and read (translate) by the core itself; any other row
// attaches and detaches itself. A hook of the other kind would never be
// called, which means the row is wrong. The optional hooks (check_kind,
// on_user_ready, check_modify, modify, withdraw, on_deliver) are tested
// where they are called.
consteval bool complete_row(const origin_row &r) {
	const origin_ops &o = r.ops;
	if (!o.validate || !r.info.name)
		return false; // a type without a row
	bool has_names = !r.info.bits.empty();
	bool prints_bits = r.info.id != id_format::user && r.info.id != id_format::raw;
	if (has_names != prints_bits)
		return false;
	if (o.uses_fd)
		return o.interest && o.translate && !o.attach && !o.detach && !o.modify &&
		       !o.watches_sources;
	return o.attach && o.detach && !o.interest && !o.translate && !o.check_kind;
}

consteval bool every_row_complete() {
	for (const origin_row &r : rows())
		if (!complete_row(r))
			return false;
	return true;
}

static_assert(std::tuple_size_v<row_table> == KEVENT_MAX, "one row per ukevent.type");
// GCC's UBSan (-fsanitize=null, the asan preset) keeps null-pointer checks,
// and with them a function's address compared with null is not a constant
// expression; every other build (default, release, tsan, fuzz) checks.
#ifndef KEVENT_SANITIZE_NULL
static_assert(every_row_complete(), "a row lacks a hook the core calls (complete_row)");
#endif

consteval std::array<origin_ops, KEVENT_MAX> hot_parts() {
	std::array<origin_ops, KEVENT_MAX> h{};
	for (int t = 0; t < KEVENT_MAX; t++)
		h[t] = rows()[t].ops;
	return h;
}

consteval std::array<origin_info, KEVENT_MAX> cold_parts() {
	std::array<origin_info, KEVENT_MAX> c{};
	for (int t = 0; t < KEVENT_MAX; t++)
		c[t] = rows()[t].info;
	return c;
}

constexpr std::array<origin_info, KEVENT_MAX> info_table = cold_parts();

} // namespace

// Declared extern in origin.hpp: one copy, constant-initialised.
constexpr std::array<origin_ops, KEVENT_MAX> origin_table = hot_parts();

const origin_info &origin_info_for(uint32_t type) { return info_table[type]; }

} // namespace kevent::detail
