// SPDX-License-Identifier: MIT
// kq.hpp — one kqueue of libkevent-kqueue: its knotes, the list of knotes
// with something to report, and the filters that map BSD kevents onto
// libkevent kevents (docs/kqueue.md has the mapping, filter by filter).
//
// A kqueue is a libkevent queue (its descriptor is the kqueue's number:
// pollable, nestable). Every libkevent kevent the layer registers carries the
// serial number of its knote as cookie, so a report that arrives after the
// knote was deleted finds no knote and is dropped.
//
// LOCKING: kq::mu guards every field of a kq and of its knotes. It is held
// around calls into libkevent's kevent_ctl (libkevent never calls back), and
// never around kevent_get_events, so other threads change and wait while one
// sleeps. The table of kqueues (kqueue.cpp) has its own mutex, taken before
// kq::mu and never while holding it.
#pragma once
#include <sys/event.h>

#include <kevent/kevent.h>

#include <csignal>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

namespace kqlayer {

struct knote {
	uint64_t serial = 0; // the cookie of its libkevent kevents
	uintptr_t ident = 0;
	short filter = 0;
	unsigned short flags = 0; // EV_ONESHOT, EV_CLEAR, EV_DISPATCH as given at ADD
	unsigned sfflags = 0;     // requested fflags (USER: the stored 24 bits)
	intptr_t sdata = 0; // requested data (TIMER: the period; USER: data; SIGNAL: deliveries
			    // seen)
	void *udata = nullptr;
	bool disabled = false;
	bool queued = false;       // on kq::pending
	bool active = false;       // has something to report
	bool registered = false;   // its libkevent kevent exists
	bool always_ready = false; // READ/WRITE on a file epoll cannot watch
	bool socket = false;       // READ/WRITE: the file is a socket
	bool hup = false;          // READ: the last look saw a hang-up
	uint32_t seen = 0;         // READ/WRITE: poll bits reported since the last emit
	bool relook = false;       // READ/WRITE: queued again to look at a level knote
	bool looked_empty = false; // READ/WRITE: look_again found it not ready
	intptr_t count = 0;        // TIMER, SIGNAL: occurrences; PROC: the status
	uint64_t dev = 0, ino = 0; // READ/WRITE, VNODE: the file the knote follows
	uint32_t mode = 0;         // READ/WRITE: its st_mode (kq::apply's fstat)
	int64_t size = 0;          // VNODE: st_size and st_nlink at the last report
	uint64_t nlink = 0;
	bool is_dir = false; // VNODE: a directory
};

// The knotes of a kqueue are keyed (ident, filter), FreeBSD's knote key.
struct knote_key_hash {
	size_t operator()(const std::pair<uintptr_t, short> &k) const noexcept {
		return std::hash<uintptr_t>()(k.first * 16 + static_cast<uint16_t>(k.second));
	}
};

// A new READ/WRITE knote's libkevent ADD, held back to be made together
// with the others of its kevent() call (add_batch.cpp).
struct deferred_add {
	ukevent uk;
	struct kevent change; // as applied, for its EV_ERROR entry
	int index;            // its place in the change list
};

// What became of one held-back ADD: 0 or the errno of its change.
struct add_result {
	struct kevent change;
	int index;
	int err;
	uint64_t serial;
};

struct kq {
	int kfd = -1;
	std::mutex mu;
	// A hash table, not a tree: libevent re-adds every knote at each of
	// its loop's turns (bench pipes), and the tree's look-ups were a tenth
	// of the layer's instructions (docs/benchmarks.md, issue 18).
	std::unordered_map<std::pair<uintptr_t, short>, std::unique_ptr<knote>, knote_key_hash>
		notes;
	std::unordered_map<uint64_t, knote *> by_serial;
	std::deque<knote *> pending;
	uint64_t next_serial = 1;
	int sigfd = -1; // the doorbell of the process's signal hub (signal_filter.cpp)
	// kevent()'s change list is being applied: new READ/WRITE knotes'
	// ADDs are held back in `held` (add_batch.cpp); change_index is the
	// change being applied.
	bool batching = false;
	int change_index = 0;
	std::vector<deferred_add> held;
	// The doorbell: a libkevent UNOTIFY kevent, id 0 and cookie 0 (no
	// knote's serial), made READY while knotes wait on `pending` that no
	// libkevent report stands for (a level READ/WRITE knote to be looked
	// at again, a file that is always ready, a new NOTE_LOWAT mark), so
	// that the kqueue's descriptor polls readable while they wait, as
	// FreeBSD's does while knotes are queued. Harvested, it is dropped.
	bool bell_added = false, bell_rung = false;

