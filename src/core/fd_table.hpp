// SPDX-License-Identifier: MIT
// fd_table — one fd_watch per watched fd number, shared by every kevent of
// the queue on that fd (SOCKET and POLL on one socket, say): the backend
// allows one watch per fd, so the core merges their interests here.
//
// A watch is named to the backend by a token = generation << 32 | slot, so a
// report that arrives after the watch was destroyed (the kernel keeps an
// epoll item as long as the *file* lives) is recognised and dropped.
#pragma once

#include "core/knode.hpp"

#include <memory>
#include <vector>

namespace kevent::detail {

struct fd_watch {
	int fd = -1;
	uint32_t slot = 0;
	uint32_t gen = 0;
	watch_mode armed; // what the backend was last told
	bool in_backend = false;
	// Kevents on the ready list lend no interest to the backend watch until
	// one of them is delivered (queue.cpp, park_watch).
	bool parked = false;
	knode *head = nullptr;              // kevents on this fd
	struct fd_source *source = nullptr; // or: an fd the library owns

	uint64_t token() const { return (uint64_t(gen) << 32) | slot; }
};

class fd_table {
public:
	fd_watch *find(int fd) const {
		if (fd < 0 || static_cast<size_t>(fd) >= by_fd_.size() || by_fd_[fd] == 0)
			return nullptr;
		return slots_[by_fd_[fd] - 1].get();
	}
	fd_watch *from_token(uint64_t token) const {
		uint32_t slot = static_cast<uint32_t>(token);
		if (slot >= slots_.size())
			return nullptr;
		fd_watch *w = slots_[slot].get();
		return (w->gen == uint32_t(token >> 32) && w->fd >= 0) ? w : nullptr;
	}
	// Watches that exist (visible and hidden).
	size_t live() const { return slots_.size() - free_.size(); }
	fd_watch *create(int fd);
	// A watch of an fd the library owns: not found by number, so a user's
	// kevent on the same number never joins it.
	fd_watch *create_hidden(int fd);
	void destroy(fd_watch *w);

	static void attach(fd_watch *w, knode *n);
	static void detach(knode *n);

	template <class F> void for_each(F &&f) const {
		for (auto &w : slots_)
			if (w->fd >= 0)
				f(w.get());
	}

private:
	std::vector<uint32_t> by_fd_; // fd -> slot + 1 (0: none)
	std::vector<std::unique_ptr<fd_watch>> slots_;
	std::vector<uint32_t> free_;
};

} // namespace kevent::detail
