// SPDX-License-Identifier: MIT
// timer_heap — the core's deadline structure: a 4-ary min-heap ordered by
// expiry, each knode knowing its position (O(log n) insert and cancel, O(1)
// earliest). With a million timers the heap is 4 levels shallower than a
// binary heap and its children share cache lines. Each entry carries its
// expiry beside the pointer (as libev's heap does), so sifting compares
// without reading cold knodes; only the moved knode's position is written.
#pragma once

#include "core/knode.hpp"

#include <vector>

namespace kevent::detail {

class timer_heap {
public:
	bool empty() const { return v_.empty(); }
	size_t size() const { return v_.size(); }
	knode *top() const { return v_.front().n; }
	int64_t top_expiry() const { return v_.front().expiry; }

	// May throw std::bad_alloc, and then changes nothing.
	void insert(knode *n);
	void erase(knode *n);
	// Call after n->tm.expiry changed while n is in the heap.
	void update(knode *n);
	// Keep n in the heap (its place is reserved: no allocation to put it
	// back) but never at the top before the others: ordered as if its
	// expiry were the end of time; update() puts it back in order.
	void hold(knode *n);

private:
	struct entry {
		int64_t expiry;
		knode *n;
	};
	void place(size_t i, entry e) {
		v_[i] = e;
		e.n->tm.heap_pos = static_cast<uint32_t>(i);
	}
	void sift_up(size_t i);
	void sift_down(size_t i);

	std::vector<entry> v_;
};

} // namespace kevent::detail
