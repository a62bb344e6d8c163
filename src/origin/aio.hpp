// SPDX-License-Identifier: MIT
// aio — the NAIO (sockets) and AIO (files) origins: the asynchronous
// operations of kevent_aio_*(3).
//
// Each operation is a ONESHOT kevent of type AIO (files) or NAIO (sockets)
// that the origin makes itself (never ADDed), keyed by an id it assigns, so
// that REMOVE cancels it and delivery frees it like any other kevent. It
// runs by one of three paths:
// - native: the backend runs it (io_uring) and reports the completion by
//   token (io_token_bit | naio_token_bit? | id; backend/backend.hpp has the
//   layout), which the core hands to
//   complete_operation();
// - readiness: a socket operation on a backend without a native path
//   (epoll): send and connect are tried at once without blocking; an
//   operation that waits (recv and accept always: the wait's own look
//   finds data already there) is tried each time the socket is reported
//   ready. The report comes from one watch per (queue, socket number),
//   naio_socket, kept between operations and re-armed by one change per
//   wait — which also tells whether the number still names the file — so
//   an operation costs no dup, ADD, DEL or close. Where the queue watches
//   the number for the user's kevents (epoll has one item per (file,
//   number)), the operation waits on a private dup of the socket instead
//   (io_waiter), as before (docs/semantics.md, "Asynchronous I/O");
// - pool: a file operation on a thread of io_pool; sendfile too, but it
//   waits for room in the socket by readiness (the dup's watch) between
//   copies, never on a pool thread. The job's result reaches the queue
//   through io_home and complete_operation().
//
// REMOVE (the withdraw hook) either cancels an operation that has not
// touched the file or socket, or — when it lost the race: completed, on the
// ready list, or running where it cannot be stopped — leaves it registered
// to be delivered with its result, and the entry fails with EALREADY, as
// io_uring's ASYNC_CANCEL and aio_cancel(3)'s AIO_NOTCANCELED do.
//
// LOCKING: everything here runs under the queue lock; a pool job's result
// comes through queue::complete_pooled, whose caller (an io_pool worker)
// also holds io_home::mu.
#pragma once

#include "backend/backend.hpp"
#include "core/io_pool.hpp"
#include "origin/origin.hpp"
#include "sys/unique_fd.hpp"

#include <memory>
#include <vector>

namespace kevent::detail {

// Set in the token of a NAIO operation (the type is part of the key).
constexpr uint64_t naio_token_bit = 1ull << 61;
constexpr uint64_t io_id_mask = naio_token_bit - 1;

// The readiness path's watch where the queue watches the number for the
// caller's kevents (a second item of the caller's own number would clash
// with theirs), and sendfile's wait for room: an fd_source for a private
// dup of the socket, which keeps the file alive while the operation waits.
struct io_waiter final : fd_source {
	io_waiter(origin_services &s, knode &node) : svc(s), n(node) {}
	void on_ready(uint32_t revents) override;
	origin_services &svc;
	knode &n;
	sys::unique_fd dup;
};

// The readiness path's watch of one socket number in one queue, shared by
// the operations that wait on it (FIFO) and kept while the queue lives: a
// one-shot epoll item on the caller's own number, re-armed for each wait.
// No dup: the caller's close(2) closes the socket (and the kernel drops
// the item with the file); the next wait's re-arm then fails and the watch
// is made anew for whatever the number names.
struct naio_socket final : fd_source {
	naio_socket(origin_services &s, int number) : svc(s), fd(number) {}
	~naio_socket() override { svc.unwatch_source(*this); }
	void on_ready(uint32_t revents) override;
	origin_services &svc;
	int fd;
	std::vector<knode *> waiting;
};

struct io_ext final : origin_ext {
	enum class path : uint8_t { native, readiness, pool } via = path::native;
	bool done = false; // completed: nothing to cancel
	bool connecting = false;
	io_request rq;
	std::unique_ptr<io_waiter> waiter; // a dup's watch
	naio_socket *sock = nullptr;       // or: waits on the number's watch
	std::shared_ptr<io_job> job;
};

inline io_ext &io_ext_of(knode &n) { return *static_cast<io_ext *>(n.ext); }

// One non-blocking attempt (the readiness path): bytes, fd, 0, or -errno;
// -EAGAIN to wait for readiness again. Not for sendfile (the pool copies).
int64_t try_socket_io(io_ext &x);

// POLL* bits the readiness path waits for.
uint32_t socket_io_interest(io_op op);

// The operation of n ended with `result` (bytes, an fd, or -errno): it is
// delivered with it.
void complete_io(origin_services &svc, knode &n, int64_t result);

// A sendfile that waited for room in its socket: hand it to the pool again.
void resume_pooled(origin_services &svc, knode &n);

} // namespace kevent::detail