	kq() = default;
	~kq();

	// kevent(): one change, as FreeBSD's kqueue_register. 0 or an errno.
	int apply(struct kevent &kev);
	// kevent(): wait for and copy out up to n events.
	int scan(struct kevent *out, int n, const struct timespec *timeout);

	// libkevent's reports to the knotes they name (under mu).
	void take_reports(const ukevent *buf, int r);
	// Ring the doorbell if knotes wait on `pending` (under mu).
	void ring_bell();
	// Helpers for the filters (under mu).
	void enqueue(knote &k);
	void dequeue(knote &k);
	void drop(knote &k);                // detach and free
	int ctl(unsigned cmd, ukevent &uk); // one libkevent entry: 0 or errno
};

// One filter: how a knote of it is attached to libkevent, changed, enabled,
// told of a libkevent report, and copied out. errno-returning hooks.
struct filter_ops {
	int (*attach)(kq &, knote &, const struct kevent &);
	void (*detach)(kq &, knote &);
	// EV_ADD on an existing knote (after udata): the new fflags/data.
	int (*touch)(kq &, knote &, const struct kevent &);
	// EV_ENABLE / EV_DISABLE / EV_DISPATCH after a delivery.
	void (*set_enabled)(kq &, knote &, bool);
	// A libkevent kevent of this knote was delivered.
	void (*report)(kq &, knote &, const ukevent &);
	// Fill `out` (ident, filter, udata are set) if there is something to
	// report, and clear what EV_CLEAR clears. false: nothing.
	bool (*emit)(kq &, knote &, struct kevent &out);
};

const filter_ops *filter_for(short filter);

// add_batch.cpp. Hold back the ADD `uk` of the new knote k (being attached
// by change `kev`); the knote counts as registered from now on.
void defer_add(kq &q, knote &k, const ukevent &uk, const struct kevent &kev);
// Whether change `kev` may be one whose ADD is held back: an EV_ADD of a
// READ/WRITE knote that does not exist. Any other change needs the held
// ones made first (it may name one of them, or report an error after them).
bool may_defer(const kq &q, const struct kevent &kev);
// Make the held-back ADDs (one kevent_ctl), in change-list order; a failed
// one's knote is dropped.
std::vector<add_result> flush_adds(kq &q);

// The libkevent kevent `uk` of a knote (native.cpp): added disabled if the
// knote is; removed if registered; MODIFYed to the knote's disabled state
// (which the caller has set), the knote queued again if it holds a report.
int add_native(kq &q, knote &k, ukevent uk);
void remove_native(kq &q, knote &k, ukevent uk);
void enable_native(kq &q, knote &k, ukevent uk);
extern const filter_ops fd_filter, timer_filter, user_filter, signal_filter, proc_filter,
	vnode_filter;

// Before copying out: one poll(2) over the level READ/WRITE knotes queued
// again only to be looked at (fd_filter.cpp), instead of one look each.
void look_again(kq &q);

// The cookie of libkevent kevents.
inline void set_cookie(ukevent &uk, uint64_t serial) { uk.ptr = reinterpret_cast<void *>(serial); }
inline uint64_t cookie_of(const ukevent &uk) { return reinterpret_cast<uint64_t>(uk.ptr); }

} // namespace kqlayer
