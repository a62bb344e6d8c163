// SPDX-License-Identifier: MIT
// coro/socket.hpp — kevent::coro::socket: a stream socket owned by a
// coroutine program, whose recv and send cost their own system call and
// nothing else. It registers one persistent KEVENT_SOCKET kevent for the
// socket's life and remembers what the last calls said
// (coro/socket_slot.hpp), as Asio's reactor does: a recv after a short one
// waits for the next edge without trying, and a wait re-arms nothing.
//
// That is the epoll backend. On io_uring the socket's calls are the queue's
// own asynchronous ones (below, socket_io), and the socket registers no
// kevent.
//
// Against coro::recv/coro::send on a bare descriptor (KEVENT_NAIO,
// kevent_aio_recv(3)): those re-arm their socket's watch at every wait,
// one epoll_ctl per round trip on the epoll backend, because a number may
// have been closed and reused between two calls and the re-arm is what
// finds out. A socket object owns its number, so it needs no such check:
// close it through close() (or its destructor), never with close(2).
//
// Rules (docs/coroutines.md, "Sockets"):
// - one recv and one send may wait at once (a second of the same kind
//   fails with EBUSY); recv and send of one socket may run on two runners;
// - recv(2)/send(2) flags are the caller's, plus MSG_DONTWAIT (the socket
//   may stay blocking) and, for send, MSG_NOSIGNAL (EPIPE, never SIGPIPE);
// - close() ends the waiting operations with operation_canceled, removes
//   the kevent and closes the descriptor; release() does the same but
//   hands the descriptor back open; an operation made before and awaited
//   after that fails with EBADF (the slot's generation);
// - the socket must be closed before its io_context is destroyed, and the
//   same descriptor must not be awaited with readable/writable (same kevent
//   key: EEXIST).
#pragma once

#include <kevent/coro/aio.hpp>
#include <kevent/coro/socket_slot.hpp>
#include <kevent/error.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <coroutine>
#include <cstddef>
#include <optional>
#include <span>
#include <stop_token>
#include <system_error>
#include <thread>
#include <utility>
#include <variant>

