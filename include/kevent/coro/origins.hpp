// SPDX-License-Identifier: MIT
// coro/origins.hpp — awaiting the origins that are not descriptors' I/O:
//   user_event(ctx, id)      a KEVENT_UNOTIFY kevent; returns the two words
//                            of payload given by notify(ctx, id, payload)
//                            (kevent_unotify(7)). notify before the wait is
//                            registered fails with ENOENT.
//   signal(ctx, signo, consume) a KEVENT_SIGNAL kevent; returns the
//                            deliveries coalesced; consume = true adds
//                            KEVENT_SIGNAL_NOMASK: the queue takes the signal
//                            and no handler or default action runs
//                            (kevent_signal(7)).
//   process_exit(ctx, pid)   a KEVENT_PROC kevent; returns the wait status
//                            (children; reap = true reaps the child)
//                            (kevent_proc(7)).
//   inode_change(ctx, fd, bits) a KEVENT_INODE kevent; returns the bits that
//                            fired; the names are read with
//                            kevent_inode_names(3) (kevent_inode(7)).
// Each is one ONESHOT ADD; the key is (id, origin), so one wait per key at
// a time.
#pragma once

#include <kevent/coro/registration.hpp>

#include <sys/types.h>

#include <cstdint>
#include <system_error>

namespace kevent::coro {

using user_event_op = detail::registration<uint64_t, detail::payload_result>;
using signal_op = detail::registration<uint32_t, detail::data0_result>;
using process_exit_op = detail::registration<int, detail::status_result>;
using inode_change_op = detail::registration<uint32_t, detail::data0_result>;

namespace detail {
inline ukevent user_entry(uint64_t id) noexcept { return oneshot_entry(KEVENT_UNOTIFY, id, 0); }
inline ukevent signal_entry(int signo, bool consume) noexcept {
	return oneshot_entry(KEVENT_SIGNAL,
			     static_cast<uint32_t>(signo) | (consume ? KEVENT_SIGNAL_NOMASK : 0),
			     KEVENT_SIGNAL_DELIVERY);
}
inline ukevent proc_entry(pid_t pid, bool reap) noexcept {
	return oneshot_entry(KEVENT_PROC, static_cast<uint32_t>(pid),
			     KEVENT_PROC_EXIT | (reap ? KEVENT_PROC_REAP : 0u));
}
inline ukevent inode_entry(int fd, uint32_t bits) noexcept {
	return oneshot_entry(KEVENT_INODE, static_cast<uint32_t>(fd), bits);
}
} // namespace detail

inline user_event_op user_event(io_context &ctx, uint64_t id) noexcept {
	return user_event_op(ctx, detail::user_entry(id));
}
inline user_event_op user_event(io_context &ctx, uint64_t id, std::error_code &ec) noexcept {
	return user_event_op(ctx, detail::user_entry(id), ec);
}

// Makes the user event id ready with a payload (KEVENT_CTL_READY).
inline void notify(io_context &ctx, uint64_t id, uint64_t payload, std::error_code &ec) noexcept {
	ukevent uk = detail::user_entry(id);
	uk.ret_data[0] = static_cast<uint32_t>(payload);
	uk.ret_data[1] = static_cast<uint32_t>(payload >> 32);
	int n = kevent_ctl(ctx.fd(), KEVENT_CTL_READY, 1, &uk);
	if (n < 0)
		ec = kevent::detail::last_error();
	else if (n == 0)
		ec = detail::from_event(uk);
	else
		ec.clear();
}
inline void notify(io_context &ctx, uint64_t id, uint64_t payload) {
	std::error_code ec;
	notify(ctx, id, payload, ec);
	kevent::detail::throw_on(ec, "kevent_ctl(READY)");
}

inline signal_op signal(io_context &ctx, int signo, bool consume = false) noexcept {
	return signal_op(ctx, detail::signal_entry(signo, consume));
}
inline signal_op signal(io_context &ctx, int signo, bool consume, std::error_code &ec) noexcept {
	return signal_op(ctx, detail::signal_entry(signo, consume), ec);
}

inline process_exit_op process_exit(io_context &ctx, pid_t pid, bool reap = false) noexcept {
	return process_exit_op(ctx, detail::proc_entry(pid, reap));
}
inline process_exit_op process_exit(io_context &ctx, pid_t pid, bool reap,
				    std::error_code &ec) noexcept {
	return process_exit_op(ctx, detail::proc_entry(pid, reap), ec);
}

inline inode_change_op inode_change(io_context &ctx, int fd, uint32_t bits) noexcept {
	return inode_change_op(ctx, detail::inode_entry(fd, bits));
}
inline inode_change_op inode_change(io_context &ctx, int fd, uint32_t bits,
				    std::error_code &ec) noexcept {
	return inode_change_op(ctx, detail::inode_entry(fd, bits), ec);
}

} // namespace kevent::coro
