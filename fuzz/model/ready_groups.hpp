// SPDX-License-Identifier: MIT
// ready_groups — the model's ready list (kevent(7) "The model": FIFO, each
// kevent on it at most once). kevent_get_events(3) takes events in the order
// they became ready; events that one look at the backend finds together (one
// epoll_wait, one batch of completions) became ready "at once" and a backend
// may report them in any order. So the list is a FIFO of *groups*: order
// between groups is checked, order inside a group is not.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

namespace kevent_model {

class ready_groups {
public:
	// Between open() and close(), pushes join one group.
	void open() {
		if (depth_++ == 0)
			joining_ = false;
	}
	void close() { --depth_; }

	void push(uint64_t h) {
		if (depth_ > 0 && joining_) {
			groups_.back().push_back(h);
		} else {
			groups_.push_back({h});
			joining_ = depth_ > 0;
		}
		size_++;
	}

	void unlink(uint64_t h) {
		for (auto it = groups_.begin(); it != groups_.end(); ++it) {
			auto pos = std::find(it->begin(), it->end(), h);
			if (pos == it->end())
				continue;
			it->erase(pos);
			size_--;
			if (it->empty()) {
				bool was_back = std::next(it) == groups_.end();
				groups_.erase(it);
				if (was_back)
					joining_ = false; // the open group is gone
			}
			return;
		}
	}

	size_t size() const { return size_; }
	bool empty() const { return size_ == 0; }
	const std::deque<std::vector<uint64_t>> &groups() const { return groups_; }

private:
	std::deque<std::vector<uint64_t>> groups_;
	size_t size_ = 0;
	int depth_ = 0;
	bool joining_ = false; // the back group is the open one
};

} // namespace kevent_model
