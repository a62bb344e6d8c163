// SPDX-License-Identifier: MIT
// io_pool — a small process-wide pool of threads for the asynchronous I/O
// the kernel cannot do without blocking a thread: file reads, writes and
// fsyncs on the epoll backend, and the copy of sendfile on both (io_uring
// has no opcode for it). At most `max_threads` threads, started on demand,
// every signal blocked in them (kevent_aio_read(3): the library's threads
// never take a signal meant for the program's). A job never waits for a socket: sendfile to a full
// socket ends with `retry_when_writable`, and its queue waits for room by readiness
// (src/origin/aio.cpp), so slow peers cannot hold the pool's few threads.
//
// A job reports to its queue through an io_home, which the queue empties
// when it closes: a late job then finds nobody to tell.
//
// LOCKING: the pool's mutex guards its job list and each job's state and
// result. A worker reports holding io_home::mu, then the queue lock; a
// queue calls cancel() under its lock, which takes the pool's mutex only.
#pragma once

#include "backend/backend.hpp"

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
	int64_t result = 0; // once done
	// Its result has reached the queue, by the worker's report or by a
	// REMOVE that claimed it (queue lock): the other one does nothing.
	bool taken = false;
};

namespace io_pool {

constexpr int max_threads = 4;

// Queue a job; 0 or -errno (no thread could be started and none runs).
int submit(const std::shared_ptr<io_job> &job);

// Called under the queue lock by REMOVE or close: a queued job never runs
// (false); a running one is waited for, so that its buffers are free when
// this returns, and a job that ran gives its result (true). The caller
// marks the job taken.
bool cancel(const std::shared_ptr<io_job> &job, int64_t &result);

// A sendfile whose socket is full, having sent nothing: wait until it is
// writable, then run the job again.
constexpr int64_t retry_when_writable = INT64_MIN;

// The operation itself: bytes (accept: an fd), -errno, or
// retry_when_writable.
int64_t run(io_job &job);

} // namespace io_pool
} // namespace kevent::detail
