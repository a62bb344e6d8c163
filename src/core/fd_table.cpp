// SPDX-License-Identifier: MIT
#include "core/fd_table.hpp"

namespace kevent::detail {

fd_watch *fd_table::create(int fd) {
	if (static_cast<size_t>(fd) >= by_fd_.size())
		by_fd_.resize(static_cast<size_t>(fd) + 1 + by_fd_.size() / 2, 0);
	fd_watch *w = create_hidden(fd);
	by_fd_[fd] = w->slot + 1;
	return w;
}

fd_watch *fd_table::create_hidden(int fd) {
	uint32_t slot;
	if (!free_.empty()) {
		slot = free_.back();
		free_.pop_back();
	} else {
		// destroy() must not allocate (it runs while freeing, in
		// destructors too): room in free_ for every slot, made now.
		free_.reserve(slots_.size() + 1);
		slot = static_cast<uint32_t>(slots_.size());
		slots_.push_back(std::make_unique<fd_watch>());
	}
	fd_watch *w = slots_[slot].get();
	// The top two bits are taken: backend-internal and I/O tokens.
	uint32_t gen = (w->gen + 1) & 0x3fffffffu;
	*w = fd_watch{};
	w->fd = fd;
	w->slot = slot;
	w->gen = gen ? gen : 1;
	return w;
}

void fd_table::destroy(fd_watch *w) {
	if (w->fd >= 0 && static_cast<size_t>(w->fd) < by_fd_.size() &&
	    by_fd_[w->fd] == w->slot + 1)
		by_fd_[w->fd] = 0;
	w->fd = -1;
	w->head = nullptr;
	free_.push_back(w->slot);
}

void fd_table::attach(fd_watch *w, knode *n) {
	n->fdw.watch = w;
	n->fdw.wprev = nullptr;
	n->fdw.wnext = w->head;
	if (w->head)
		w->head->fdw.wprev = n;
	w->head = n;
}

void fd_table::detach(knode *n) {
	fd_watch *w = n->fdw.watch;
	if (!w)
		return;
	(n->fdw.wprev ? n->fdw.wprev->fdw.wnext : w->head) = n->fdw.wnext;
	if (n->fdw.wnext)
		n->fdw.wnext->fdw.wprev = n->fdw.wprev;
	n->fdw.wnext = n->fdw.wprev = nullptr;
	n->fdw.watch = nullptr;
}

} // namespace kevent::detail
