// model_queue — the reference model of one kevent queue (SPEC §4–§5) in
// plain containers: registrations keyed by (id, type), a FIFO ready list,
// ADD/REMOVE/MODIFY/READY, delivery with ONESHOT/LAST_CHECK/BROKEN, and
// kevent_get_events with max_nr. Single-threaded: the differential harness
// drives it in lockstep with a real queue and compares what each delivers.
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
	bool attached = false;  // fd origins: on the watch of uk.id.raw[0]
	bool timer_due = false; // a timer whose expiry has passed, not yet seen
};

// What the kernel holds for one watched number.
struct sim_watch {
	uint32_t gen = 0; // the file generation it was armed on
	bool in_backend = false;
	uint32_t armed = 0; // POLL bits
	bool level = false;
	bool exclusive = false;
	bool queued = false;        // on the kernel's ready list
	std::vector<uint64_t> regs; // registrations on this number
};

class model_queue {
public:
	// Slot i of `world` is fd number first_fd + i.
	model_queue(const sim_world &world, int first_fd) : world_(world), first_fd_(first_fd) {}

	// kevent_ctl with a valid cmd: returns what the library returns and
	// rewrites `arg` as it would.
	int ctl(unsigned cmd, std::vector<ukevent> &arg);

	// The world changed a slot's file.
	void on_wakeup(unsigned slot, wakeup w);

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
	void harvest();

	// Delivery of one ready kevent: the entry, or nullopt if LAST_CHECK
	// skips it. `apply`: also change the registration as the check does.
	std::optional<ukevent> predict(uint64_t h, bool apply);
	bool skipped(uint64_t h) const;
	std::string take_round(unsigned max_nr, const ukevent *got, int n, unsigned &k);
	void deliver(uint64_t h);
	void skip(uint64_t h);

	const sim_world &world_;
	int first_fd_;
	std::map<uint64_t, registration> nodes_;
	std::map<model_key, uint64_t> registry_;
	std::map<int, sim_watch> watches_;
	ready_groups ready_;
	uint64_t next_handle_ = 1;
	uint64_t delivered_ = 0, broken_ = 0;
};

std::string describe(const ukevent &uk);

} // namespace kevent_model