namespace kevent::coro {

class socket;

namespace detail {

enum sock_state : uint8_t {
	ss_idle,    // not started
	ss_submit,  // the submitting thread owns it
	ss_armed,   // waiting in the slot; the edge or the canceller resumes
	ss_posting, // cancelled while waiting: its resumption is being posted
	ss_done,    // finished (result or cancelled)
	ss_abandon, // the awaiter is being destroyed while armed
};

// One recv or send of a socket; lives in the awaiting coroutine's frame.
// States as in operation.hpp: whoever finishes it (an edge's handler, the
// canceller, close()) sets ss_done; only one that finds ss_armed resumes.
template <socket_dir Dir> class socket_op : socket_wait {
	using buffer = std::conditional_t<Dir == dir_recv, std::byte *, const std::byte *>;

public:
	// ctx is null, and slot too, for a socket never opened.
	socket_op(io_context *ctx, socket_slot *slot, buffer buf, std::size_t size, int flags,
		  std::error_code *ec) noexcept
	    : ctx_(ctx), slot_(slot),
	      gen_(slot ? slot->generation.load(std::memory_order_relaxed) : 0), buf_(buf),
	      flags_(flags), ecp_(ec) {
		len = size;
		attempt = &do_attempt;
		finish = &do_finish;
	}
	socket_op(socket_op &&o) noexcept
	    : socket_wait(), ctx_(o.ctx_), slot_(o.slot_), gen_(o.gen_), buf_(o.buf_),
	      flags_(o.flags_), ecp_(o.ecp_), token_(std::move(o.token_)) {
		this->len = o.len;
		attempt = &do_attempt;
		finish = &do_finish;
	}
	socket_op &operator=(socket_op &&) = delete;

	~socket_op() {
		cb_.reset(); // waits for a canceller running on another thread
		uint8_t s = ss_armed;
		if (state_.compare_exchange_strong(s, ss_abandon, std::memory_order_acq_rel)) {
			// Destroyed while waiting (its task was destroyed).
			{
				std::lock_guard lk(slot_->mu);
				if (slot_->waiting[Dir] == this) {
					slot_->waiting[Dir] = nullptr;
					return;
				}
			}
			// Taken by a finisher on another thread: let it finish.
			while (state_.load(std::memory_order_acquire) != ss_done)
				std::this_thread::yield();
			return;
		}
		while (s == ss_posting) { // close() posts its resumption
			std::this_thread::yield();
			s = state_.load(std::memory_order_acquire);
		}
		if (s == ss_done && resume_node_.run)
			ctx_->unpost(&resume_node_); // posted and not run: withdrawn
	}

	// Cancels the operation when tok is stopped: it then completes with
	// std::errc::operation_canceled, unless its result came first.
	socket_op &&stop_on(std::stop_token tok) &&noexcept {
		token_ = std::move(tok);
		return std::move(*this);
	}

	bool await_ready() const noexcept { return false; }

	bool await_suspend(std::coroutine_handle<> h) noexcept {
		h_ = h;
		state_.store(ss_submit, std::memory_order_relaxed);
		if (token_.stop_requested()) {
			cancelled = true;
			state_.store(ss_done, std::memory_order_relaxed);
			return false;
		}
		if (!slot_) {
			result = -EBADF;
			state_.store(ss_done, std::memory_order_relaxed);
			return false;
		}
		{
			std::lock_guard lk(slot_->mu);
			if (slot_->fd < 0 ||
			    slot_->generation.load(std::memory_order_relaxed) != gen_)
				result = -EBADF; // its socket was closed (the slot may serve
						 // another)
			else if (slot_->waiting[Dir])
				result = -EBUSY;
			else if (!slot_->run(Dir, this))
				slot_->waiting[Dir] = this;
			if (slot_->waiting[Dir] != this) {
				state_.store(ss_done, std::memory_order_relaxed);
				return false; // done at once: no suspension
			}
		}
		// Waiting: from here an edge on another runner may finish it.
		if (token_.stop_possible())
			cb_.emplace(token_, canceller{this});
		uint8_t s = ss_submit;
		return state_.compare_exchange_strong(s, ss_armed, std::memory_order_acq_rel);
	}

	std::size_t await_resume() {
		cb_.reset();
		std::error_code ec;
		if (cancelled)
			ec = std::make_error_code(std::errc::operation_canceled);
		else if (result < 0)
			ec = kevent::detail::errno_code(static_cast<int>(-result));
		if (ec) {
			if (ecp_) {
				*ecp_ = ec;
				return 0;
			}
			throw std::system_error(ec);
		}
		if (ecp_)
			ecp_->clear();
		return static_cast<std::size_t>(result);
	}

private:
	struct canceller {
		socket_op *op;
		void operator()() const noexcept { op->on_stop(); }
	};
	struct resume_node : posted_node {
		std::coroutine_handle<> h;
	};

	static int64_t do_attempt(socket_wait *w) noexcept {
		auto *me = static_cast<socket_op *>(w);
		ssize_t r;
		if constexpr (Dir == dir_recv)
			r = ::recv(me->slot_->fd, me->buf_, me->len, me->flags_ | MSG_DONTWAIT);
		else
			r = ::send(me->slot_->fd, me->buf_, me->len,
				   me->flags_ | MSG_DONTWAIT | MSG_NOSIGNAL);
		return r < 0 ? -static_cast<int64_t>(errno == EWOULDBLOCK ? EAGAIN : errno) : r;
	}

	// Taken out of the slot with its result (or cancelled): resume where
	// it is safe. The first operation an edge finishes runs on this runner
	// at once (`now`); anything else — a second one, a cancellation, a
	// close() — is posted to a runner, and ss_posting keeps the destructor
	// of an awaiter whose task is being destroyed meanwhile from going
	// before the post is done.
	static void do_finish(socket_wait *w, bool now) noexcept {
		auto *me = static_cast<socket_op *>(w);
		if (now && !me->cancelled) {
			if (me->state_.exchange(ss_done, std::memory_order_acq_rel) == ss_armed)
				me->h_.resume();
			return; // ss_submit: the submitter goes on; ss_abandon: nobody
		}
		uint8_t s = ss_armed;
		if (!me->state_.compare_exchange_strong(s, ss_posting, std::memory_order_acq_rel)) {
			me->state_.store(ss_done, std::memory_order_release);
			return;
		}
		me->resume_node_.h = me->h_;
		me->resume_node_.run = [](posted_node *n, bool execute) {
			if (execute)
				static_cast<resume_node *>(n)->h.resume();
		};
		me->ctx_->post_node(&me->resume_node_);
		me->state_.store(ss_done, std::memory_order_release);
	}

	// The stop callback, on the thread that requested the stop.
	void on_stop() noexcept {
		{
			std::lock_guard lk(slot_->mu);
			if (slot_->waiting[Dir] != this)
				return; // finished, or being finished
			slot_->waiting[Dir] = nullptr;
		}
		cancelled = true;
		do_finish(this, false);
	}

	io_context *ctx_;
	socket_slot *slot_;
	uint32_t gen_; // the slot's generation when the operation was made
	buffer buf_;
	int flags_;
	std::error_code *ecp_;
	std::stop_token token_;
	std::coroutine_handle<> h_;
	std::atomic<uint8_t> state_{ss_idle};
	resume_node resume_node_;
	// Last: destroyed first, so a running canceller finishes before the
	// rest of the awaiter goes.
	std::optional<std::stop_callback<canceller>> cb_;
};

// What socket::recv and send return: on epoll the readiness operation
// above; on io_uring the queue's asynchronous one (an io_op, KEVENT_NAIO),
// which the ring runs without a readiness round trip — there a recv that
// waits costs no system call of its own, and readiness plus the call would
// cost a poll completion and the call. Both follow the same rules (one of
// each direction at a time, close() cancels).
template <socket_dir Dir> class socket_io : native_wait {
public:
	explicit socket_io(socket_op<Dir> &&op) noexcept
	    : op_(std::in_place_index<0>, std::move(op)) {}
	socket_io(socket_slot *slot, io_op &&op, std::error_code *ec) noexcept
	    : slot_(slot), gen_(slot->generation.load(std::memory_order_relaxed)), ecp_(ec),
	      op_(std::in_place_index<1>, std::move(op)) {
		cancel = &do_cancel;
	}
	socket_io(socket_io &&o) noexcept
	    : native_wait(), slot_(o.slot_), gen_(o.gen_), ecp_(o.ecp_), op_(std::move(o.op_)) {
		cancel = &do_cancel;
	}
	socket_io &operator=(socket_io &&) = delete;
	~socket_io() { leave(); }

	socket_io &&stop_on(std::stop_token tok) &&noexcept {
		std::visit([&](auto &op) { (void)std::move(op).stop_on(std::move(tok)); }, op_);
		return std::move(*this);
	}

	bool await_ready() const noexcept { return false; }

	bool await_suspend(std::coroutine_handle<> h) noexcept {
		if (op_.index() == 0)
			return std::get<0>(op_).await_suspend(h);
		// Submitted under the slot's lock, so that close() finds it
		// submitted (and cancels it) or finds the socket closed first.
		// Another runner may resume the coroutine as soon as it is armed:
		// nothing of *this is touched after the submission.
		std::lock_guard lk(slot_->mu);
		if (slot_->fd < 0 || slot_->generation.load(std::memory_order_relaxed) != gen_)
			early_ = EBADF; // its socket was closed (the slot may serve another)
		else if (slot_->native_waiting[Dir])
			early_ = EBUSY;
		if (early_)
			return false;
		slot_->native_waiting[Dir] = this;
		linked_ = true;
		return std::get<1>(op_).await_suspend(h);
	}

	std::size_t await_resume() {
		if (op_.index() == 0)
			return std::get<0>(op_).await_resume();
		leave();
		if (early_) {
			std::error_code ec = kevent::detail::errno_code(early_);
			if (!ecp_)
				throw std::system_error(ec);
			*ecp_ = ec;
			return 0;
		}
		return std::get<1>(op_).await_resume();
	}

private:
	static void do_cancel(native_wait *w) noexcept {
		std::get<1>(static_cast<socket_io *>(w)->op_).cancel();
	}

	// Out of the slot, once close() no longer cancels this operation.
	void leave() noexcept {
		if (!linked_)
			return;
		std::unique_lock lk(slot_->mu);
		while (slot_->cancelling[Dir] == this) {
			lk.unlock();
			std::this_thread::yield();
			lk.lock();
		}
		if (slot_->native_waiting[Dir] == this)
			slot_->native_waiting[Dir] = nullptr;
		linked_ = false;
	}

	socket_slot *slot_ = nullptr;
	uint32_t gen_ = 0;
	std::error_code *ecp_ = nullptr;
	int early_ = 0;
	bool linked_ = false;
	std::variant<socket_op<Dir>, io_op> op_;
};

} // namespace detail

using socket_recv_op = detail::socket_io<detail::dir_recv>;
using socket_send_op = detail::socket_io<detail::dir_send>;

class socket {
public:
	socket() noexcept = default;
	// Adopts fd, a stream socket (connected or not; blocking or not), and
	// watches it in ctx's queue; throws std::system_error (EBADF; EINVAL:
	// not a socket) and leaves fd open then.
	socket(io_context &ctx, int fd) {
		std::error_code ec;
		open(ctx, fd, ec);
		if (ec)
			throw std::system_error(ec, "kevent::coro::socket");
	}
	socket(io_context &ctx, int fd, std::error_code &ec) noexcept { open(ctx, fd, ec); }

