// SPDX-License-Identifier: MIT
// origin — the patches' per-type callback array, in the library's own terms.
//
// Each origin (SOCKET, POLL, PIPE, TIMER, ...) is one read-only origin_ops
// entry in origin_table.cpp, indexed by ukevent.type. An origin says whether
// a request is valid, what it needs (an fd watched for some POLL bits, or a
// deadline), and how to turn what the backend reports into its ret_data. It
// never sees epoll_event or io_uring_cqe. An origin that is not built in is an
// entry whose validate() answers ENOSYS — never a null slot.
#pragma once

#include "core/knode.hpp"
#include "sys/file_identity.hpp"

#include <kevent/kevent.h>

#include <cerrno>
#include <cstdint>
#include <memory>

namespace kevent::detail {

class timer_service;
struct fd_watch;

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
	virtual void unwatch_source(fd_source &src) = 0;
	// The kevent is ready (coalesced if it is already queued).
	virtual void make_ready(knode &n) = 0;
	// Deliver it once with BROKEN and err, then drop it.
	virtual void break_node(knode &n, int err) = 0;
	virtual std::unique_ptr<origin_state> &state(uint32_t type) = 0;
	// Cancel n's asynchronous operation, if it still runs; returns once
	// nothing touches its buffers.
	virtual void cancel_io(knode &n) = 0;

protected:
	~origin_services() = default;
};

// An origin's reading of the bits the backend reported for its fd.
struct fd_report {
	uint32_t fired = 0;  // the origin's event bits that fired (ret_data[0])
	bool broken = false; // the object can no longer be served
	int32_t err = 0;     // errno for ret_data[1] when broken
};

struct origin_ops {
	const char *name;
	bool uses_fd; // the core watches fd id.raw[0] through the backend
	// attach() watches fd_sources whose readiness an ADD batch must look
	// at before it returns (a process that has exited already).
	bool watches_sources;
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

	// KEVENT_CTL_READY on this kevent: what to carry to the delivery.
	void (*on_user_ready)(knode &n, const ukevent &req);

	// Optional, !uses_fd: KEVENT_CTL_MODIFY changed n's event bits; follow
	// them. 0 or -errno (the kevent is then BROKEN).
	int (*modify)(origin_services &svc, knode &n);

	// Optional: the kevent is being delivered as `out` (inode: hand its
	// names over to kevent_inode_names).
	void (*on_deliver)(origin_services &svc, knode &n, ukevent &out);
};

// The entry for `type`; type must be < KEVENT_MAX.
const origin_ops &origin_for(uint32_t type);

// The usual event check: at least one bit, and only bits of `allowed`.
inline int validate_event_bits(const ukevent &uk, uint32_t allowed) {
	return (uk.event == 0 || (uk.event & ~allowed)) ? EINVAL : 0;
}

// Shared by the origins that are not built in: ADD answers ENOSYS.
int validate_not_built_in(const ukevent &uk);

extern const origin_ops socket_origin, poll_origin, pipe_origin, timer_origin, unotify_origin,
	signal_origin, inode_origin, proc_origin, naio_origin, aio_origin;

// kevent_inode_names(3): the names handed over by the last deliveries of
// the inode kevent `key`. Bytes written, or -errno.
int inode_names(origin_services &svc, uint64_t id, void *buf, unsigned size);

} // namespace kevent::detail
