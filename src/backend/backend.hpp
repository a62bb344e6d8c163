// SPDX-License-Identifier: MIT
// backend — the small interface between the queue and the kernel mechanism.
//
// The queue speaks in its own vocabulary: "tell me when fd F has events M"
// (watch/unwatch), "deadline T on clock C" (arm_deadline), "wake whoever
// waits" (wake), and "wait until something happens" (wait). Origins never see
// epoll_event or io_uring_cqe. A backend reports fd readiness as
// (token, poll bits) completions; internal events (wake-ups, deadlines) make
// wait() return but are not reported.
//
// Threading: wait() is called by at most one thread at a time (the queue's
// poller), without the queue lock. Every other method is called with the
// queue lock held, except wake(), which may be called from any thread and
// from a signal handler, and probe_queue_descriptor(), which the descriptor
// table calls on every lookup without it (it reads only descriptors fixed
// at kevent_init).
#pragma once

#include "sys/unique_fd.hpp"

#include <kevent/kevent.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <sys/socket.h>

namespace kevent::detail {

struct backend_event {
	uint64_t token;  // what watch() or start_io() was given
	uint32_t events; // fd readiness: POLL* bits
	int32_t result;  // I/O completion: bytes (accept: the fd) or -errno;
			 // fd watch: 0, or -errno when the kernel refused it (watch())
			 // No default member initialisers: the core's 256-entry arrays on the
			 // stack would be zeroed on every wait (4 KB a call, 8% of a ping-pong's
			 // time); backends fill all three (aggregate init sets a missing result
			 // to 0).
};

// The token layout, the one place it is written down. A 64-bit token names
// what a backend_event (or, on io_uring, an SQE's user_data) is about, by its
// top two bits:
// - bit 63 (backend_own_bit): the backend's own — a wake-up, a deadline, a
//   request whose completion is ignored; never reported to the core. The
//   low byte says which (own_kind), the bits above it a sequence number
//   where one is needed (own_token);
// - bit 62 (io_token_bit): an asynchronous I/O request of start_io(); the
//   core's AIO id below it (origin/aio.hpp: bit 61 tells NAIO from AIO);
// - neither: an fd watch, the core's watch token generation << 32 | slot
//   (core/watch_table.hpp), the generation under 2^30 (seq_mask) so that bits
//   62 and 63 stay clear. io_uring's polls carry the backend's own number
//   in the same shape, seq << 32 | fd, and report the core's token.
constexpr uint64_t backend_own_bit = 1ull << 63;
constexpr uint64_t io_token_bit = 1ull << 62;
constexpr uint32_t seq_mask = (1u << 30) - 1;

enum own_kind : uint64_t {
	own_ignore = 0,   // a completion that only ends a wait (io_uring's cancels, updates)
	own_wake = 1,     // wake()
	own_ready = 2,    // set_ready()'s eventfd (epoll)
	own_deadline = 3, // arm_deadline(); io_uring: + the clock (3 to 5)
	own_watch_set = 6 // io_uring: the watch set's EPOLL_CTL_ADD failed (seq: the slot)
};
constexpr uint64_t own_token(uint64_t kind, uint64_t seq = 0) {
	return backend_own_bit | seq << 8 | kind;
}

// One asynchronous operation. The core keeps it (and the buffers it points
// to) alive until its completion is reported or cancel_io() returned.
enum class io_op : uint8_t { read, write, fsync, recv, send, accept, connect, sendfile };
struct io_request {
	io_op op = io_op::read;
	int fd = -1;
	int fd2 = -1; // sendfile: the file read from
	void *buf = nullptr;
	size_t len = 0;
	int64_t off = -1; // read/write/sendfile offset; -1: the file position
	int flags = 0;    // recv/send MSG_*, accept SOCK_*, fsync datasync
	sockaddr_storage addr{};
	socklen_t addrlen = 0;
};

// What a cancel_io() found (see there).
enum class io_cancel : uint8_t { cancelled, completed, reported };

// How an fd is watched.
struct watch_mode {
	uint32_t events = 0;    // POLL* bits
	bool level = false;     // level- (else edge-) triggered
	bool exclusive = false; // wake one of the queues watching the file
	// Report once more at most, then stay quiet until watched again: a
	// level watch whose kevents all wait on the ready list already would
	// otherwise report at every look and turn a blocking wait into a spin
	// (watch_table::park).
	bool oneshot = false;
	// A descriptor the library owns (a signal's, an inode's, a process's
	// source): the kernel watches it by the end of the call that asked,
	// so that its event makes the queue's descriptor readable for a
	// program that polls it. (io_uring arms a program's file at the next
	// wait instead, to report what holds then; a source's spurious report
	// only makes its origin look and find nothing.)
	bool at_once = false;
	bool operator==(const watch_mode &) const = default;
};

enum class descriptor_match { same, different, not_open };

// Why epoll refused to watch a file, in the words of kevent_ctl(3): what
// the core says for a synchronous refusal of watch() and io_uring for one
// its mirror set reports later.
inline int watch_errno(int err) {
	switch (err) {
	case EPERM:  // a file epoll cannot watch (regular file, directory)
	case ELOOP:  // a queue watching itself, directly or not
	case EINVAL: // the queue's own descriptor
		return EINVAL;
	case ENOSPC: // fs.epoll.max_user_watches
		return ENOMEM;
	default:
		return err;
	}
}

enum class clock_kind : uint8_t { monotonic, realtime, boottime };
constexpr int clock_count = 3;

// The part both backends share is not virtual: the queue's descriptor (an
// epoll file), its wake and ready eventfds, the probes. What stays virtual
// is what each kernel mechanism does its own way.
class backend {
public:
	virtual ~backend() = default;

