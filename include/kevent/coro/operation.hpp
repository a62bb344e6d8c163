// SPDX-License-Identifier: MIT
// coro/operation.hpp — the awaiter every origin's awaitable is built on:
// the operation's state (the kevent it registered, its result) lives in the
// awaiter, in the awaiting coroutine's frame, and the awaiter's address is
// the kevent's cookie; a co_await allocates nothing.
//
// A Derived class supplies
//   int submit(ukevent &out) noexcept;   // start: 1 = completed at once (out
//                                        // holds the event), 0 = pending,
//                                        // -errno = could not start
//   ukevent key() const noexcept;        // the entry REMOVE matches
//   value_type value(const ukevent &ev); // the result of a delivered event
//
// States (one atomic): the submitting thread owns the awaiter until it
// publishes `armed`; a completion harvested by another runner while the
// submission is still under way (kevent_ctl(3): another waiter may take an
// entry's first readiness before the ADD returns) only records the event,
// and the submitting thread then continues without suspending. A stop
// request REMOVEs the kevent; kevent_ctl(3) guarantees the event is then
// either delivered before REMOVE returns or never, and an AIO operation is
// either cancelled (nothing touches its buffer any more) or answers
// EALREADY and is delivered with its result. Exactly one of the delivery and
// the cancellation resumes the coroutine, exactly once.
#pragma once

#include <kevent/coro/io_context.hpp>
#include <kevent/error.hpp>
#include <kevent/kevent.h>

#include <atomic>
#include <cerrno>
#include <coroutine>
#include <cstdint>
#include <optional>
#include <stop_token>
#include <system_error>
#include <thread>
#include <utility>

