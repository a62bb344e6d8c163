// SPDX-License-Identifier: MIT
// aio — the NAIO and AIO origins: an operation's life from kevent_aio_*(3)
// to its completion, REMOVE or close. See aio.hpp. LOCKING: see aio.hpp.
#include "origin/aio.hpp"

#include "core/registry.hpp"
#include "core/stats.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <new>
#include <poll.h>
#include <sys/socket.h>
#include <unordered_map>

namespace kevent::detail {

namespace {

// Per queue: the last operation id (NAIO and AIO share the sequence), and
// the readiness path's watches of socket numbers (destroyed after the
// queue's kevents, so none waits on them then).
struct aio_state final : origin_state {
	uint64_t seq = 0;
	std::unordered_map<int, std::unique_ptr<naio_socket>> sockets;
};

aio_state &state_of(origin_services &svc) {
	auto &st = svc.per_queue_state(KEVENT_AIO);
	if (!st)
		st = std::make_unique<aio_state>();
	return static_cast<aio_state &>(*st);
}

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

// n no longer waits on its number's watch (the watch stays, for the next).
void leave_socket(io_ext &x, knode &n) {
	if (!x.sock)
		return;
	auto &w = x.sock->waiting;
	w.erase(std::find(w.begin(), w.end(), &n));
	x.sock = nullptr;
}

// x no longer waits for readiness, on a dup or on its number.
void stop_waiting(origin_services &svc, io_ext &x, knode &n) {
	if (x.waiter) {
		svc.unwatch_source(*x.waiter);
		x.waiter->dup.reset();
	}
	leave_socket(x, n);
}

// Nothing of x runs or waits any more, and it will not be delivered.
void drop_io(origin_services &svc, io_ext &x, knode &n) {
	stop_waiting(svc, x, n);
	io_finished(svc, x);
}

// Wait on a private dup of the socket: the queue watches the number for
// the user's kevents already, and epoll holds one item per (file, number).
int wait_on_dup(origin_services &svc, knode &n, io_ext &x) {
	x.waiter = std::make_unique<io_waiter>(svc, n);
	x.waiter->dup.reset(fcntl(x.rq.fd, F_DUPFD_CLOEXEC, 0));
	return x.waiter->dup ? svc.watch_source(*x.waiter, x.waiter->dup.get(),
						socket_io_interest(x.rq.op))
			     : -errno;
}

// One report at most for what s's operations wait for, then silent until
// the next wait re-arms it.
watch_mode waiting_mode(const naio_socket &s) {
	watch_mode m;
	for (knode *n : s.waiting)
		m.events |= socket_io_interest(io_ext_of(*n).rq.op);
	m.oneshot = true;
	return m;
}

// Arm s's watch for what waits on it: one EPOLL_CTL_MOD (or the first
// EPOLL_CTL_ADD), which fails with ENOENT or EBADF if the number no longer
// names the watched file. 0 or -errno.
int arm(naio_socket &s) { return s.svc.arm_source(s, s.fd, waiting_mode(s)); }

// s's operations end with err.
void fail_waiting(origin_services &svc, naio_socket &s, int err) {
	while (!s.waiting.empty())
		complete_io(svc, *s.waiting.front(), err);
}

// The number of s was closed (and maybe reused) since its last wait: the
// operations waiting on the old file end with EBADF, as for a number that
// is not open, and the watch is made anew by the next wait.
void forget_file(origin_services &svc, naio_socket &s) {
	fail_waiting(svc, s, -EBADF);
	svc.unwatch_source(s); // the kernel dropped the item, or keeps it for
			       // a file that lives on elsewhere: its reports carry
			       // an old token
}

bool file_gone(int r) { return r == -ENOENT || r == -EBADF; }

// The readiness path. Send and connect are tried at once (they rarely
// wait). A recv or accept on a number whose watch exists goes straight to
// the wait: the re-arm makes the kernel look at the socket, so data there
// already is found by the next wait, and an operation that must wait costs
// one system call, not a failed attempt and a re-arm. A number without a
// watch yet is tried first: its own error (ENOTSOCK, EBADF) is the answer
// for a file that is no socket. 0 (done or waiting) or -errno.
int start_socket_io(origin_services &svc, knode &n, io_ext &x) {
	int fd = x.rq.fd;
	if (fd < 0 || svc.number_watched(fd)) {
		int64_t now = try_socket_io(x);
		if (now != -EAGAIN) {
			complete_io(svc, n, now);
			return 0;
		}
		return wait_on_dup(svc, n, x);
	}
	auto &slot = state_of(svc).sockets[fd];
	if (!slot)
		slot = std::make_unique<naio_socket>(svc, fd);
	naio_socket &s = *slot;
	s.waiting.reserve(s.waiting.size() + 1); // nothing throws once n is in
	bool wait_first = (x.rq.op == io_op::recv && x.rq.len > 0) || x.rq.op == io_op::accept;
	if (wait_first && s.watch) {
		s.waiting.push_back(&n);
		x.sock = &s;
		int r = arm(s);
		if (r == 0)
			return 0;
		leave_socket(x, n);
		if (!file_gone(r))
			return r;
		forget_file(svc, s); // then as for a new number
	}
	int64_t now = try_socket_io(x);
	if (now != -EAGAIN) {
		complete_io(svc, n, now);
		return 0;
	}
	s.waiting.push_back(&n);
	x.sock = &s;
	int r = arm(s);
	if (file_gone(r) && s.watch) {
		leave_socket(x, n);
		forget_file(svc, s);
		s.waiting.push_back(&n);
		x.sock = &s;
		r = arm(s);
	}
	if (r < 0)
		leave_socket(x, n);
	return r;
}

} // namespace

int64_t start_operation(origin_services &svc, uint32_t type, uint32_t op_bits, const io_request &rq,
			uint64_t cookie) {
	backend *be = svc.live_backend();
	if (!be)
		return -EBADF;
	ukevent uk{};
	uk.id.raw_u64 = ++state_of(svc).seq & io_id_mask;
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
		r = start_socket_io(svc, *n, *x);
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
	stop_waiting(svc, x, n);
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
	drop_io(svc, x, n);
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
	drop_io(svc, x, n);
}

} // namespace aio_origin