	// KEVENT_BACKEND_* of kevent.h.
	unsigned kind() const { return kind_; }

	// The pollable file that represents the queue; readable while wait()
	// would return at once. The backend owns it.
	int descriptor() const { return epfd_.get(); }

	// Start (was == null) or change watching fd for `want`, reporting
	// `token`. 0 or -errno. A backend that hands a new watch to the kernel
	// in the batch's submission (io_uring) may learn only then that the
	// kernel refuses it: the next wait() reports {token, POLLERR | POLLNVAL,
	// -errno in kevent_ctl(3)'s words} once, and the watch is gone (an
	// unwatch() finds nothing).
	virtual int watch(int fd, const watch_mode &want, const watch_mode *was,
			  uint64_t token) = 0;
	// Stop watching fd. 0 or -errno (ENOENT/EBADF when the kernel already
	// forgot it because the file was closed).
	virtual int unwatch(int fd) = 0;
	// Stop reporting fd (watched as `was`) but keep what the kernel holds
	// for it, so that a later watch(fd, want, &quiet_mode, token) re-arms it
	// in one change — which fails if the number no longer names the file.
	// Reports one hang-up at most meanwhile. 0, -EOPNOTSUPP where that is
	// not cheaper than unwatch() or not harmless (the caller unwatches
	// instead), or -errno (ENOENT/EBADF: the kernel forgot the file).
	static constexpr watch_mode quiet_mode{0, false, false, true};
	virtual int quiet(int fd, const watch_mode &was, uint64_t token) {
		(void)fd;
		(void)was;
		(void)token;
		return -EOPNOTSUPP;
	}
	// The queue calls this when a library call ends: a backend that defers
	// changes to its next wait must hand the kernel now those the caller
	// may depend on before then (io_uring: a removed watch's poll holds its
	// file open, so a close(2) right after REMOVE would not close the
	// socket; a deadline or a source's poll not yet in the kernel cannot
	// make the descriptor readable).
	virtual void flush_changes() {}

	// A report's POLL bits are what woke the file's wait queue, not what
	// the file says when the report is reaped (io_uring: a poll's CQE
	// carries the wake-up's key), so a kevent that comes back only if
	// ready at that moment (KEVENT_REQ_ET) is looked at again before it
	// is delivered. epoll looks at the file itself when it reports.
	bool reports_wakeups() const { return kind_ == KEVENT_BACKEND_URING; }

	// Wait up to timeout_ns (-1: no limit, 0: do not block) for readiness;
	// write up to max completions. Returns how many, or -errno (-EINTR
	// when a signal handler ran). Sets
	// `woken` when it consumed a wake() (a caller that was not the one to
	// be woken must pass it on with another wake()).
	virtual int wait(backend_event *out, int max, int64_t timeout_ns, bool &woken) = 0;

	// Make a current or the next wait() return. Async-signal-safe; needs
	// no clearing.
	void wake() noexcept;
	// Keep the descriptor readable (and wait() returning at once) while
	// `on`: the queue sets it while its ready list is not empty, so a
	// queue nested in another poller reports POLLIN.
	void set_ready(bool on);

