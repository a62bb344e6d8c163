// SPDX-License-Identifier: MIT
// origin — the patches' per-type callback array, in the library's own terms.
//
// Each origin (SOCKET, POLL, PIPE, TIMER, ...) is one row of the table in
// origin_table.cpp, indexed by ukevent.type. A row has a hot part, the
// origin_ops the event path calls (is a request valid, what does it need —
// an fd watched for some POLL bits, or a deadline — and how does what the
// backend reports become its ret_data), and a cold part, origin_info, that
// only printing reads (kevent_ukevent_str, KEVENT_STATS_AT_CLOSE). An origin
// never sees epoll_event or io_uring_cqe, and speaks POLL* bits, never
// EPOLL* ones. An origin that is not built in is a row whose validate()
// answers ENOSYS — never a null slot: the table is checked at compile time
// (origin_table.cpp).
#pragma once

#include "core/knode.hpp"
#include "sys/file_identity.hpp"

#include <kevent/kevent.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <span>

namespace kevent::detail {

class timer_service;
struct fd_watch;
struct io_home;
struct kevent_key;
struct queue_stats;
struct watch_mode;

// An fd the library itself owns (an eventfd, inotify, a pidfd), watched for
// an origin through the backend. on_ready() runs under the queue lock.
struct fd_source {
	virtual ~fd_source() = default;
	virtual void on_ready(uint32_t revents) = 0;
	fd_watch *watch = nullptr; // set while watched
};

// An origin's state in one queue (the inotify instance ...), created by the
// origin on first use and destroyed with the queue, after its kevents.
struct origin_state {
	virtual ~origin_state() = default;
};

// An origin's data in one kevent (a pidfd ...), deleted with the kevent,
// after the origin's detach().
struct origin_ext {
	virtual ~origin_ext() = default;
};

// What the core offers to origins that are not fd-based. Called under the
// queue lock only.
class origin_services {
public:
	virtual timer_service &timers() = 0;
	// Watch src's fd for `events` (POLL* bits), edge-triggered. 0 or -errno.
	virtual int watch_source(fd_source &src, int fd, uint32_t events) = 0;
	// Start or change src's hidden watch of fd (watch_table::arm_source).
	virtual int arm_source(fd_source &src, int fd, const watch_mode &mode) = 0;
	virtual void unwatch_source(fd_source &src) = 0;
	// Has the queue a watch of the number for the user's kevents (one
	// reporting, or dormant)? Its backend item is the number's.
	virtual bool number_watched(int fd) = 0;
	// The kevent is ready (coalesced if it is already queued).
	virtual void make_ready(knode &n) = 0;
	// Deliver it once with BROKEN and err, then drop it.
	virtual void break_node(knode &n, int err) = 0;
	// The origin's own object in this queue (an origin_state: the inotify
	// instance ...), which the origin makes on first use.
	virtual std::unique_ptr<origin_state> &per_queue_state(uint32_t type) = 0;

	// For origins whose kevents the library makes without an ADD (the
	// asynchronous operations of kevent_aio_*(3)):
	// a registered kevent for uk (counted as added), its ext still null;
	virtual knode *add_node(const ukevent &uk) = 0;
	// drop a kevent at once (detach, then free);
	virtual void remove_node(knode &n) = 0;
	// the kevent of a key, or null;
	virtual knode *find_node(const kevent_key &key) = 0;
	// the backend, or null once the queue is closing (nothing more may
	// be asked of it);
	virtual backend *live_backend() = 0;
	virtual queue_stats &stats() = 0;
	// where io_pool jobs of this queue report (io_pool.hpp).
	virtual const std::shared_ptr<io_home> &pool_home() = 0;

protected:
	~origin_services() = default;
};

// An origin's reading of the bits the backend reported for its fd.
struct fd_report {
	uint32_t fired = 0;  // the origin's event bits that fired (ret_data[0])
	bool broken = false; // the object can no longer be served
	int32_t err = 0;     // errno for ret_data[1] when broken
};

// The hot part of a row: what the event path calls. Which hooks a row must
// have is checked at compile time (origin_table.cpp, complete_row); the
// ones marked optional are checked where they are called.
struct origin_ops {
	bool uses_fd; // the core watches fd id.raw[0] through the backend
	// attach() watches fd_sources whose readiness an ADD batch must look
	// at before it returns (a process that has exited already).
	bool watches_sources = false;
	// An asynchronous operation (kevent_aio_*): never made READY by hand.
	bool is_io = false;

