// timer_heap — the core's deadline structure: a 4-ary min-heap of knodes
// ordered by expiry, each knode knowing its position (O(log n) insert and
// cancel, O(1) earliest). With a million timers the heap is 4 levels
// shallower than a binary heap and its children share cache lines.
#pragma once

#include "core/knode.hpp"

#include <vector>

namespace kevent::detail {

class timer_heap {
public:
	bool empty() const { return v_.empty(); }
	size_t size() const { return v_.size(); }
	knode *top() const { return v_.front(); }

	void insert(knode *n);
	void erase(knode *n);
	// Call after n->expiry changed while n is in the heap.
	void update(knode *n);

private:
	void place(size_t i, knode *n) {
		v_[i] = n;
		n->heap_pos = static_cast<uint32_t>(i);
	}
	void sift_up(size_t i);
	void sift_down(size_t i);

	std::vector<knode *> v_;
};

} // namespace kevent::detail
