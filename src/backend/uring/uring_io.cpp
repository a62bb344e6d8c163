// SPDX-License-Identifier: MIT
// io_uring backend: asynchronous I/O requests (kevent_aio_*) — started,
// cancelled, completed, and drained at close before the caller's buffers
// are the caller's again (the ledger: uring_backend.hpp).
//
// LOCKING: start_io(), cancel_io() and retire_all() take mu_
// (uring_backend.hpp), the others run under it; drain_cancelled() lets it
// go around its io_uring_enter.
#include "backend/uring/uring_backend.hpp"

#include <cerrno>
#include <sys/socket.h>

namespace kevent::detail {

int uring_backend::start_io(const io_request &rq, uint64_t token) {
	if (rq.op == io_op::sendfile)
		return -EOPNOTSUPP; // no such opcode: the core's pool runs it
	std::lock_guard lk(mu_);
	inflight_.insert(token); // may throw: before the kernel has it
	io_uring_sqe *sqe = get_sqe();
	unsigned len = static_cast<unsigned>(rq.len);
	uint64_t off = static_cast<uint64_t>(rq.off); // -1: the file position
	switch (rq.op) {
	case io_op::read:
		io_uring_prep_read(sqe, rq.fd, rq.buf, len, off);
		break;
	case io_op::write:
		io_uring_prep_write(sqe, rq.fd, rq.buf, len, off);
		break;
	case io_op::fsync:
		io_uring_prep_fsync(sqe, rq.fd, rq.flags ? IORING_FSYNC_DATASYNC : 0);
		break;
	case io_op::recv:
		io_uring_prep_recv(sqe, rq.fd, rq.buf, len, rq.flags);
		break;
	case io_op::send:
		io_uring_prep_send(sqe, rq.fd, rq.buf, len, rq.flags);
		break;
	case io_op::accept:
		io_uring_prep_accept(sqe, rq.fd, nullptr, nullptr, rq.flags);
		break;
	case io_op::connect:
		io_uring_prep_connect(sqe, rq.fd, reinterpret_cast<const sockaddr *>(&rq.addr),
				      rq.addrlen);
		break;
	case io_op::sendfile: // refused above; the splice pair it would
		break;        // take needs a pipe per operation
	}
	sqe->user_data = token;
	submit_if_blocked();
	return 0;
}

// REMOVE of a request. io_uring's ASYNC_CANCEL cannot undo a request
// that has run: the target's own CQE says which it was (-ECANCELED or
// -EINTR: stopped before it took or gave anything; anything else: its
// result, which the caller hands over instead of a cancellation).
io_cancel uring_backend::cancel_io(uint64_t token, int32_t &result) {
	std::unique_lock lk(mu_);
	if (!inflight_.count(token)) {
		// Reaped already: waiting in pending_, or in the hands of
		// a poller that dispatches it once it has the queue lock.
		for (auto it = pending_.begin(); it != pending_.end(); ++it)
			if (it->token == token) {
				result = it->result;
				pending_.erase(it);
				return io_cancel::completed;
			}
		return io_cancel::reported;
	}
	if (withdraw_unsubmitted(token)) {
		inflight_.erase(token);
		return io_cancel::cancelled;
	}
	cancelling_.insert(token);
	removing_ = token;
	io_uring_sqe *sqe = get_sqe();
	io_uring_prep_cancel64(sqe, token, 0);
	sqe->user_data = own_token(own_ignore);
	drain_cancelled(lk);
	removing_ = 0;
	result = removed_res_;
	return result == -ECANCELED || result == -EINTR ? io_cancel::cancelled
							: io_cancel::completed;
}

// An I/O request's one CQE (user_data: its token).
void uring_backend::handle_io(const io_uring_cqe &cqe, backend_event *out, int max, int &k) {
	uint64_t ud = cqe.user_data;
	inflight_.erase(ud);
	if (cancelling_.erase(ud)) {
		// REMOVE or close is waiting for this, not the user;
		// REMOVE decides by its result.
		if (ud == removing_)
			removed_res_ = cqe.res;
		return;
	}
	emit(out, max, k, backend_event{ud, 0, cqe.res});
}

// Submission is lazy: a request still between the published tail and
// ours has not been seen by the kernel. It becomes a NOP (its CQE is
// ignored), so a REMOVE right after the call cancels it for certain.
bool uring_backend::withdraw_unsubmitted(uint64_t token) {
	io_uring_sq &sq = ring_.sq;
	for (unsigned i = sq.sqe_head; i != sq.sqe_tail; i++) {
		io_uring_sqe *sqe = &sq.sqes[i & *sq.kring_mask];
		if (sqe->user_data == token) {
			io_uring_prep_nop(sqe);
			sqe->user_data = own_token(own_ignore);
			return true;
		}
	}
	return false;
}

// Wait until every token in cancelling_ has completed, or `rounds` of
// at most 1 ms have passed (-1: no bound). The poller may be blocked in
// io_uring_enter too and reap some of them; what this thread reaps for
// others waits in pending_ and the poller is woken.
void uring_backend::drain_cancelled(std::unique_lock<std::mutex> &lk, int rounds) {
	for (; !cancelling_.empty() && rounds != 0; rounds -= rounds > 0) {
		unsigned n = flush_sq();
		lk.unlock();
		enter(n, 1, 1000000, false); // 1 ms: the poller may reap it first
		lk.lock();
		if (reap_for_others())
			wake(); // they were the poller's: let it come for them
	}
}

// Closing: I/O in flight must be finished with the caller's buffers
// before kevent_close returns, so each request is cancelled and its
// final CQE awaited. Nothing else holds memory of the caller's: the
// polls, the deadlines, the wake poll and the fixed-file table are
// ended by the ring's teardown, in a kernel worker, moments after the
// call returns (docs/semantics.md). Ending and reaping them here cost
// an io_uring_enter of one cancel per watch (issue 14 item 8). The
// bound (5,000 rounds of 1 ms) is for I/O the kernel cannot end at
// once (a read stuck in a device): kevent_close must not hang on it.
void uring_backend::retire_all() {
	std::unique_lock lk(mu_);
	closing_ = true; // nothing is armed again from here on
	for (uint64_t t : inflight_) {
		cancelling_.insert(t);
		io_uring_sqe *sqe = get_sqe();
		io_uring_prep_cancel64(sqe, t, 0);
		sqe->user_data = own_token(own_ignore);
	}
	drain_cancelled(lk, 5000);
}

} // namespace kevent::detail
