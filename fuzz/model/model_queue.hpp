// SPDX-License-Identifier: MIT
// model_queue — the reference model of one kevent queue (kevent_ctl(3),
// kevent_get_events(3), docs/semantics.md) in plain containers: registrations
// keyed by (id, type), a FIFO ready list, ADD/REMOVE/MODIFY/READY, delivery
// with ONESHOT/LAST_CHECK/BROKEN, and kevent_get_events with max_nr.
// Single-threaded: the differential harness drives it in lockstep with a real
// queue and compares what each delivers.
//
// The kernel side is simulated by sim_world (the files) and, per watched
// number, a sim_watch: what the backend was asked to watch and whether the
// kernel has the item queued. The rules for *when the library asks the
// kernel to look at a file again* follow docs/semantics.md ("Delivery modes
// on epoll"): the default and ET modes are edge-triggered watches, LEVEL a
// level-triggered one; a narrower interest keeps the wider watch; MODIFY
// re-arms. A re-arm re-checks the file, which reports every kevent on it
// that fires — the library's behaviour, which the model follows (see the
// report of issue 8: spurious, never lost).
//
// The io_uring backend drives the kernel differently where docs/semantics.md
// ("io_uring backend") says so, and the model follows (kernel_kind::uring):
// - A registered file stays open: the poll holds the *file*, so closing or
//   reusing its number leaves the watch on the old file (`held`), whose
//   peer's hang-up is still reported. The number is checked as on epoll (a
//   mirror epoll set): LAST_CHECK, ADD and MODIFY on it find BROKEN/EBADF.
// - Every queue is woken (no exclusive watch): a change of exclusivity is a
//   re-arm like any other, and no other queue exists here.
// - Submission is lazy: a (re-)armed poll reaches the kernel with the next
//   look at the backend, never at the end of a call (which submits only
//   removals, deadlines and the library's own sources), and looks at the
//   file then; completions of the poll it replaces are dropped.
// - Multishot polls (default, ET) post one completion per wake-up whose
//   key the poll asks for; level watches are single-shot polls armed again
//   after each report (semantics.md "Delivery modes"). A completion carries
//   the wake-up's key (the file's state when the wake-up has none, and at
//   arming), masked by the interest plus ERR|HUP|NVAL|RDHUP — the kernel's
//   io_poll_wake and io_poll_check_events — and the library reports it as
//   it is, not the file's state at harvest, but for the priority bits of
//   a watch that asks POLLPRI, which it takes from the file (poll(2)). A
//   keyed wake-up must match more than POLLPRI (IO_ASYNC_POLL_COMMON): the
//   library adds POLLRDBAND to a POLLPRI watch's poll so that a socket's
//   data wake-up completes it (checked on Linux 6.18). An ET kevent is
//   looked at again before delivery, as LAST_CHECK does (kevent(7): ET
//   comes back only if ready at that moment).
//
// Time: timers are either already due (interval 0, or an absolute first
// expiry in the past) or far away (intervals of a day and more): a due timer
// fires at the next look at the backend, with one expiration.
#pragma once

#include "origin_rules.hpp"
#include "ready_groups.hpp"
#include "sim_world.hpp"

#include <kevent/kevent.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kevent_model {

// The kernel interface behind the queue (the backend it compares with).
enum class kernel_kind : uint8_t { epoll, uring };

struct model_key {
	uint64_t id;
	uint32_t type;
	auto operator<=>(const model_key &) const = default;
};

// One registration (the library's knode).
struct registration {
	ukevent uk{}; // the request; ret_data accumulates the pending result
	bool in_registry = false;
	bool on_ready = false;
	bool adding = false;    // its ADD batch has not decided yet
	bool add_ready = false; // ready while adding
	bool broken = false;
	int broken_errno = 0;
	bool attached = false;       // fd origins: on the watch of uk.id.raw[0]
	bool timer_due = false;      // a timer whose expiry has passed, not yet seen
	bool disabled_ready = false; // made ready under KEVENT_REQ_DISABLED
};