	socket(socket &&o) noexcept
	    : ctx_(std::exchange(o.ctx_, nullptr)), slot_(std::exchange(o.slot_, nullptr)) {}
	socket &operator=(socket &&o) noexcept {
		if (this != &o) {
			close();
			ctx_ = std::exchange(o.ctx_, nullptr);
			slot_ = std::exchange(o.slot_, nullptr);
		}
		return *this;
	}
	socket(const socket &) = delete;
	socket &operator=(const socket &) = delete;
	~socket() { close(); }

	bool is_open() const noexcept { return slot_ != nullptr; }
	int native_handle() const noexcept { return slot_ ? slot_->fd : -1; }

	// co_await: bytes received (0: end of file).
	socket_recv_op recv(std::span<std::byte> buf, int flags = 0) noexcept {
		return make<detail::dir_recv>(buf, flags, nullptr);
	}
	socket_recv_op recv(std::span<std::byte> buf, int flags, std::error_code &ec) noexcept {
		return make<detail::dir_recv>(buf, flags, &ec);
	}
	// co_await: bytes sent (maybe fewer than asked, as send(2)).
	socket_send_op send(std::span<const std::byte> buf, int flags = 0) noexcept {
		return make<detail::dir_send>(buf, flags, nullptr);
	}
	socket_send_op send(std::span<const std::byte> buf, int flags,
			    std::error_code &ec) noexcept {
		return make<detail::dir_send>(buf, flags, &ec);
	}

