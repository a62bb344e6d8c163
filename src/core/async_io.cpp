// async_io — the queue's side of kevent_aio_*(3). See async_io.hpp.
#include "core/async_io.hpp"

#include "core/queue.hpp"

#include <cerrno>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

namespace kevent::detail {

namespace {

bool is_socket_op(io_op op) {
	return op == io_op::recv || op == io_op::send || op == io_op::accept ||
	       op == io_op::connect;
}

io_ext &ext_of(knode &n) { return *static_cast<io_ext *>(n.ext); }

uint64_t token_of(const knode &n) {
	return io_token_bit | (n.uk.type == KEVENT_NAIO ? naio_token_bit : 0) | n.uk.id.raw_u64;
}

} // namespace

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
	int64_t r = try_socket_io(ext_of(n));
	if (r != -EAGAIN)
		q.complete_io(&n, r); // last: it unwatches this source
}

knode *queue::io_node(uint64_t token) const {
	uint32_t type = (token & naio_token_bit) ? KEVENT_NAIO : KEVENT_AIO;
	return reg_.find(kevent_key{token & io_id_mask, type});
}

void queue::io_finished(io_ext &x) {
	if (x.done)
		return;
	x.done = true;
	st_.inflight_io.add(-1);
	process_stats().inflight_io.fetch_sub(1, std::memory_order_relaxed);
}

int64_t queue::start_io(uint32_t type, uint32_t op_bits, const io_request &rq, uint64_t cookie) {
	std::lock_guard lk(mu_);
	if (closed_ || backend_off_)
		return -EBADF;
	ukevent uk{};
	uk.id.raw_u64 = ++io_seq_ & io_id_mask;
	uk.type = type;
	uk.event = op_bits;
	uk.req_flags = KEVENT_REQ_ONESHOT;
	uk.user[0] = static_cast<uint32_t>(cookie);
	uk.user[1] = static_cast<uint32_t>(cookie >> 32);
	knode *n = new_node(uk);
	auto *x = new io_ext;
	n->ext = x;
	x->rq = rq;
	reg_.insert(n);
	st_.inflight_io.add();
	process_stats().inflight_io.fetch_add(1, std::memory_order_relaxed);

	uint64_t token = token_of(*n);
	int r = be_->start_io(x->rq, token);
	if (r == -EOPNOTSUPP && is_socket_op(rq.op)) {
		x->via = io_ext::path::readiness;
		int64_t now = try_socket_io(*x);
		if (now != -EAGAIN) {
			complete_io(n, now);
			r = 0;
		} else {
			x->waiter = std::make_unique<io_waiter>(*this, *n);
			x->waiter->dup.reset(fcntl(rq.fd, F_DUPFD_CLOEXEC, 0));
			r = x->waiter->dup ? watch_source(*x->waiter, x->waiter->dup.get(),
							  socket_io_interest(rq.op))
					   : -errno;
		}
	} else if (r == -EOPNOTSUPP) {
		x->via = io_ext::path::pool;
		x->job = std::make_shared<io_job>();
		x->job->home = home_;
		x->job->token = token;
		x->job->rq = rq;
		r = io_pool::submit(x->job);
	}
	if (r < 0) {
		io_finished(*x);
		free_node(n);
		return r;
	}
	publish();
	return static_cast<int64_t>(uk.id.raw_u64);
}

void queue::complete_io(knode *n, int64_t result) {
	io_ext &x = ext_of(*n);
	if (x.done)
		return;
	io_finished(x);
	if (x.waiter) {
		unwatch_source(*x.waiter);
		x.waiter->dup.reset();
	}
	if (result < 0) {
		n->state |= broken;
		n->broken_errno = static_cast<int32_t>(-result);
	} else {
		n->uk.ret_data[0] = static_cast<uint32_t>(result);
	}
	make_ready(n);
}

void queue::complete_pooled(uint64_t token, int64_t result) {
	std::lock_guard lk(mu_);
	if (closed_)
		return;
	if (knode *n = io_node(token))
		complete_io(n, result);
	publish();
}

// The origin's detach: REMOVE, delivery (nothing left to do) or close.
void queue::cancel_io(knode &n) {
	io_ext &x = ext_of(n);
	if (x.done)
		return;
	switch (x.via) {
	case io_ext::path::native:
		// Closing: the backend's destructor cancels everything and waits
		// (in a fork child the requests are the parent's).
		if (!backend_off_)
			be_->cancel_io(token_of(n));
		break;
	case io_ext::path::readiness:
		unwatch_source(*x.waiter);
		x.waiter->dup.reset();
		break;
	case io_ext::path::pool:
		io_pool::cancel(x.job);
		break;
	}
	io_finished(x);
}

} // namespace kevent::detail
