// SPDX-License-Identifier: MIT
// ready_list — intrusive FIFO of ready knodes; a knode is on it at most once
// (notifications while it waits are coalesced into its ret_data).
#pragma once

#include "core/knode.hpp"

#include <cstddef>
#include <cstdint>

namespace kevent::detail {

class ready_list {
public:
	bool empty() const { return head_ == nullptr; }
	size_t size() const { return size_; }
	knode *front() const { return head_; }
	// Knodes queued so far: a call tells by it whether it queued anything.
	uint64_t pushes() const { return pushes_; }

	// false if it was already queued.
	bool push(knode *n) {
		if (n->has(on_ready))
			return false;
		n->flags |= on_ready;
		n->rnext = nullptr;
		n->rprev = tail_;
		if (tail_)
			tail_->rnext = n;
		else
			head_ = n;
		tail_ = n;
		size_++;
		pushes_++;
		return true;
	}

	void unlink(knode *n) {
		if (!n->has(on_ready))
			return;
		(n->rprev ? n->rprev->rnext : head_) = n->rnext;
		(n->rnext ? n->rnext->rprev : tail_) = n->rprev;
		n->rnext = n->rprev = nullptr;
		n->flags &= ~on_ready;
		size_--;
	}

private:
	knode *head_ = nullptr, *tail_ = nullptr;
	size_t size_ = 0;
	uint64_t pushes_ = 0;
};

} // namespace kevent::detail