	// Ends the waiting operations (operation_canceled), stops watching and
	// closes the descriptor.
	void close() noexcept {
		int fd = release();
		if (fd >= 0)
			::close(fd);
	}
	// As close(), but the descriptor is handed back open (-1: none).
	int release() noexcept {
		if (!slot_)
			return -1;
		detail::socket_wait *w[2];
		detail::native_wait *nw[2];
		int fd;
		{
			std::lock_guard lk(slot_->mu);
			slot_->unwatch();
			for (unsigned d = 0; d < 2; d++) {
				w[d] = std::exchange(slot_->waiting[d], nullptr);
				nw[d] = std::exchange(slot_->native_waiting[d], nullptr);
				slot_->cancelling[d] = nw[d];
			}
			fd = std::exchange(slot_->fd, -1);
			slot_->generation.fetch_add(1, std::memory_order_relaxed);
		}
		for (detail::socket_wait *x : w)
			if (x) {
				x->cancelled = true;
				x->finish(x, false);
			}
		// io_uring: REMOVE cancels them (or they complete first); their
		// awaiters wait in leave() until this is over.
		for (unsigned d = 0; d < 2; d++)
			if (nw[d]) {
				nw[d]->cancel(nw[d]);
				std::lock_guard lk(slot_->mu);
				slot_->cancelling[d] = nullptr;
			}
		detail::release_slot(*ctx_, std::exchange(slot_, nullptr));
		return fd;
	}

private:
	// recv or send on either backend's path (socket_io).
	template <detail::socket_dir Dir, class Byte>
	detail::socket_io<Dir> make(std::span<Byte> buf, int flags, std::error_code *ec) noexcept {
		if (slot_ && slot_->native) {
			auto args = [&] {
				if constexpr (Dir == detail::dir_recv)
					return detail::recv_args(slot_->fd, buf, flags);
				else
					return detail::send_args(slot_->fd, buf, flags);
			}();
			return detail::socket_io<Dir>(slot_, native_op(args, ec), ec);
		}
		return detail::socket_io<Dir>(
			detail::socket_op<Dir>(ctx_, slot_, buf.data(), buf.size(), flags, ec));
	}

	io_op native_op(const detail::aio_args &a, std::error_code *ec) noexcept {
		return ec ? io_op(*ctx_, a, *ec) : io_op(*ctx_, a);
	}

	// 0, or -errno for a descriptor that is no open socket.
	static int check_socket(int fd) noexcept {
		int type = 0;
		socklen_t len = sizeof type;
		if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0)
			return 0;
		return errno == ENOTSOCK ? -EINVAL : -errno;
	}

	void open(io_context &ctx, int fd, std::error_code &ec) noexcept {
		ec.clear();
		ctx_ = &ctx;
		detail::socket_slot *s;
		try {
			s = detail::acquire_slot(ctx);
		} catch (const std::bad_alloc &) {
			ec = std::make_error_code(std::errc::not_enough_memory);
			return;
		}
		int e;
		{
			std::lock_guard lk(s->mu);
			s->fd = fd;
			s->kfd = ctx.fd();
			s->watched = false;
			s->native = ctx.backend() == KEVENT_BACKEND_URING;
			if (fd < 0)
				e = -EBADF;
			else
				e = s->native ? check_socket(fd) : s->watch();
			if (e < 0)
				s->fd = -1;
		}
		if (e < 0) {
			detail::release_slot(ctx, s);
			ec = kevent::detail::errno_code(-e);
			return;
		}
		slot_ = s;
	}

	io_context *ctx_ = nullptr;
	detail::socket_slot *slot_ = nullptr;
};

} // namespace kevent::coro