// What the kernel holds for one watched number.
struct sim_watch {
	uint32_t gen = 0; // the file generation it was armed on
	bool in_backend = false;
	uint32_t armed = 0; // POLL bits
	bool level = false;
	bool exclusive = false;
	bool queued = false; // epoll: on the kernel's ready list
	// io_uring: a POLL_ADD waits for the next submission; the poll in the
	// kernel is armed and not completed; the completions it posted, not
	// reaped yet; the file it holds once the number no longer names it.
	bool arm_due = false;
	// Parked (the library's park_watch): a poller meant to block and this
	// level watch reported nothing new, so the kevents on the ready list
	// lend it no interest until one is delivered; with none left it is a
	// oneshot watch (EPOLLONESHOT: `disabled` once it reported; io_uring:
	// a single-shot poll not armed again).
	bool parked = false;
	bool oneshot = false;
	bool disabled = false;
	// io_uring LEVEL: the single-shot poll reported; the library arms it
	// again at its next look at the backend (a wait).
	bool relook_due = false;
	bool poll_live = false;
	std::vector<uint32_t> cqes;
	std::optional<sim_file> held;
	std::vector<uint64_t> regs; // registrations on this number
};

class model_queue {
public:
	// Slot i of `world` is fd number first_fd + i.
	model_queue(const sim_world &world, int first_fd, kernel_kind kernel = kernel_kind::epoll)
	    : world_(world), first_fd_(first_fd), kernel_(kernel) {}

	// kevent_ctl with a valid cmd: returns what the library returns and
	// rewrites `arg` as it would.
	int ctl(unsigned cmd, std::vector<ukevent> &arg);

	// The world changed a slot's file.
	void on_wakeup(unsigned slot, wakeup w);
	// The world is about to close the slot's number and its peer (close,
	// or a new file on the number): on io_uring a watch keeps the file.
	void on_close(unsigned slot);

	// kevent_get_events(max_nr) never blocking: the max_nr to use so that
	// the model can tell the outcome (a LAST_CHECK kevent that will be
	// skipped must not sit in a group that max_nr cuts). >= max_nr.
	unsigned settle_max(unsigned max_nr) const;

	// Check that `got[0..n)` is what kevent_get_events may deliver and
	// take it. "", what differs, or `inconclusive`: the order inside a
	// group decides what the model cannot see (the harness stops there).
	struct get_call {
		unsigned min_nr, max_nr;
		bool may_wait; // a timeout with time in it (not zero, not past)
	};
	std::string take(const get_call &c, const ukevent *got, int n);
	static constexpr const char *inconclusive = "?";

	size_t registered() const { return nodes_.size(); }
	size_t ready() const { return ready_.size(); }
	std::string describe_ready() const; // the ready list, for a failure's message
	uint64_t delivered() const { return delivered_; }
	uint64_t broken_delivered() const { return broken_; }

private:
	int ctl_add(std::vector<ukevent> &arg);
	void ctl_remove_modify(unsigned cmd, std::vector<ukevent> &arg);
	int ctl_ready(std::vector<ukevent> &arg);
	int prepare_add(const ukevent &e, uint64_t &out);

	int slot_of(int fd) const;
	const sim_file *file_of(int fd) const;
	bool alive(int fd, const sim_watch &w) const;

	int attach_fd(uint64_t h);
	int sync_watch(int fd, bool force);
	void break_watch(int fd, int err);
	void free_node(uint64_t h);
	void make_ready(uint64_t h);
	void harvest(bool blocked = false);
	void park(int fd);
	void unpark_for(uint64_t h);
	bool report(sim_watch &w, uint32_t ev);
	// io_uring: a wake-up of the file a watch polls; queued polls reach
	// the kernel (at a look).
	void uring_wakeup(sim_watch &w, const sim_file &f, uint32_t key);
	void submit();
	const sim_file *polled_file(int fd, const sim_watch &w) const;

	// Delivery of one ready kevent: the entry, or nullopt if LAST_CHECK
	// skips it. `apply`: also change the registration as the check does.
	std::optional<ukevent> predict(uint64_t h, bool apply);
	bool skipped(uint64_t h) const;
	bool look(const get_call &c); // true: it looked at the backend
	std::string take_round(unsigned max_nr, const ukevent *got, int n, unsigned &k);
	void deliver(uint64_t h);
	void skip(uint64_t h);

	const sim_world &world_;
	int first_fd_;
	kernel_kind kernel_;
	std::map<uint64_t, registration> nodes_;
	std::map<model_key, uint64_t> registry_;
	std::map<int, sim_watch> watches_;
	ready_groups ready_;
	uint64_t next_handle_ = 1;
	uint64_t delivered_ = 0, broken_ = 0;
	// Calls in a row that took from the list without a look (the
	// library's list_only_harvests_ and its limit).
	unsigned list_only_ = 0;
	static constexpr unsigned list_only_max = 16;
};

std::string describe(const ukevent &uk);

} // namespace kevent_model