namespace kevent::coro::detail {

enum op_state : uint8_t {
	st_idle,      // not started
	st_submit,    // the submitting thread owns it
	st_submit_cx, // ... and a stop request came meanwhile
	st_armed,     // registered; the completion or the canceller resumes
	st_cancel,    // the canceller is REMOVEing it
	st_done,      // the event was harvested
	st_abandon,   // the awaiter is being destroyed while armed
};

inline std::error_code from_event(const ukevent &ev) noexcept {
	if (ev.ret_flags & KEVENT_RET_BROKEN)
		return kevent::detail::errno_code(-static_cast<int32_t>(ev.ret_data[1]));
	return {};
}

template <class Derived, class T> class operation : public op_base {
public:
	using value_type = T;

	explicit operation(io_context &ctx) noexcept : ctx_(&ctx) { complete = &on_event; }
	// error_code form: the result's error goes to ec instead of a throw.
	operation(io_context &ctx, std::error_code &ec) noexcept : operation(ctx) { ecp_ = &ec; }

	// Movable until awaited (so awaitables can be passed around and wrapped).
	operation(operation &&o) noexcept
	    : op_base(), ctx_(o.ctx_), ecp_(o.ecp_), token_(std::move(o.token_)) {
		complete = &on_event;
	}
	operation &operator=(operation &&) = delete;

	~operation() {
		cb_.reset(); // waits for a canceller running on another thread
		uint8_t s = state_.load(std::memory_order_acquire);
		if (s == st_armed || s == st_cancel)
			abandon(s);
	}

	// Cancels the operation when tok is stopped: it then completes with
	// std::errc::operation_canceled, unless its result came first.
	Derived &&stop_on(std::stop_token tok) &&noexcept {
		token_ = std::move(tok);
		return static_cast<Derived &&>(*this);
	}

	bool await_ready() const noexcept { return false; }

	bool await_suspend(std::coroutine_handle<> h) noexcept {
		h_ = h;
		state_.store(st_submit, std::memory_order_relaxed);
		if (token_.stop_possible()) {
			if (token_.stop_requested())
				return finish_cancelled();
			cb_.emplace(token_, canceller{this});
			if (state_.load(std::memory_order_acquire) == st_submit_cx)
				return finish_cancelled();
		}
		ukevent out{};
		int r = self().submit(out);
		if (r != 0) {
			ev_ = out;
			if (r < 0)
				set_error(-r);
			state_.store(st_done, std::memory_order_relaxed);
			return false;
		}
		// Registered: from here another runner may deliver the event.
		uint8_t s = st_submit;
		if (state_.compare_exchange_strong(s, st_armed, std::memory_order_acq_rel))
			return true;
		if (s == st_done)
			return false; // delivered during the submission: go on
		// st_submit_cx: a stop request during the submission.
		if (remove_now())
			return finish_cancelled();
		s = st_submit_cx;
		if (state_.compare_exchange_strong(s, st_armed, std::memory_order_acq_rel))
			return true;
		return false; // st_done
	}

	T await_resume() {
		cb_.reset();
		if (!ec_ && !cancelled_)
			ec_ = from_event(ev_);
		if (cancelled_)
			ec_ = std::make_error_code(std::errc::operation_canceled);
		if (ec_) {
			if (ecp_) {
				*ecp_ = ec_;
				if constexpr (!std::is_void_v<T>)
					return T{};
				else
					return;
			}
			throw std::system_error(ec_);
		}
		if (ecp_)
			ecp_->clear();
		if constexpr (!std::is_void_v<T>)
			return self().value(ev_);
	}

	io_context &context() const noexcept { return *ctx_; }

	// Cancels the operation as a stop request would: its owner is being
	// closed (coro/socket.hpp). Harmless once it is done.
	void cancel() noexcept { on_stop(); }

protected:
	int kfd() const noexcept { return ctx_->fd(); }
	// The raw delivered event (for derived results).
	const ukevent &event() const noexcept { return ev_; }

private:
	struct canceller {
		operation *op;
		void operator()() const noexcept { op->on_stop(); }
	};

	Derived &self() noexcept { return static_cast<Derived &>(*this); }

	void set_error(int e) noexcept { ec_ = kevent::detail::errno_code(e); }

	bool finish_cancelled() noexcept {
		cancelled_ = true;
		state_.store(st_done, std::memory_order_relaxed);
		return false;
	}

	// REMOVE the kevent: true when it is gone and will never be delivered.
	bool remove_now() noexcept {
		ukevent k = self().key();
		if (kevent_ctl(ctx_->fd(), KEVENT_CTL_REMOVE, 1, &k) < 0)
			return false; // the queue is gone: nothing will be delivered
		return !(k.ret_flags & KEVENT_RET_BROKEN);
	}

	static void on_event(op_base *base, const ukevent &ev) noexcept {
		auto *me = static_cast<operation *>(base);
		me->ev_ = ev;
		uint8_t s = me->state_.exchange(st_done, std::memory_order_acq_rel);
		if (s == st_armed || s == st_cancel)
			me->h_.resume();
		// st_submit/_cx: the submitting thread goes on; st_abandon: the
		// destructor waits for st_done and nothing resumes.
	}

	// The stop callback, on the thread that requested the stop.
	void on_stop() noexcept {
		uint8_t s = st_submit;
		if (state_.compare_exchange_strong(s, st_submit_cx, std::memory_order_acq_rel))
			return; // the submitting thread cancels
		if (s != st_armed ||
		    !state_.compare_exchange_strong(s, st_cancel, std::memory_order_acq_rel))
			return; // done or being done
		if (!remove_now())
			return; // delivered (or will be): the completion resumes
		// Removed: never delivered. Resume on a runner, not in the stop
		// request's thread.
		cancelled_ = true;
		resume_node_.run = [](posted_node *n, bool execute) {
			if (execute)
				static_cast<resume_node *>(n)->h.resume();
		};
		resume_node_.h = h_;
		ctx_->post_node(&resume_node_);
	}

	// Destroyed while armed: the owning task was destroyed.
	void abandon(uint8_t s) noexcept {
		if (!state_.compare_exchange_strong(s, st_abandon, std::memory_order_acq_rel))
			return;
		if (cancelled_) {
			// The canceller removed it and posted the resumption: withdraw
			// that instead.
			ctx_->unpost(&resume_node_);
			return;
		}
		ukevent k = self().key();
		if (kevent_ctl(ctx_->fd(), KEVENT_CTL_REMOVE, 1, &k) < 0 ||
		    !(k.ret_flags & KEVENT_RET_BROKEN))
			return; // gone
		if (-static_cast<int32_t>(k.ret_data[1]) == EALREADY) {
			// An AIO operation that ran: delivered by a later wait, which
			// drops it (the buffer was the caller's; see docs/coroutines.md).
			ctx_->orphan(k.type, k.id.raw_u64);
			return;
		}
		// Delivered before REMOVE returned: to this thread's current batch
		// or the spill list (neutralise it there) or to another runner
		// (wait for its handler).
		batch_view &b = tl_batch;
		for (unsigned i = b.next; i < b.n; ++i)
			if (b.evs[i].ptr == static_cast<op_base *>(this)) {
				b.evs[i].ptr = nullptr;
				return;
			}
		// Or to a runner's spill list (io_context.hpp), not yet taken.
		if (ctx_->withdraw_spilled(this))
			return;
		while (state_.load(std::memory_order_acquire) != st_done)
			std::this_thread::yield();
	}

	struct resume_node : posted_node {
		std::coroutine_handle<> h;
	};

	io_context *ctx_;
	std::error_code *ecp_ = nullptr;
	std::stop_token token_;
	std::coroutine_handle<> h_;
	std::atomic<uint8_t> state_{st_idle};
	bool cancelled_ = false;
	std::error_code ec_;
	ukevent ev_{};
	resume_node resume_node_;
	// Last: destroyed first, so a running canceller finishes before the
	// rest of the awaiter goes.
	std::optional<std::stop_callback<canceller>> cb_;
};

} // namespace kevent::coro::detail
