// SPDX-License-Identifier: MIT
// watch_table — the queue's watches of file descriptors, and every backend
// call that starts, changes or stops one.
//
// One fd_watch per watched fd number, shared by every kevent of the queue on
// that fd (SOCKET and POLL on one socket, say): the backend allows one watch
// per fd, so the table merges their interests (sync). Hidden watches carry
// the library's own fds (fd_source: eventfds, inotify, pidfds) and are never
// found by number, so a user's kevent on the same number never joins one.
//
// A watch is named to the backend by a token = generation << 32 | slot (the
// layout of every token: backend/backend.hpp), so a
// report that arrives after the watch was destroyed (the kernel keeps an
// epoll item as long as the *file* lives, even after the user closed the
// number) is recognised and dropped.
//
// A kevent leaves its watch in one place, detach(): the watch follows what
// the others on the fd want, or, when nobody is left, goes dormant: the
// backend keeps its item, silent (backend::quiet, one EPOLL_CTL_MOD instead
// of the EPOLL_CTL_DEL), and an ADD of the same number re-arms it for the new
// kevent alone — what the removed kevents asked for goes with them — with one
// change that also tells whether the number still names the file (revive) —
// then the file's kind is known too, and the ADD pays no fstat(2). A REMOVE
// then ADD of one socket is two EPOLL_CTL_MODs, as cheap as raw epoll's DEL
// and ADD. A number found to name another file at the ADD (the program
// closes after REMOVE: a server's connections) makes its next watch leave
// the backend at once, as before, so that pattern pays no failed re-arm.
// Where the backend cannot keep an item silently (io_uring: a poll holds
// the file open; an exclusive epoll item cannot be changed) the watch
// leaves the backend and is destroyed.
//
// LOCKING: the queue lock guards the table; every member function asserts
// it (debug builds). The table never takes a lock itself.
#pragma once

#include "backend/backend.hpp"
#include "core/knode.hpp"
#include "sys/adaptive_mutex.hpp"

#include <memory>
#include <vector>

namespace kevent::detail {

struct fd_source;

struct fd_watch {
	int fd = -1;
	uint32_t slot = 0;
	uint32_t gen = 0;
	// What the backend was last told (while dormant: backend::quiet_mode).
	watch_mode armed;
	bool in_backend = false;
	// Kevents on the ready list lend no interest to the backend watch until
	// one of them is delivered (watch_table::park).
	bool parked = false;
	// No kevent is on it; the backend keeps its item, silent.
	bool dormant = false;
	// revive() re-armed it in this ADD: the kernel has just looked at the
	// file, so the ADD's look for readiness sees it (attach).
	bool fresh = false;
	// The file's type (st_mode & S_IFMT) once an ADD asked fstat(2), else
	// 0: valid as long as the number names the watched file.
	uint16_t kind = 0;
	knode *head = nullptr;       // kevents on this fd
	fd_source *source = nullptr; // or: an fd the library owns

	uint64_t token() const { return (uint64_t(gen) << 32) | slot; }
};

class watch_table {
public:
	// `backend_closing`: the queue's flag that the backend must not be
	// called again (the queue is closing: its epoll file goes with it, so
	// taking each fd out first would be a wasted system call each).
	watch_table(backend &be, const bool &backend_closing, const sys::adaptive_mutex &mu)
	    : be_(be), backend_closing_(backend_closing), mu_(mu) {}

	// The visible watch of fd, or null.
	fd_watch *find(int fd) const {
		mu_.assert_held();
		if (fd < 0 || static_cast<size_t>(fd) >= by_fd_.size() || by_fd_[fd] == 0)
			return nullptr;
		return slots_[by_fd_[fd] - 1].get();
	}
	// The watch a backend report names, or null if it was destroyed since.
	fd_watch *from_token(uint64_t token) const {
		mu_.assert_held();
		uint32_t slot = static_cast<uint32_t>(token);
		if (slot >= slots_.size())
			return nullptr;
		fd_watch *w = slots_[slot].get();
		return (w->gen == uint32_t(token >> 32) && w->fd >= 0) ? w : nullptr;
	}
	// Watches that exist (visible and hidden).
	size_t live() const {
		mu_.assert_held();
		return slots_.size() - free_.size();
	}