	// Make wait() return once clock reaches abs_ns. 0 or -errno.
	virtual int arm_deadline(clock_kind clock, int64_t abs_ns) = 0;

	// Is `fd` (a number the caller was given) still this backend's
	// descriptor? Checked on every call with one cheap system call, so a
	// number closed with close(2) and reused never reaches the old queue.
	descriptor_match probe_queue_descriptor(int fd) const;

	// Is `fd` still the file that watch() was given for that number? (The
	// number may have been closed and reused; the kernel keeps watching the
	// old file as long as it lives.) One cheap syscall, no side effect.
	virtual descriptor_match probe_watched(int fd);

	// fork(2) child, a queue it inherited (kevent_close): close this
	// process's copies of the backend's descriptors and nothing else — no
	// lock (a vanished thread may hold it), no request to the kernel objects
	// the parent goes on using, nothing freed. The caller has checked that
	// the queue's own number is open in the child, so the descriptors opened
	// before it (at kevent_init) are too; one opened later is closed only if
	// a probe shows its number still names that file: fork(2) copies the
	// descriptor table before memory, and a number in memory may be free,
	// or another file, in the child. A backend closes its own, then calls
	// close_inherited_descriptor().
	virtual void close_inherited() noexcept = 0;

	// System calls made so far (statistics).
	uint64_t calls() const { return calls_.load(std::memory_order_relaxed); }

	// Run rq natively; its completion comes out of wait() as a
	// backend_event {token, 0, result}. 0, or -EOPNOTSUPP when this
	// backend has no native path for it (the core then runs it itself).
	virtual int start_io(const io_request &rq, uint64_t token) {
		(void)rq;
		(void)token;
		return -EOPNOTSUPP;
	}
	// Cancel a start_io() request; returns once the kernel no longer
	// touches its buffers, saying what became of it:
	// - cancelled: it ended before it touched the file or socket; nothing
	//   is reported;
	// - completed: it ran (the cancellation lost the race); its result is
	//   in `result` and is not reported by wait();
	// - reported: it ran and its completion has left the backend already
	//   (returned by, or waiting for, the next wait()).
	virtual io_cancel cancel_io(uint64_t token, int32_t &result) {
		(void)token;
		(void)result;
		return io_cancel::cancelled;
	}

protected:
	explicit backend(unsigned kind) : kind_(kind) {}

	// Open the queue's descriptor: the epoll file epfd_ with the wake
	// eventfd in it (edge-triggered, own_wake) and the ready eventfd
	// (level-triggered, own_ready). 0 or -errno. `wake_reported`: false
	// where the backend does not wait on epfd_ (io_uring): the wake item
	// is then added with no event bits — the EEXIST probe still finds it —
	// because an edge-triggered item leaves epoll's ready list only when an
	// epoll_wait on that file takes it, and the never-read eventfd kept
	// the descriptor readable for a poller outside forever after one
	// wake-up (kevent_ctl READY with num 0).
	int open_descriptor(bool wake_reported = true);
	// close_inherited()'s part for those three.
	void close_inherited_descriptor() noexcept;
	// The wake eventfd (io_uring polls it).
	int wake_fd() const { return wakefd_.get(); }

	// One more system call (a syscall costs far more than this atomic add).
	void count() const { calls_.fetch_add(1, std::memory_order_relaxed); }

	sys::unique_fd epfd_; // the queue's descriptor
	// The epoll set whose items are the watched files, keyed by (file,
	// number) as probe_watched() needs: epfd_ itself (epoll) or a private
	// mirror (io_uring, where a poll names a file, not a number).
	int watch_set_ = -1;

private:
	const unsigned kind_;
	sys::unique_fd wakefd_, readyfd_;
	mutable std::atomic<uint64_t> calls_{0}; // wake() may run on any thread
};

// 0 and a backend, or -errno and null. `flags` are kevent_init's backend bits.
int make_backend(unsigned flags, std::unique_ptr<backend> &out);

std::unique_ptr<backend> make_epoll_backend(int &err);
// -ENOSYS when the kernel lacks what the backend needs (or io_uring is
// disabled, or KEVENT_URING_DISABLE is set).
std::unique_ptr<backend> make_uring_backend(int &err);

} // namespace kevent::detail