// ---- the readiness path of NAIO: a socket operation on a backend that
// cannot run it (epoll), tried without blocking each time its number's
// watch (naio_socket) or its private dup (io_waiter) is reported ready.

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

void naio_socket::on_ready(uint32_t revents) {
	// FIFO: the first operation waiting takes the data. One that would
	// still block keeps its place; those done leave the list.
	for (size_t i = 0; i < waiting.size();) {
		knode &n = *waiting[i];
		io_ext &x = io_ext_of(n);
		int64_t r = -EAGAIN;
		if (revents & (socket_io_interest(x.rq.op) | POLLERR | POLLHUP))
			r = try_socket_io(x);
		if (r == -EAGAIN)
			i++;
		else
			complete_io(svc, n, r); // takes it off the list
	}
	// The report ended the one-shot watch.
	if (waiting.empty())
		return;
	int r = arm(*this);
	if (file_gone(r))
		forget_file(svc, *this);
	else if (r < 0)
		fail_waiting(svc, *this, r);
}

void yield_socket_watch(origin_services &svc, int fd) {
	auto &st = svc.per_queue_state(KEVENT_AIO);
	if (!st)
		return;
	auto &sockets = static_cast<aio_state &>(*st).sockets;
	auto it = sockets.find(fd);
	if (it == sockets.end())
		return;
	std::unique_ptr<naio_socket> s = std::move(it->second);
	sockets.erase(it);
	// The number may name another file now (closed and reused while the
	// operations waited): they end with EBADF, as at their next wait
	// (forget_file), and do not move to a dup of the new file. The re-arm
	// tells (one EPOLL_CTL_MOD, only when operations wait;
	// tests/regress/naio_recv_after_close_reads_reused_number_test).
	if (!s->waiting.empty() && file_gone(arm(*s)))
		fail_waiting(svc, *s, -EBADF);
	svc.unwatch_source(*s); // the ADD takes the number's item
	for (knode *n : s->waiting) {
		io_ext &x = io_ext_of(*n);
		x.sock = nullptr;
		int r;
		try {
			r = wait_on_dup(svc, *n, x);
		} catch (const std::bad_alloc &) {
			r = -ENOMEM;
		}
		if (r < 0)
			complete_io(svc, *n, r);
	}
	s->waiting.clear();
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
