// SPDX-License-Identifier: MIT
// knode_pool — a queue's knodes come from slabs it owns: no allocator header
// per registration (a 96-byte knode cost 112 bytes from malloc) and no
// malloc/free on the ADD/REMOVE path once the queue has seen its peak. Slabs
// grow geometrically (8 knodes up to 1024) and are returned when the queue
// closes: a queue keeps the memory of its largest registration count, as
// libev's and libuv's arrays do.
//
// Used under the queue lock only. Under ASan a free knode is poisoned, so a
// use after REMOVE is still reported as one.
#pragma once

#include "core/knode.hpp"

#include <memory>
#include <vector>

namespace kevent::detail {

class knode_pool {
public:
	knode_pool() = default;
	knode_pool(const knode_pool &) = delete;
	knode_pool &operator=(const knode_pool &) = delete;
	~knode_pool();

	// A default-constructed knode. May throw std::bad_alloc.
	knode *make();
	void release(knode *n);
	size_t live() const { return live_; }

private:
	union cell {
		cell *next; // while free
		alignas(knode) unsigned char bytes[sizeof(knode)];
	};
	static_assert(sizeof(cell) == sizeof(knode));

	void add_slab();

	struct slab {
		std::unique_ptr<cell[]> cells;
		size_t count;
	};
	std::vector<slab> slabs_;
	size_t next_slab_ = 8;
	cell *free_ = nullptr;
	size_t live_ = 0;
};

} // namespace kevent::detail
