// SPDX-License-Identifier: MIT
#include "real_world.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace kevent_diff {

using kevent_model::file_kind;
using kevent_model::slot_count;

namespace {

// Put `from` on number `to` (closing what `to` named: the old file goes,
// and with it the kernel's watches of it), then drop `from`.
bool move_fd(int from, int to) {
	int r = dup3(from, to, O_CLOEXEC);
	::close(from);
	return r == to;
}

} // namespace

real_world::real_world(const std::array<file_kind, slot_count> &kinds) {
	for (unsigned i = 0; i < slot_count; i++)
		ok_ &= reopen(i, kinds[i]);
}

real_world::~real_world() {
	for (unsigned i = 0; i < slot_count; i++)
		close(i);
}

bool real_world::write(unsigned slot) {
	if (!open_[slot] || !peer_open_[slot])
		return true;
	char c = 'x';
	ssize_t r = kinds_[slot] == file_kind::socket
			    ? ::send(peer_fd + int(slot), &c, 1, MSG_NOSIGNAL)
			    : ::write(peer_fd + int(slot), &c, 1);
	return r == 1;
}

bool real_world::drain(unsigned slot) {
	if (!open_[slot])
		return true;
	char buf[4096];
	while (::read(first_fd + int(slot), buf, sizeof buf) > 0) {
	}
	return true;
}

bool real_world::close_peer(unsigned slot) {
	if (!open_[slot] || !peer_open_[slot])
		return true;
	peer_open_[slot] = false;
	return ::close(peer_fd + int(slot)) == 0;
}

bool real_world::close(unsigned slot) {
	if (peer_open_[slot])
		::close(peer_fd + int(slot));
	if (open_[slot])
		::close(first_fd + int(slot));
	open_[slot] = peer_open_[slot] = false;
	return true;
}

bool real_world::reopen(unsigned slot, file_kind kind) {
	int fds[2];
	int r = kind == file_kind::socket
			? socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds)
			: pipe2(fds, O_NONBLOCK | O_CLOEXEC);
	if (r < 0)
		return ok_ = false;
	// The peer first: dup3 onto the watched number must be the moment
	// the old file goes (fd reuse in one step, as dup2 in a program).
	if (peer_open_[slot])
		::close(peer_fd + int(slot));
	bool good = move_fd(fds[1], peer_fd + int(slot)) && move_fd(fds[0], first_fd + int(slot));
	kinds_[slot] = kind;
	open_[slot] = peer_open_[slot] = true;
	if (!good)
		ok_ = false;
	return good;
}

} // namespace kevent_diff
