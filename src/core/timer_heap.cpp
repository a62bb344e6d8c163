// SPDX-License-Identifier: MIT
#include "core/timer_heap.hpp"

namespace kevent::detail {

namespace {
constexpr size_t arity = 4;
}

void timer_heap::insert(knode *n) {
	v_.push_back({n->tm.expiry, n});
	n->tm.heap_pos = static_cast<uint32_t>(v_.size() - 1);
	sift_up(v_.size() - 1);
}

void timer_heap::erase(knode *n) {
	size_t i = n->tm.heap_pos;
	if (i >= v_.size() || v_[i].n != n)
		return;
	entry last = v_.back();
	v_.pop_back();
	n->tm.heap_pos = UINT32_MAX;
	if (i == v_.size())
		return;
	place(i, last);
	update(last.n);
}

void timer_heap::update(knode *n) {
	size_t i = n->tm.heap_pos;
	v_[i].expiry = n->tm.expiry;
	if (i > 0 && v_[(i - 1) / arity].expiry > n->tm.expiry)
		sift_up(i);
	else
		sift_down(i);
}

void timer_heap::hold(knode *n) {
	size_t i = n->tm.heap_pos;
	v_[i].expiry = INT64_MAX;
	sift_down(i);
}

void timer_heap::sift_up(size_t i) {
	entry e = v_[i];
	while (i > 0) {
		size_t p = (i - 1) / arity;
		if (v_[p].expiry <= e.expiry)
			break;
		place(i, v_[p]);
		i = p;
	}
	place(i, e);
}

void timer_heap::sift_down(size_t i) {
	entry e = v_[i];
	size_t size = v_.size();
	for (;;) {
		size_t first = i * arity + 1;
		if (first >= size)
			break;
		size_t best = first;
		size_t end = first + arity < size ? first + arity : size;
		for (size_t c = first + 1; c < end; c++)
			if (v_[c].expiry < v_[best].expiry)
				best = c;
		if (v_[best].expiry >= e.expiry)
			break;
		place(i, v_[best]);
		i = best;
	}
	place(i, e);
}

} // namespace kevent::detail