	// ADD of e on the number of a dormant watch: re-arm it for e alone, as
	// a new watch would be (one change in the backend), which checks that
	// the number still names its file. w, or null if it does not (w is
	// then destroyed; the kernel drops its silent item with the old file).
	fd_watch *revive(fd_watch *w, const ukevent &e);
	// The ADD that found w (revived, or checked) failed before attaching:
	// a watch nobody is on goes back to sleep.
	void release(fd_watch *w);
	// The kind an ADD learned of n's file (st_mode).
	void note_kind(knode *n, unsigned mode);

	// ADD: n joins the watch of its fd (made if there is none), and the
	// backend is told what every kevent there wants now. 0, or the
	// backend's -errno (n is then on no watch, the others are as before).
	// `joined`: the watch was in the backend already, so the kernel takes
	// no look at the file for n.
	int attach(knode *n, bool &joined);

	// n leaves its watch (delivery, REMOVE, close): the backend follows what
	// the others on the fd want, and a watch nobody is left on is stopped
	// and destroyed. Returns the watch if the backend refused the change —
	// the file is gone for the others too, and the caller breaks them
	// (break_all) — else null.
	[[nodiscard]] fd_watch *detach(knode *n);

	// MODIFY: tell the backend what w's kevents want now even if nothing
	// changed, which makes the kernel look at the file again. 0 or -errno.
	int rearm(fd_watch *w) { return sync(w, true); }

	// A level watch that the poller found reporting only kevents that wait
	// on the ready list already (the caller asked for more than are ready,
	// or a full ring has no room): epoll reports a level item at every
	// epoll_wait and io_uring re-arms a level poll after each report, so the
	// blocking wait would return at once, again and again, at 100% CPU until
	// its timeout (tests/regress/wait_busy_spins_test). Take those kevents'
	// interest out of the watch until one of them is delivered (unpark). A
	// kevent that is not queued keeps its interest.
	void park(fd_watch *w);
	// One of w's kevents was delivered: its interest counts again.
	void unpark(fd_watch *w);

	// The file behind w is gone: take every kevent off it, calling
	// on_kevent(n) for each (which delivers it BROKEN), and stop and
	// destroy the watch.
	template <class F> void break_all(fd_watch *w, F &&on_kevent) {
		mu_.assert_held();
		while (knode *n = w->head) {
			unlink(n);
			on_kevent(n);
		}
		stop(w);
	}

	// Watch src's fd for `events` (POLL* bits), edge-triggered, on a hidden
	// watch (arm_source). 0 or -errno.
	int watch_source(fd_source &src, int fd, uint32_t events);
	// Start (src unwatched) or change src's hidden watch of fd to `mode`
	// in one backend change. A change fails with -ENOENT/-EBADF when the
	// number no longer names the watched file (the caller unwatches and
	// starts again). 0 or -errno.
	int arm_source(fd_source &src, int fd, const watch_mode &mode);
	void unwatch_source(fd_source &src);

private:
	// Tell the backend what the kevents on w want now (their merged
	// interest); a watch with none left is stopped. `force` re-arms even
	// if nothing changed. 0 or -errno.
	int sync(fd_watch *w, bool force);
	// Nobody is left on w: dormant if the backend can keep it silently,
	// else stopped.
	void retire(fd_watch *w);
	// Out of the backend (if there) and destroyed.
	void stop(fd_watch *w);
	// The number's last dormant watch met another file at the next ADD.
	bool closes_after_remove(int fd) const {
		return static_cast<size_t>(fd) < reused_.size() && reused_[fd];
	}

	// The slots.
	fd_watch *create(int fd);
	fd_watch *create_hidden(int fd);
	void destroy(fd_watch *w);
	static void link(fd_watch *w, knode *n);
	static void unlink(knode *n);

	backend &be_;
	const bool &backend_closing_;
	const sys::adaptive_mutex &mu_;
	std::vector<uint32_t> by_fd_; // fd -> slot + 1 (0: none)
	std::vector<uint8_t> reused_; // fd -> closes_after_remove
	std::vector<std::unique_ptr<fd_watch>> slots_;
	std::vector<uint32_t> free_;
};

} // namespace kevent::detail
