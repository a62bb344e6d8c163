#include "core/timer_heap.hpp"

namespace kevent::detail {

namespace {
constexpr size_t arity = 4;
}

void timer_heap::insert(knode *n) {
	v_.push_back(n);
	n->heap_pos = static_cast<uint32_t>(v_.size() - 1);
	sift_up(v_.size() - 1);
}

void timer_heap::erase(knode *n) {
	size_t i = n->heap_pos;
	if (i >= v_.size() || v_[i] != n)
		return;
	knode *last = v_.back();
	v_.pop_back();
	n->heap_pos = UINT32_MAX;
	if (i == v_.size())
		return;
	place(i, last);
	update(last);
}

void timer_heap::update(knode *n) {
	size_t i = n->heap_pos;
	if (i > 0 && v_[(i - 1) / arity]->expiry > n->expiry)
		sift_up(i);
	else
		sift_down(i);
}

void timer_heap::sift_up(size_t i) {
	knode *n = v_[i];
	while (i > 0) {
		size_t p = (i - 1) / arity;
		if (v_[p]->expiry <= n->expiry)
			break;
		place(i, v_[p]);
		i = p;
	}
	place(i, n);
}

void timer_heap::sift_down(size_t i) {
	knode *n = v_[i];
	size_t size = v_.size();
	for (;;) {
		size_t first = i * arity + 1;
		if (first >= size)
			break;
		size_t best = first;
		size_t end = first + arity < size ? first + arity : size;
		for (size_t c = first + 1; c < end; c++)
			if (v_[c]->expiry < v_[best]->expiry)
				best = c;
		if (v_[best]->expiry >= n->expiry)
			break;
		place(i, v_[best]);
		i = best;
	}
	place(i, n);
}

} // namespace kevent::detail
