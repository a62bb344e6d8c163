// SPDX-License-Identifier: MIT
// io_uring backend: the fixed-file table — a watched file is installed at
// the slot of its number, so that a poll armed again later names the file
// itself, never whatever the number names by then (the ledger:
// uring_backend.hpp).
//
// LOCKING: every function here runs under mu_ (uring_backend.hpp).
#include "backend/uring/uring_backend.hpp"

#include <sys/mman.h>
#include <sys/resource.h>

namespace kevent::detail {
namespace {

// The largest fixed-file table a queue registers (8 bytes a slot in the
// kernel): numbers past it are polled by number.
constexpr unsigned fixed_max = 1u << 16;
// How many empty slots one FILES_UPDATE may cover to join two watches.
constexpr unsigned max_update_gap = 8;

} // namespace

// At the first watch, with what may throw (before anything is to undo):
// the table and its values (-1: empty), then its registration — one
// io_uring_register in the queue's life. Failing (before 5.19), numbers.
void uring_backend::prepare_fixed() {
	if (fixed_tried_)
		return;
	rlimit rl{};
	unsigned n = fixed_max;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < n)
		n = static_cast<unsigned>(rl.rlim_cur);
	// Mapped, not from the heap: like malloc's own large blocks, but
	// past the sanitizers' allocator, whose size-class locks a fork
	// child could inherit held (GCC 12's ASan: fork_under_load_test's
	// children, each watching from a new queue, hung in operator new
	// while parent threads made queues). Without it, numbers.
	fixed_tried_ = true;
	void *mem = mmap(nullptr, size_t(n) * sizeof(int), PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return;
	// Not filled with -1: a slot's value is written before any
	// update reads it (update_fixed), so only the pages of numbers
	// in use are ever touched, and unmapping the rest at close costs
	// nothing (filled, 20,000 slots cost 50 us of kevent_close).
	fixed_fds_.reset(static_cast<int *>(mem), size_t(n) * sizeof(int));
	count();
	if (io_uring_register_files_sparse(&ring_, n) == 0)
		fixed_size_ = n;
	else
		fixed_fds_.reset();
}

// A new watch of fd: put its file in the table, in the submission that
// carries its first poll (issued before it). The number names the
// right file now: the mirror's EPOLL_CTL_ADD has just checked it, and
// the call that watches submits before it returns.
void uring_backend::install_fixed(int fd) {
	fd_slot &s = slots_[fd];
	s.fixed = false;
	if (static_cast<unsigned>(fd) >= fixed_size_)
		return; // polled by number (the ledger)
	update_fixed(fd, fd);
	s.fixed = true;
}

// The watch is gone: the table lets its file go (submitted by flush_changes()
// with the poll's cancel, before the call returns: REMOVE then close(2)
// must close the file).
void uring_backend::release_fixed(int fd) {
	fd_slot &s = slots_[fd];
	if (!s.fixed)
		return;
	s.fixed = false;
	update_fixed(fd, -1);
}

// The kernel reads the value when it issues the SQE: it lives in
// fixed_fds_ (stable, one per slot), and a later update of the same
// slot queued before then reads the same, final, value.
// Consecutive slots share one SQE (an ADD batch of sockets opened in a
// row): an update not handed to the kernel yet grows to cover `slot`
// when the slots between are empty (-1 for -1 changes nothing), so a
// batch costs about one SQE more, not twice as many.
void uring_backend::update_fixed(int slot, int value) {
	fixed_fds_[slot] = value;
	if (open_update_) {
		unsigned end = open_update_->off + open_update_->len;
		unsigned u = static_cast<unsigned>(slot);
		if (u >= open_update_->off && u < end)
			return; // covered: the kernel reads the value it has now
		bool gap_empty = u >= end && u - end <= max_update_gap;
		for (unsigned i = end; gap_empty && i < u; i++)
			gap_empty = !slots_[i].fixed;
		if (gap_empty) {
			for (unsigned i = end; i < u; i++)
				fixed_fds_[i] = -1; // empty, as it reads
			open_update_->len = u + 1 - static_cast<unsigned>(open_update_->off);
			return;
		}
	}
	io_uring_sqe *sqe = get_sqe();
	io_uring_prep_files_update(sqe, &fixed_fds_[slot], 1, slot);
	// Its success posts nothing: submitted at the end of a call
	// (flush_changes), a CQE would leave the queue's descriptor readable
	// with nothing to deliver until the next harvest.
	sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	sqe->user_data = own_token(own_ignore);
	open_update_ = sqe;
}

} // namespace kevent::detail
