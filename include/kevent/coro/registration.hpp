// SPDX-License-Identifier: MIT
// coro/registration.hpp — the awaiter of every origin that is registered
// with a ONESHOT ADD (readiness, timers, user events, signals, processes,
// inodes): the entry is built when the awaitable is made, ADDed when it is
// awaited with the awaiter's address as cookie, and REMOVEd by its key on
// cancellation. An entry ready at ADD is copied back (kevent_ctl(3)), and
// the coroutine goes on without suspending.
#pragma once

#include <kevent/coro/operation.hpp>

#include <cerrno>
#include <cstdint>
#include <system_error>

namespace kevent::coro::detail {

// Result: a stateless callable T(const ukevent &) reading the delivery.
template <class T, class Result> class registration : public operation<registration<T, Result>, T> {
	using base = operation<registration<T, Result>, T>;
	friend base;

public:
	registration(io_context &ctx, const ukevent &entry) noexcept : base(ctx), entry_(entry) {}
	registration(io_context &ctx, const ukevent &entry, std::error_code &ec) noexcept
	    : base(ctx, ec), entry_(entry) {}
	registration(registration &&) noexcept = default;

	// KEVENT_SOCKET on a descriptor that is not a socket fails with EINVAL;
	// this ADD then retries as KEVENT_POLL with these poll(2) bits.
	registration &&poll_fallback(uint32_t poll_bits) &&noexcept {
		fallback_ = poll_bits;
		return std::move(*this);
	}

private:
	int submit(ukevent &out) noexcept {
		ukevent uk = entry_;
		uk.ptr = static_cast<op_base *>(this);
		int n = kevent_ctl(this->kfd(), KEVENT_CTL_ADD, 1, &uk);
		if (n < 0)
			return -errno;
		if (n == 1 && fallback_ && (uk.ret_flags & KEVENT_RET_BROKEN) &&
		    -static_cast<int32_t>(uk.ret_data[1]) == EINVAL) {
			entry_.type = KEVENT_POLL;
			entry_.event = fallback_;
			uk = entry_;
			uk.ptr = static_cast<op_base *>(this);
			n = kevent_ctl(this->kfd(), KEVENT_CTL_ADD, 1, &uk);
			if (n < 0)
				return -errno;
		}
		if (n == 0)
			return 0;
		out = uk;
		return 1;
	}
	ukevent key() const noexcept { return entry_; }
	T value(const ukevent &ev) { return Result{}(ev); }

	ukevent entry_;
	uint32_t fallback_ = 0;
};

struct no_result {
	void operator()(const ukevent &) const noexcept {}
};
struct data0_result {
	uint32_t operator()(const ukevent &ev) const noexcept { return ev.ret_data[0]; }
};
struct payload_result {
	uint64_t operator()(const ukevent &ev) const noexcept {
		return ev.ret_data[0] | (static_cast<uint64_t>(ev.ret_data[1]) << 32);
	}
};
struct status_result {
	int operator()(const ukevent &ev) const noexcept {
		return static_cast<int>(ev.ret_data[0]);
	}
};

inline ukevent oneshot_entry(uint32_t type, uint64_t id, uint32_t event) noexcept {
	ukevent uk{};
	uk.type = type;
	uk.id.raw_u64 = id;
	uk.event = event;
	uk.req_flags = KEVENT_REQ_ONESHOT;
	return uk;
}

} // namespace kevent::coro::detail