	// Static checks of a request (event bits, id). 0 or an errno.
	int (*validate)(const ukevent &uk);

	// uses_fd, optional: is this file of the right kind? 0 or an errno.
	int (*check_kind)(int fd, const sys::inode_id &inode);
	// uses_fd: POLL* bits to watch for this request.
	uint32_t (*interest)(const ukevent &uk);
	// uses_fd: interpret reported POLL* bits for this request.
	fd_report (*translate)(const ukevent &uk, uint32_t revents, int fd);

	// !uses_fd: attach to the origin. `req` is the caller's entry (timers
	// read an absolute first expiry from it). Sets ready_now when the
	// kevent is ready at ADD. 0 or -errno.
	int (*attach)(origin_services &svc, knode &n, const ukevent &req, bool &ready_now);
	// !uses_fd: detach (cancel the deadline ...). Must not fail.
	void (*detach)(origin_services &svc, knode &n);

	// Optional: KEVENT_CTL_READY on this kevent: what to carry to the
	// delivery.
	void (*on_user_ready)(knode &n, const ukevent &req);

	// Optional: may KEVENT_CTL_MODIFY apply `req` (valid by itself) to n?
	// 0 or an errno for the entry; n is unchanged either way.
	int (*check_modify)(const knode &n, const ukevent &req);
	// Optional, !uses_fd: KEVENT_CTL_MODIFY changed n's event bits; follow
	// them. 0 or -errno (the kevent is then BROKEN).
	int (*modify)(origin_services &svc, knode &n);
	// Optional: KEVENT_CTL_REMOVE of n. 0: it goes; else the errno of the
	// entry, and n stays registered (an operation that ran is delivered
	// with its result).
	int (*withdraw)(origin_services &svc, knode &n);

	// Optional: the kevent is being delivered as `out` (inode: hand its
	// names over to kevent_inode_names).
	void (*on_deliver)(origin_services &svc, knode &n, ukevent &out);
};

// One named event bit (kevent_ukevent_str).
struct bit_name {
	uint32_t bit;
	const char *name;
};

// How kevent_ukevent_str prints a kevent's id (and, for the last two, its
// event bits, which have no names).
enum class id_format : uint8_t {
	fd,       // fd=3
	op,       // op=7: an asynchronous operation's id
	interval, // interval=1.500000000s
	signal,   // sig=10, sig=10 NOMASK
	pid,      // pid=1234
	user,     // id=5 events=0x1: any id, any bits
	raw,      // id=0x5 events=0x1: an origin that is not built in
};

// The cold part of a row: names, for printing only.
struct origin_info {
	const char *name; // lower case: "socket" (upper case in ukevent_str)
	id_format id;
	std::span<const bit_name> bits; // the event bits' names, in print order
	bool counts;                    // ret_data[0] is a count, printed in decimal
};

// The hot rows, indexed by type (origin_table.cpp).
extern const std::array<origin_ops, KEVENT_MAX> origin_table;

// The row for `type`; type must be < KEVENT_MAX.
inline const origin_ops &origin_for(uint32_t type) { return origin_table[type]; }
const origin_info &origin_info_for(uint32_t type);

// The usual event check: at least one bit, and only bits of `allowed`.
inline int validate_event_bits(const ukevent &uk, uint32_t allowed) {
	return (uk.event == 0 || (uk.event & ~allowed)) ? EINVAL : 0;
}

// kevent_inode_names(3): the names handed over by the last deliveries of
// the inode kevent `id`. Bytes written, or -errno.
int inode_names(origin_services &svc, uint64_t id, void *buf, unsigned size);

// Asynchronous operations (aio.cpp): start one for kevent_aio_*(3) — its
// id, or -errno — and take the completion that the backend (a token with
// io_token_bit) or an io_pool job reports for one.
int64_t start_operation(origin_services &svc, uint32_t type, uint32_t op_bits, const io_request &rq,
			uint64_t cookie);
void complete_operation(origin_services &svc, uint64_t token, int64_t result);
// An ADD is about to watch the number fd for the user's kevents: the
// socket operations' own watch of that number (epoll's readiness path)
// makes way, as epoll holds one item per (file, number).
void yield_socket_watch(origin_services &svc, int fd);

} // namespace kevent::detail
