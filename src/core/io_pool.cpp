// SPDX-License-Identifier: MIT
#include "core/io_pool.hpp"

#include "core/queue.hpp"

#include <cerrno>
#include <condition_variable>
#include <deque>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/sendfile.h>
#include <unistd.h>

namespace kevent::detail::io_pool {
namespace {

struct pool_state {
	std::mutex mu;
	std::condition_variable work, finished;
	std::deque<std::shared_ptr<io_job>> jobs;
	int threads = 0, idle = 0;
};

pool_state &pool() {
	static auto *s = new pool_state; // never destroyed: detached threads use it
	return *s;
}

// fork(2). The pool's threads do not survive it: the child starts afresh,
// and what the parent queued or was running is the parent's. `prepare`
// takes the pool's lock so that no worker is in the middle of changing the
// job list when memory is copied (the child used to walk a deque a worker
// was popping: use-after-free). The parent's handler just lets go; the
// child's, holding the lock, empties the list — each entry only drops a
// count on a job its queue still holds (inherited queues are never freed
// in the child) — and lets go. The condition variables are made anew: the
// parent's idle workers were waiting on them, and a signal in the child
// could go to a waiter that no longer exists.
const int fork_reset = pthread_atfork([] { pool().mu.lock(); }, [] { pool().mu.unlock(); },
				      [] {
					      pool_state &s = pool();
					      new (&s.work) std::condition_variable;
					      new (&s.finished) std::condition_variable;
					      for (auto &j : s.jobs)
						      j->state = io_job::done;
					      s.jobs.clear();
					      s.threads = s.idle = 0;
					      s.mu.unlock();
				      });

void deliver(io_job &job) {
	std::lock_guard lk(job.home->mu);
	if (job.home->q)
		job.home->q->complete_pooled(job);
}

void *worker(void *) {
	pool_state &s = pool();
	std::unique_lock lk(s.mu);
	for (;;) {
		while (s.jobs.empty()) {
			s.idle++;
			s.work.wait(lk);
			s.idle--;
		}
		std::shared_ptr<io_job> job = std::move(s.jobs.front());
		s.jobs.pop_front();
		job->state = io_job::running;
		lk.unlock();
		int64_t r = run(*job);
		lk.lock();
		job->result = r;
		job->state = io_job::done;
		s.finished.notify_all();
		lk.unlock();
		// A REMOVE that came first took the result (or cancelled
		// the operation before it ran): the queue then ignores this.
		deliver(*job);
		lk.lock();
	}
}

int start_thread() {
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_t t;
	int e = pthread_create(&t, &attr, worker, nullptr);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, nullptr);
	return -e;
}

// sendfile without waiting for the socket: a socket that is full (a
// non-blocking one says EAGAIN) sends the job back to its queue, which
// waits for room by readiness. A socket that has room while sendfile still
// says EAGAIN means the *input* would block (an empty non-blocking pipe):
// that is the operation's result.
int64_t sendfile_job(io_job &job) {
	io_request &rq = job.rq;
	off_t off = rq.off;
	ssize_t n = ::sendfile(rq.fd, rq.fd2, rq.off < 0 ? nullptr : &off, rq.len);
	if (n >= 0)
		return n;
	if (errno != EAGAIN)
		return -errno;
	pollfd p{rq.fd, POLLOUT, 0};
	if (::poll(&p, 1, 0) == 1 && (p.revents & POLLOUT)) {
		// Room now: the peer read in between, or the input is dry.
		n = ::sendfile(rq.fd, rq.fd2, rq.off < 0 ? nullptr : &off, rq.len);
		if (n >= 0)
			return n;
		if (errno != EAGAIN)
			return -errno;
		if (::poll(&p, 1, 0) == 1 && (p.revents & POLLOUT))
			return -EAGAIN;
	}
	return retry_when_writable;
}

} // namespace

int64_t run(io_job &job) {
	(void)fork_reset;
	io_request &rq = job.rq;
	ssize_t n = -1;
	switch (rq.op) {
	case io_op::read:
		n = rq.off < 0 ? ::read(rq.fd, rq.buf, rq.len)
			       : ::pread(rq.fd, rq.buf, rq.len, rq.off);
		break;
	case io_op::write:
		n = rq.off < 0 ? ::write(rq.fd, rq.buf, rq.len)
			       : ::pwrite(rq.fd, rq.buf, rq.len, rq.off);
		break;
	case io_op::fsync:
		n = rq.flags ? ::fdatasync(rq.fd) : ::fsync(rq.fd);
		break;
	case io_op::sendfile:
		return sendfile_job(job);
	default:
		return -EINVAL; // socket operations never come here
	}
	return n < 0 ? -errno : n;
}

int submit(const std::shared_ptr<io_job> &job) {
	pool_state &s = pool();
	std::lock_guard lk(s.mu);
	if (s.idle == 0 && s.threads < max_threads) {
		if (int r = start_thread(); r < 0) {
			if (s.threads == 0)
				return r;
		} else {
			s.threads++;
		}
	}
	s.jobs.push_back(job);
	s.work.notify_one();
	return 0;
}

bool cancel(const std::shared_ptr<io_job> &job, int64_t &result) {
	pool_state &s = pool();
	std::unique_lock lk(s.mu);
	if (job->state == io_job::queued) {
		for (auto it = s.jobs.begin(); it != s.jobs.end(); ++it)
			if (*it == job) {
				s.jobs.erase(it);
				break;
			}
		job->state = io_job::done;
		return false;
	}
	s.finished.wait(lk, [&] { return job->state == io_job::done; });
	result = job->result;
	return true;
}

} // namespace kevent::detail::io_pool
