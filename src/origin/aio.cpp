// SPDX-License-Identifier: MIT
// aio — the NAIO and AIO origins: an operation's life from kevent_aio_*(3)
// to its completion, REMOVE or close. See aio.hpp. LOCKING: see aio.hpp.
#include "origin/aio.hpp"

#include "core/registry.hpp"
#include "core/stats.hpp"

#include <cerrno>
#include <fcntl.h>
#include <new>
#include <poll.h>
#include <sys/socket.h>

namespace kevent::detail {

namespace {

// Per queue: the last operation id (NAIO and AIO share the sequence).
struct aio_state final : origin_state {
	uint64_t seq = 0;
};

bool is_socket_op(io_op op) {
	return op == io_op::recv || op == io_op::send || op == io_op::accept ||
	       op == io_op::connect;
}

// Hand x to the pool (again, for a sendfile that waited for room). 0 or
// -errno.
int submit_job(io_ext &x, const std::shared_ptr<io_home> &home, uint64_t token) {
	auto job = std::make_shared<io_job>();
	job->home = home;
	job->token = token;
	job->rq = x.rq;
	if (x.waiter && x.waiter->dup)
		job->rq.fd = x.waiter->dup.get(); // the socket waited on, whatever the number names
						  // now
	x.job = job;
	return io_pool::submit(job);
}

uint64_t token_of(const knode &n) {
	return io_token_bit | (n.uk.type == KEVENT_NAIO ? naio_token_bit : 0) | n.uk.id.raw_u64;
}

knode *node_of(origin_services &svc, uint64_t token) {
	uint32_t type = (token & naio_token_bit) ? KEVENT_NAIO : KEVENT_AIO;
	return svc.find_node(kevent_key{token & io_id_mask, type});
}

void io_finished(origin_services &svc, io_ext &x) {
	if (x.done)
		return;
	x.done = true;
	svc.stats().inflight_io.add(-1);
	process_stats().inflight_io.fetch_sub(1, std::memory_order_relaxed);
}

// A sendfile found the socket full and sent nothing: wait for room through
// the queue's readiness path, holding no pool thread (a slow peer must not
// stall every queue's file I/O).
void wait_writable(origin_services &svc, knode &n) {
	io_waiter *w = io_ext_of(n).waiter.get();
	int r = -EBADF; // no dup: the number was not open at the call
	if (w && w->dup) {
		try {
			r = svc.watch_source(*w, w->dup.get(), POLLOUT);
		} catch (const std::bad_alloc &) {
			r = -ENOMEM; // on a pool thread: nobody to throw to
		}
	}
	if (r < 0)
		complete_io(svc, n, r);
}

// Nothing of x runs or waits any more, and it will not be delivered.
void drop_io(origin_services &svc, io_ext &x) {
	if (x.waiter) {
		svc.unwatch_source(*x.waiter);
		x.waiter->dup.reset();
	}
	io_finished(svc, x);
}

} // namespace

int64_t start_operation(origin_services &svc, uint32_t type, uint32_t op_bits, const io_request &rq,
			uint64_t cookie) {
	backend *be = svc.live_backend();
	if (!be)
		return -EBADF;
	auto &st = svc.per_queue_state(KEVENT_AIO);
	if (!st)
		st = std::make_unique<aio_state>();
	ukevent uk{};
	uk.id.raw_u64 = ++static_cast<aio_state &>(*st).seq & io_id_mask;
	uk.type = type;
	uk.event = op_bits;
	uk.req_flags = KEVENT_REQ_ONESHOT;
	uk.user[0] = static_cast<uint32_t>(cookie);
	uk.user[1] = static_cast<uint32_t>(cookie >> 32);
	auto ext = std::make_unique<io_ext>();
	ext->rq = rq;
	knode *n = svc.add_node(uk);
	io_ext *x = ext.release();
	n->ext = x;
	svc.stats().inflight_io.add();
	process_stats().inflight_io.fetch_add(1, std::memory_order_relaxed);

	uint64_t token = token_of(*n);
	int r = be->start_io(x->rq, token);
	if (r == -EOPNOTSUPP && is_socket_op(rq.op)) {
		x->via = io_ext::path::readiness;
		int64_t now = try_socket_io(*x);
		if (now != -EAGAIN) {
			complete_io(svc, *n, now);
			r = 0;
		} else {
			x->waiter = std::make_unique<io_waiter>(svc, *n);
			x->waiter->dup.reset(fcntl(rq.fd, F_DUPFD_CLOEXEC, 0));
			r = x->waiter->dup ? svc.watch_source(*x->waiter, x->waiter->dup.get(),
							      socket_io_interest(rq.op))
					   : -errno;
		}
	} else if (r == -EOPNOTSUPP) {
		x->via = io_ext::path::pool;
		if (rq.op == io_op::sendfile) {
			// Waits for room in the socket by readiness between
			// copies: through a dup, as the readiness path does. A
			// number that is not open fails in the copy (EBADF).
			x->waiter = std::make_unique<io_waiter>(svc, *n);
			x->waiter->dup.reset(fcntl(rq.fd, F_DUPFD_CLOEXEC, 0));
			if (!x->waiter->dup && errno != EBADF)
				r = -errno; // EMFILE: the call fails, as on the readiness path
		}
		if (r == -EOPNOTSUPP)
			r = submit_job(*x, svc.pool_home(), token);
	}
	if (r < 0) {
		io_finished(svc, *x);
		svc.remove_node(*n);
		return r;
	}
	return static_cast<int64_t>(uk.id.raw_u64);
}

void complete_io(origin_services &svc, knode &n, int64_t result) {
	io_ext &x = io_ext_of(n);
	if (x.done)
		return;
	io_finished(svc, x);
	if (x.waiter) {
		svc.unwatch_source(*x.waiter);
		x.waiter->dup.reset();
	}
	if (result < 0) {
		svc.break_node(n, static_cast<int32_t>(-result));
	} else {
		n.uk.ret_data[0] = static_cast<uint32_t>(result);
		svc.make_ready(n);
	}
}

void complete_operation(origin_services &svc, uint64_t token, int64_t result) {
	knode *n = node_of(svc, token);
	if (!n)
		return; // cancelled since
	if (result == io_pool::retry_when_writable)
		wait_writable(svc, *n);
	else
		complete_io(svc, *n, result);
}

void resume_pooled(origin_services &svc, knode &n) {
	io_ext &x = io_ext_of(n);
	svc.unwatch_source(*x.waiter);
	int r;
	try {
		r = submit_job(x, svc.pool_home(), token_of(n));
	} catch (const std::bad_alloc &) {
		r = -ENOMEM;
	}
	if (r < 0)
		complete_io(svc, n, r);
}

namespace aio_origin {

// Made by kevent_aio_*(3) only: ADD and MODIFY refuse them.
int validate(const ukevent &) { return EINVAL; }
int attach(origin_services &, knode &, const ukevent &, bool &) {
	return -EINVAL; // never reached: validate refused the ADD
}

// REMOVE. 0: cancelled before it touched the file or socket (the caller
// frees n). EALREADY: it ran — or runs and cannot be stopped — and stays
// registered, to be delivered with its result (kevent_aio_read(3)).
int withdraw(origin_services &svc, knode &n) {
	io_ext &x = io_ext_of(n);
	if (x.done)
		return EALREADY; // on the ready list with its result
	switch (x.via) {
	case io_ext::path::native: {
		backend *be = svc.live_backend();
		if (!be)
			break;
		int32_t res = 0;
		switch (be->cancel_io(token_of(n), res)) {
		case io_cancel::cancelled:
			break;
		case io_cancel::completed:
			complete_io(svc, n, res);
			return EALREADY;
		case io_cancel::reported:
			return EALREADY; // a poller holds it and dispatches it next
		}
		break;
	}
	case io_ext::path::readiness:
		// Every attempt so far would have blocked and moved nothing
		// (a connect under way goes on in the kernel, as after EINTR).
		break;
	case io_ext::path::pool:
		if (!x.job->taken) {
			int64_t r = 0;
			bool ran = io_pool::cancel(x.job, r);
			x.job->taken = true;
			if (ran && r != io_pool::retry_when_writable) {
				complete_io(svc, n, r);
				return EALREADY;
			}
		}
		// Else: never ran, or a sendfile that sent nothing and
		// waits for room.
		break;
	}
	drop_io(svc, x);
	return 0;
}

// Delivery (nothing left to do) or close, which cancels whatever is in
// flight and drops its result.
void detach(origin_services &svc, knode &n) {
	io_ext &x = io_ext_of(n);
	if (x.done)
		return;
	switch (x.via) {
	case io_ext::path::native:
		// Closing: the backend's destructor cancels everything and waits
		// (in a fork child the requests are the parent's).
		if (backend *be = svc.live_backend()) {
			int32_t ignored;
			be->cancel_io(token_of(n), ignored);
		}
		break;
	case io_ext::path::readiness:
		break;
	case io_ext::path::pool:
		if (!x.job->taken) {
			int64_t ignored;
			io_pool::cancel(x.job, ignored); // a running job: its buffers
			x.job->taken = true;
		}
		break;
	}
	drop_io(svc, x);
}

} // namespace aio_origin

// ---- the readiness path of NAIO: a socket operation on a backend that
// cannot run it (epoll), tried without blocking each time a private dup of
// the socket is reported ready.

uint32_t socket_io_interest(io_op op) {
	return op == io_op::send || op == io_op::connect ? POLLOUT : POLLIN;
}

int64_t try_socket_io(io_ext &x) {
	io_request &rq = x.rq;
	ssize_t n;
	switch (rq.op) {
	case io_op::recv:
		n = ::recv(rq.fd, rq.buf, rq.len, rq.flags | MSG_DONTWAIT);
		break;
	case io_op::send:
		n = ::send(rq.fd, rq.buf, rq.len, rq.flags | MSG_DONTWAIT);
		break;
	case io_op::accept: {
		// accept4 has no MSG_DONTWAIT: on a blocking listener, look first.
		pollfd p{rq.fd, POLLIN, 0};
		if (::poll(&p, 1, 0) == 0)
			return -EAGAIN;
		n = ::accept4(rq.fd, nullptr, nullptr, rq.flags);
		break;
	}
	case io_op::connect:
		if (!x.connecting) {
			x.connecting = true;
			if (::connect(rq.fd, reinterpret_cast<const sockaddr *>(&rq.addr),
				      rq.addrlen) == 0)
				return 0;
			return errno == EINPROGRESS || errno == EALREADY ? -EAGAIN : -errno;
		} else {
			int err = 0;
			socklen_t len = sizeof err;
			if (::getsockopt(rq.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
				return -errno;
			return -err;
		}
	default:
		return -EINVAL;
	}
	if (n >= 0)
		return n;
	return errno == EWOULDBLOCK ? -EAGAIN : -errno;
}

void io_waiter::on_ready(uint32_t) {
	io_ext &x = io_ext_of(n);
	if (x.rq.op == io_op::sendfile) {
		resume_pooled(svc, n); // room in the socket: copy again (unwatches)
		return;
	}
	int64_t r = try_socket_io(x);
	if (r != -EAGAIN)
		complete_io(svc, n, r); // last: it unwatches this source
}

} // namespace kevent::detail
