// SPDX-License-Identifier: MIT
#include "sim_world.hpp"

namespace kevent_model {

uint32_t sim_file::revents() const {
	if (!open)
		return 0;
	uint32_t ev = 0;
	if (kind == file_kind::pipe_read) {
		if (unread)
			ev |= POLLIN | POLLRDNORM;
		if (!peer_open)
			ev |= POLLHUP;
		return ev;
	}
	ev = POLLOUT | POLLWRNORM | POLLWRBAND; // we never fill a socket buffer
	if (unread || !peer_open)
		ev |= POLLIN | POLLRDNORM;
	if (!peer_open)
		ev |= POLLRDHUP | POLLHUP;
	return ev;
}

sim_world::sim_world(const std::array<file_kind, slot_count> &kinds) {
	for (unsigned i = 0; i < slot_count; i++)
		reopen(i, kinds[i]);
}

wakeup sim_world::write(unsigned slot) {
	sim_file &f = files_[slot];
	if (!f.open || !f.peer_open)
		return {};
	f.unread++;
	// pipe_write and sock_def_readable wake readers with these keys.
	if (f.kind == file_kind::pipe_read)
		return {true, POLLIN | POLLRDNORM};
	return {true, POLLIN | POLLPRI | POLLRDNORM | POLLRDBAND};
}

wakeup sim_world::drain(unsigned slot) {
	// Reading wakes the *writer's* waiters, not this file's.
	files_[slot].unread = 0;
	return {};
}

wakeup sim_world::close_peer(unsigned slot) {
	sim_file &f = files_[slot];
	if (!f.open || !f.peer_open)
		return {};
	f.peer_open = false;
	return {true, 0}; // pipe_release / sock_def_wakeup: keyless, wakes all
}

void sim_world::close(unsigned slot) {
	sim_file &f = files_[slot];
	f.open = f.peer_open = false;
	f.unread = 0;
	f.gen = next_gen_++;
}

void sim_world::reopen(unsigned slot, file_kind kind) {
	sim_file &f = files_[slot];
	f.kind = kind;
	f.open = f.peer_open = true;
	f.unread = 0;
	f.gen = next_gen_++;
}

} // namespace kevent_model
