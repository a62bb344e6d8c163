// SPDX-License-Identifier: MIT
// timer_heap.hpp — the timer structure of the raw-epoll floor: a binary
// min-heap of pointers, each timer knowing its position (O(log n) start and
// cancel), which is what a hand-written epoll loop would carry.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace bench {

struct heap_timer {
	uint64_t deadline = 0;
	size_t pos = SIZE_MAX; // SIZE_MAX: not in the heap
};

template <class T> class timer_heap {
public:
	bool empty() const { return v_.empty(); }
	T *top() const { return v_.front(); }

	void push(T *t) {
		t->pos = v_.size();
		v_.push_back(t);
		up(t->pos);
	}

	void erase(T *t) {
		size_t i = t->pos;
		T *last = v_.back();
		v_.pop_back();
		t->pos = SIZE_MAX;
		if (last == t)
			return;
		v_[i] = last;
		last->pos = i;
		up(i);
		down(last->pos);
	}

private:
	bool less(size_t a, size_t b) const { return v_[a]->deadline < v_[b]->deadline; }
	void swap(size_t a, size_t b) {
		std::swap(v_[a], v_[b]);
		v_[a]->pos = a;
		v_[b]->pos = b;
	}
	void up(size_t i) {
		while (i > 0 && less(i, (i - 1) / 2)) {
			swap(i, (i - 1) / 2);
			i = (i - 1) / 2;
		}
	}
	void down(size_t i) {
		for (;;) {
			size_t l = 2 * i + 1, m = i;
			if (l < v_.size() && less(l, m))
				m = l;
			if (l + 1 < v_.size() && less(l + 1, m))
				m = l + 1;
			if (m == i)
				return;
			swap(i, m);
			i = m;
		}
	}

	std::vector<T *> v_;
};

} // namespace bench
