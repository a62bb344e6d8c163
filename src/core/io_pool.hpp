// io_pool — a small process-wide pool of threads for the asynchronous I/O
// the kernel cannot do without blocking a thread: file reads, writes and
// fsyncs on the epoll backend, and sendfile on both (io_uring has no opcode
// for it). At most `max_threads` threads, started on demand, every signal
// blocked in them (SPEC §8: the library's threads never take a signal).
//
// A job reports to its queue through an io_home, which the queue empties
// when it closes: a late job then finds nobody to tell.
#pragma once

#include "backend/backend.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

namespace kevent::detail {

class queue;

struct io_home {
	std::mutex mu;
	queue *q = nullptr; // null once the queue closes
};

struct io_job {
	std::shared_ptr<io_home> home;
	uint64_t token = 0;
	io_request rq;
	enum { queued, running, done } state = queued;
	std::atomic<bool> cancel{false}; // sendfile's waits look at it
};

namespace io_pool {

constexpr int max_threads = 4;

// Queue a job; 0 or -errno (no thread could be started and none runs).
int submit(const std::shared_ptr<io_job> &job);

// Called under the queue lock by REMOVE or close: a queued job never runs;
// a running one is waited for, so that its buffers are free when this
// returns. The job reports nothing afterwards.
void cancel(const std::shared_ptr<io_job> &job);

// The blocking operation itself: bytes (accept: an fd) or -errno.
int64_t run(io_job &job);

} // namespace io_pool
} // namespace kevent::detail
