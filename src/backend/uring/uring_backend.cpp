// SPDX-License-Identifier: MIT
// io_uring backend: set-up (the features and opcodes it needs, else
// ENOSYS), close (I/O in flight drained, the rest left to the ring's
// teardown) and a fork child's close (the ledger: uring_backend.hpp).
#include "backend/uring/uring_backend.hpp"

#include <cerrno>
#include <cstdlib>
#include <sys/epoll.h>
#include <unistd.h>

// Newer than liburing 2.3's headers on some systems; the values are ABI.
#ifndef IORING_SETUP_SUBMIT_ALL
#define IORING_SETUP_SUBMIT_ALL (1U << 7)
#endif
#ifndef IORING_FEAT_CQE_SKIP
#define IORING_FEAT_CQE_SKIP (1U << 11)
#endif

namespace kevent::detail {
namespace {

// 2048: an ADD batch of 1,000 new watches (a poll and the mirror's ADD
// each, and the fixed-file update they share) or its REMOVE batch fits,
// submitted by the batch's one look (128 KiB of SQEs); a larger batch
// costs one more io_uring_enter per 2,048 SQEs.
constexpr unsigned sq_entries = 2048;
constexpr unsigned cq_entries = 4096;

constexpr uint8_t needed_ops[] = {
	IORING_OP_POLL_ADD,     IORING_OP_POLL_REMOVE, IORING_OP_TIMEOUT, IORING_OP_TIMEOUT_REMOVE,
	IORING_OP_ASYNC_CANCEL, IORING_OP_READ,        IORING_OP_WRITE,   IORING_OP_FSYNC,
	IORING_OP_RECV,         IORING_OP_SEND,        IORING_OP_ACCEPT,  IORING_OP_CONNECT,
	IORING_OP_FILES_UPDATE,
};
constexpr unsigned needed_features = IORING_FEAT_NODROP | IORING_FEAT_EXT_ARG |
				     IORING_FEAT_FAST_POLL | IORING_FEAT_RW_CUR_POS |
				     IORING_FEAT_CQE_SKIP;

} // namespace

uring_backend::~uring_backend() {
	if (!ring_ok_)
		return;
	// A fork child shares the ring with its parent: the requests are
	// the parent's, and so are the buffers.
	if (getpid() == pid_)
		retire_all();
	// The teardown (a kernel worker) then sends task work with a
	// signal notification to each thread that submitted here: its
	// next blocking call may end with EINTR once, which the queue's
	// wait loop takes in its stride (docs/semantics.md).
	io_uring_queue_exit(&ring_);
}

int uring_backend::init() {
	if (const char *e = std::getenv("KEVENT_URING_DISABLE"); e && *e && *e != '0')
		return -ENOSYS;
	io_uring_params p{};
	p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP | IORING_SETUP_SUBMIT_ALL;
	p.cq_entries = cq_entries;
	int r = io_uring_queue_init_params(sq_entries, &ring_, &p);
	if (r == -EINVAL) { // before 5.18: no SUBMIT_ALL
		p = io_uring_params{};
		p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
		p.cq_entries = cq_entries;
		r = io_uring_queue_init_params(sq_entries, &ring_, &p);
	}
	if (r < 0)
		return r == -EPERM || r == -EINVAL ? -ENOSYS : r; // disabled, or too old
	ring_ok_ = true;
	pid_ = getpid();
	if ((p.features & needed_features) != needed_features)
		return -ENOSYS;
	io_uring_probe *probe = io_uring_get_probe_ring(&ring_);
	if (!probe)
		return -ENOSYS;
	bool all = true;
	for (uint8_t op : needed_ops)
		all &= io_uring_opcode_supported(probe, op) != 0;
	// The mirror's changes as SQEs where the kernel has the opcode (it
	// may be built without it), epoll_ctl calls otherwise (the ledger).
	async_mirror_ = io_uring_opcode_supported(probe, IORING_OP_EPOLL_CTL) != 0;
	io_uring_free_probe(probe);
	if (!all)
		return -ENOSYS;

	// The queue's descriptor (the base's epoll file with its wake and
	// ready eventfds) holds the ring fd too; the mirror is ours.
	// The ring polls the wake eventfd itself (arm_wake): its CQE is what
	// a poller of the descriptor sees, once, until a harvest reaps it.
	if (r = open_descriptor(false); r < 0)
		return r;
	shadow_.reset(epoll_create1(EPOLL_CLOEXEC));
	if (!shadow_)
		return -errno;
	watch_set_ = shadow_.get();
	epoll_event ev{};
	ev.events = EPOLLIN;
	if (epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, ring_.ring_fd, &ev) < 0)
		return -errno;
	std::lock_guard lk(mu_);
	arm_wake();
	return 0;
}

// Everything here was opened at kevent_init. The rings' mappings go
// too: each holds the ring's file, which would keep the parent's
// requests alive after the parent closed its queue.
void uring_backend::close_inherited() noexcept {
	if (ring_ok_) {
		io_uring_queue_exit(&ring_); // unmaps and closes; no request
		ring_ok_ = false;
	}
	if (shadow_)
		::close(shadow_.release());
	close_inherited_descriptor();
}

std::unique_ptr<backend> make_uring_backend(int &err) {
	auto b = std::make_unique<uring_backend>();
	err = b->init();
	if (err < 0)
		return nullptr;
	return b;
}

} // namespace kevent::detail
