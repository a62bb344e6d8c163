// SPDX-License-Identifier: MIT
#include "model_queue.hpp"
#include "model_util.hpp"

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <poll.h>
#include <time.h>

namespace kevent_model {

std::string describe(const ukevent &uk) {
	char b[200];
	std::snprintf(b, sizeof b,
		      "{id=0x%" PRIx64 " type=%u event=0x%x req=0x%x ret=0x%x data=[0x%x,%d] "
		      "cookie=%u:%u}",
		      uk.id.raw_u64, uk.type, uk.event, uk.req_flags, uk.ret_flags, uk.ret_data[0],
		      static_cast<int32_t>(uk.ret_data[1]), uk.user[0], uk.user[1]);
	return b;
}

std::string model_queue::describe_ready() const {
	std::string s;
	for (const auto &g : ready_.groups()) {
		s += s.empty() ? "[" : " [";
		for (uint64_t h : g)
			s += (s.back() == '[' ? "" : " ") + describe(nodes_.at(h).uk);
		s += "]";
	}
	return s;
}

// ---- the files behind numbers ------------------------------------------------

int model_queue::slot_of(int fd) const {
	int s = fd - first_fd_;
	return (s >= 0 && s < int(slot_count)) ? s : -1;
}

const sim_file *model_queue::file_of(int fd) const {
	int s = slot_of(fd);
	if (s < 0 || !world_.file(unsigned(s)).open)
		return nullptr; // a number the harness never opens
	return &world_.file(unsigned(s));
}

// Does the kernel still hold the item? It goes with the file it was armed on.
bool model_queue::alive(int fd, const sim_watch &w) const {
	const sim_file *f = file_of(fd);
	return w.in_backend && f && f->gen == w.gen;
}

void model_queue::on_wakeup(unsigned slot, wakeup wk) {
	if (!wk.sent)
		return;
	int fd = first_fd_ + int(slot);
	auto it = watches_.find(fd);
	if (it == watches_.end() || !alive(fd, it->second))
		return;
	if (kernel_ == kernel_kind::uring) {
		uring_wakeup(it->second, world_.file(slot), wk.key);
		return;
	}
	// ep_poll_callback: a keyed wake-up nobody on the item asked for is
	// ignored; a keyless one queues it. Readiness is checked at report. A
	// oneshot item that reported is disabled.
	if (it->second.disabled)
		return;
	if (wk.key == 0 || (wk.key & (it->second.armed | always_reported)))
		it->second.queued = true;
}

// io_uring: the poll holds the file, so the number's close(2) does not close
// it; the harness closes the peer too, which the held file sees as a hang-up.
void model_queue::on_close(unsigned slot) {
	int fd = first_fd_ + int(slot);
	auto it = watches_.find(fd);
	if (kernel_ != kernel_kind::uring || it == watches_.end() || !alive(fd, it->second))
		return;
	sim_watch &w = it->second;
	w.held = world_.file(slot);
	bool had_peer = w.held->peer_open;
	w.held->peer_open = false;
	if (had_peer)
		uring_wakeup(w, *w.held, 0); // pipe_release / sock_def_wakeup: keyless
}

// The file a watch's poll is on: the number's, or the one it holds.
const sim_file *model_queue::polled_file(int fd, const sim_watch &w) const {
	if (w.held)
		return &*w.held;
	return alive(fd, w) ? file_of(fd) : nullptr;
}

// io_poll_wake: a keyed wake-up the poll does not ask for is ignored — and
// POLLPRI alone does not count (IO_ASYNC_POLL_COMMON), so the library adds
// POLLRDBAND to a POLLPRI watch's poll — else the completion carries the
// key (a keyless one: the file's state), masked; for a POLLPRI watch the
// library replaces its priority bits by the file's (uring_ring.cpp,
// recheck_priority), and a completion left empty is no report. A single-shot (level)
// poll completes with it; the library re-arms it when it reaps it.
void model_queue::uring_wakeup(sim_watch &w, const sim_file &f, uint32_t key) {
	if (!w.poll_live)
		return; // not armed yet: arming looks at the file
	constexpr uint32_t priority = POLLPRI | POLLRDBAND;
	uint32_t asked = w.armed | uring_unmask;
	if (w.armed & POLLPRI)
		asked |= POLLRDBAND; // the library lets a POLLPRI watch's wake-ups in
	if (key && !(key & asked & ~uint32_t(POLLPRI)))
		return;
	uint32_t mask = (key ? key : f.revents()) & asked;
	// ... and asks the file for the priority bits of its completions
	// (one poll(2); nothing when the number names another file now).
	if ((w.armed & POLLPRI) && (mask & priority)) {
		mask &= ~priority;
		if (!w.held)
			mask |= f.revents() & w.armed & priority;
	}
	if (!mask)
		return;
	w.cqes.push_back(mask);
	if (w.level || w.oneshot)
		w.poll_live = false;
}

// Queued POLL_ADDs reach the kernel, which looks at each file at once.
void model_queue::submit() {
	if (kernel_ != kernel_kind::uring)
		return;
	for (auto &[fd, w] : watches_) {
		if (w.relook_due) {
			w.relook_due = false;
			w.arm_due = true;
		}
		if (!w.arm_due)
			continue;
		w.arm_due = false;
		w.poll_live = true;
		if (const sim_file *f = polled_file(fd, w))
			uring_wakeup(w, *f, 0);
	}
}

// ---- watches (semantics.md "Delivery modes on epoll") -----------------------

// The library's sync_watch: tell the backend what the kevents on fd want.
// 0, or an errno when the kernel refuses (the file is gone).
int model_queue::sync_watch(int fd, bool force) {
	sim_watch &w = watches_.at(fd);
	uint32_t want = 0, all = 0;
	bool level = false, wake_all = false, oneshot = false;
	for (uint64_t h : w.regs) {
		const registration &r = nodes_.at(h);
		all |= interest(r.uk);
		wake_all |= (r.uk.req_flags & KEVENT_REQ_WAKEUP_ALL) != 0;
		if (w.parked && (r.on_ready || r.disabled_ready))
			continue; // its report waits already
		want |= interest(r.uk);
		level |= (r.uk.req_flags & KEVENT_REQ_LEVEL) != 0;
	}
	if (w.parked && !want) {
		want = all;
		oneshot = true;
	}
	bool exclusive = !wake_all;
	if (w.regs.empty()) {
		watches_.erase(fd); // EPOLL_CTL_DEL, whose failure does not matter
		return 0;
	}
	// A narrower interest keeps the wider watch; mode changes re-arm.
	if (!force && w.in_backend && (want & ~w.armed) == 0 && level == w.level &&
	    exclusive == w.exclusive && oneshot == w.oneshot)
		return 0;
	if (w.in_backend && !force)
		want |= w.armed;
	const sim_file *f = file_of(fd);
	if (w.in_backend ? !alive(fd, w) : !f)
		return EBADF;
	if (!w.in_backend)
		w.gen = f->gen;
	if (kernel_ == kernel_kind::uring) {
		// POLL_REMOVE and a new POLL_ADD, submitted with the next
		// look: the old poll's completions are stale (its sequence).
		w.cqes.clear();
		w.arm_due = true;
		w.relook_due = false;
		w.poll_live = false;
		w.in_backend = true;
		w.armed = want;
		w.level = level;
		w.exclusive = exclusive;
		w.oneshot = oneshot;
		return 0;
	}
	// EPOLL_CTL_MOD keeps a queued item queued; DEL+ADD (exclusivity
	// cannot be MODified) and a first ADD start afresh. Both poll the
	// file and queue the item if it is ready.
	bool ready_now = (f->revents() & (want | always_reported)) != 0;
	// A oneshot item is never exclusive (epoll refuses the two together).
	bool mod = w.in_backend && !(w.exclusive && !w.oneshot) && !(exclusive && !oneshot);
	w.queued = (mod && w.queued && !w.disabled) || ready_now;
	w.in_backend = true;
	w.armed = want;
	w.level = level;
	w.exclusive = exclusive;
	w.oneshot = oneshot;
	w.disabled = false; // EPOLL_CTL_MOD or ADD enables it again
	return 0;
}

int model_queue::attach_fd(uint64_t h) {
	registration &r = nodes_.at(h);
	int fd = static_cast<int>(r.uk.id.raw[0]);
	sim_watch &w = watches_[fd]; // created when missing
	w.regs.insert(w.regs.begin(), h);
	r.attached = true;
	if (int err = sync_watch(fd, false)) {
		auto &regs = watches_.at(fd).regs;
		regs.erase(std::find(regs.begin(), regs.end(), h));
		r.attached = false;
		sync_watch(fd, false);
		return err;
	}
	// docs/semantics.md "ADD — ready at add": ready at the time of ADD is
	// about the file's state now, whatever the watch of other kevents on
	// the number did before.
	const sim_file *f = file_of(fd);
	fd_outcome o = translate(r.uk, f->revents() & (interest(r.uk) | always_reported));
	if (o.fired || o.broken) {
		r.uk.ret_data[0] |= o.fired;
		r.add_ready = true;
		if (o.broken && !r.broken) {
			r.broken = true;
			r.broken_errno = o.err;
		}
	}
	return 0;
}

// The file behind fd is gone: its kevents are delivered once, BROKEN, and
// leave the registry at once so that the number can be registered again.
void model_queue::break_watch(int fd, int err) {
	std::vector<uint64_t> regs = watches_.at(fd).regs;
	watches_.erase(fd);
	ready_.open();
	for (uint64_t h : regs) {
		registration &r = nodes_.at(h);
		r.attached = false;
		if (r.in_registry) {
			registry_.erase(key_of(r.uk));
			r.in_registry = false;
		}
		r.broken = true;
		r.broken_errno = err;
		if (r.adding)
			r.add_ready = true;
		else
			make_ready(h);
	}
	ready_.close();
}

// ---- registrations -------------------------------------------------------------

void model_queue::make_ready(uint64_t h) {
	registration &r = nodes_.at(h);
	if (r.adding) {
		r.add_ready = true;
		return;
	}
	if ((r.uk.req_flags & KEVENT_REQ_DISABLED) && !r.broken) {
		r.disabled_ready = true; // held until a MODIFY enables it; BROKEN goes out
		return;
	}
	if (r.on_ready)
		return; // coalesced
	r.on_ready = true;
	ready_.push(h);
}

void model_queue::free_node(uint64_t h) {
	registration &r = nodes_.at(h);
	if (r.on_ready)
		ready_.unlink(h);
	if (r.in_registry)
		registry_.erase(key_of(r.uk));
	if (r.attached) {
		int fd = static_cast<int>(r.uk.id.raw[0]);
		auto &regs = watches_.at(fd).regs;
		regs.erase(std::find(regs.begin(), regs.end(), h));
		nodes_.erase(h);
		if (sync_watch(fd, false) != 0)
			break_watch(fd, EBADF); // the others lost their file too
		return;
	}
	nodes_.erase(h);
}

// One look at the backend: report queued items whose file fires, expire
// due timers. Everything it finds became ready together: one group.
// `blocked`: the library's poller meant to block in this look; a level
// watch whose report brings nothing new is parked (the library's dispatch).
void model_queue::harvest(bool blocked) {
	submit(); // io_uring: the wait arms level polls again, submits, reaps
	ready_.open();
	std::vector<int> to_park;
	for (auto &[fd, w] : watches_) {
		if (kernel_ == kernel_kind::uring) {
			// Every completion is one report; a level poll that
			// completed is armed again, submitted with the next look
			// (a oneshot one is not).
			std::vector<uint32_t> cqes;
			cqes.swap(w.cqes);
			if (w.level && !w.oneshot && !cqes.empty())
				w.relook_due = true;
			bool park_it = false;
			for (uint32_t ev : cqes)
				park_it |= !report(w, ev);
			if (blocked && park_it && w.level && !w.parked && !w.regs.empty())
				to_park.push_back(fd);
			continue;
		}
		if (!alive(fd, w))
			w.queued = false; // the kernel dropped it with the file
		if (!w.queued || w.disabled)
			continue;
		uint32_t ev = file_of(fd)->revents() & (w.armed | always_reported);
		w.queued = ev != 0 && w.level && !w.oneshot; // level items stay queued
		if (ev && w.oneshot)
			w.disabled = true;
		if (ev && !report(w, ev) && blocked && w.level && !w.parked && !w.regs.empty())
			to_park.push_back(fd);
	}
	for (int fd : to_park)
		park(fd);
	for (auto &[h, r] : nodes_) {
		if (!r.timer_due)
			continue;
		r.timer_due = false; // periodic ones: the next period is a day away
		r.uk.ret_data[0] = r.uk.ret_data[0] == UINT32_MAX ? UINT32_MAX
								  : r.uk.ret_data[0] + 1;
		make_ready(h);
	}
	ready_.close();
}

// The backend reported `ev` for w's file: every kevent on it that fires.
// (Reports change registrations only, never the watches.)
// Whether anything changed: a kevent newly queued, new bits, newly broken.
bool model_queue::report(sim_watch &w, uint32_t ev) {
	bool news = false;
	for (uint64_t h : w.regs) {
		registration &r = nodes_.at(h);
		fd_outcome o = translate(r.uk, ev);
		if (!o.fired && !o.broken)
			continue;
		news |= (o.fired & ~r.uk.ret_data[0]) != 0;
		r.uk.ret_data[0] |= o.fired;
		if (o.broken && !r.broken) {
			r.broken = true;
			r.broken_errno = o.err;
			news = true;
		}
		news |= r.adding ||
			(!r.on_ready && (r.broken || !(r.uk.req_flags & KEVENT_REQ_DISABLED)));
		make_ready(h);
	}
	return news;
}

// The library's park_watch and the unpark of its take().
void model_queue::park(int fd) {
	auto it = watches_.find(fd);
	if (it == watches_.end())
		return;
	it->second.parked = true;
	if (sync_watch(fd, true) != 0)
		watches_.at(fd).parked = false;
}

void model_queue::unpark_for(uint64_t h) {
	const registration &r = nodes_.at(h);
	if (r.broken || !is_fd_origin(r.uk.type) || !r.attached)
		return;
	int fd = static_cast<int>(r.uk.id.raw[0]);
	auto it = watches_.find(fd);
	if (it == watches_.end() || !it->second.parked)
		return;
	it->second.parked = false;
	sync_watch(fd, true); // a failure: the file is gone, found later
}

// ---- delivery ------------------------------------------------------------------

std::optional<ukevent> model_queue::predict(uint64_t h, bool apply) {
	registration copy = nodes_.at(h);
	registration &r = apply ? nodes_.at(h) : copy;
	// LAST_CHECK, and ET on io_uring, whose reports are wake-ups
	// (backend::reports_wakeups): one look at the file before delivery.
	bool check = (r.uk.req_flags & KEVENT_REQ_LAST_CHECK) ||
		     ((r.uk.req_flags & KEVENT_REQ_ET) && kernel_ == kernel_kind::uring);
	if (!r.broken && check && is_fd_origin(r.uk.type)) {
		int fd = static_cast<int>(r.uk.id.raw[0]);
		auto it = watches_.find(fd);
		if (it == watches_.end() || !alive(fd, it->second)) {
			r.broken = true; // the number no longer names the file
			r.broken_errno = EBADF;
		} else {
			const sim_file *f = file_of(fd);
			fd_outcome o =
				translate(r.uk, f->revents() & (interest(r.uk) | always_reported));
			r.uk.ret_data[0] = o.fired;
			if (o.broken) {
				r.broken = true;
				r.broken_errno = o.err;
			} else if (!o.fired) {
				return std::nullopt;
			}
		}
	}
	ukevent out = r.uk;
	if (r.broken) {
		out.ret_flags = KEVENT_RET_BROKEN | KEVENT_RET_DONE;
		out.ret_data[1] = static_cast<uint32_t>(-r.broken_errno);
	} else {
		out.ret_flags = (r.uk.req_flags & KEVENT_REQ_ONESHOT) ? KEVENT_RET_DONE : 0;
	}
	return out;
}

bool model_queue::skipped(uint64_t h) const {
	return !const_cast<model_queue *>(this)->predict(h, false).has_value();
}

void model_queue::deliver(uint64_t h) {
	registration &r = nodes_.at(h);
	delivered_++;
	if (r.broken) {
		broken_++;
		free_node(h);
	} else if (r.uk.req_flags & KEVENT_REQ_ONESHOT) {
		free_node(h);
	} else {
		r.on_ready = false;
		ready_.unlink(h);
		r.uk.ret_data[0] = r.uk.ret_data[1] = 0;
	}
}

void model_queue::skip(uint64_t h) {
	registration &r = nodes_.at(h);
	r.on_ready = false;
	ready_.unlink(h);
	r.uk.ret_data[0] = r.uk.ret_data[1] = 0; // stays registered
}

unsigned model_queue::settle_max(unsigned max_nr) const {
	for (int round = 0; round < 4; round++) {
		model_queue m = *this;
		if (m.ready_.size() < max_nr)
			m.harvest();
		unsigned budget = max_nr, need = max_nr;
		for (const auto &g : m.ready_.groups()) {
			unsigned pass = 0, fail = 0;
			for (uint64_t h : g)
				(m.skipped(h) ? fail : pass)++;
			if (fail && budget <= pass) {
				need += pass + 1 - budget; // see every skip of this group
				budget = pass + 1;
			}
			if (budget <= pass)
				break;
			budget -= pass;
		}
		if (need == max_nr)
			return max_nr;
		max_nr = need;
	}
	return max_nr;
}

std::string model_queue::take(const get_call &c, const ukevent *got, int n) {
	if (n < 0 || unsigned(n) > c.max_nr)
		return "returned " + std::to_string(n) + " for max_nr " + std::to_string(c.max_nr);
	bool looked = look(c);
	if (!looked)
		list_only_++;
	unsigned k = 0;
	std::string d = take_round(c.max_nr, got, n, k);
	// Everything skipped (LAST_CHECK) and fewer than min_nr ready: a call
	// with time left keeps waiting, which looks at the backend again.
	if (d.empty() && k == 0 && c.min_nr > 0 && c.may_wait) {
		harvest(true); // the poller means to block again
		look(c);
		d = take_round(c.max_nr, got, n, k);
	} else if (d.empty() && k == 0 && !looked && ready_.empty()) {
		// A call that took the list alone and skipped all of it found
		// the list empty: it looks once before it returns 0.
		look(c);
		d = take_round(c.max_nr, got, n, k);
	}
	if (!d.empty())
		return d;
	if (k < unsigned(n))
		return "delivered " + std::to_string(n) + ", the model had " + std::to_string(k) +
		       "; extra: " + describe(got[k]);
	return "";
}

// The looks at the backend before a take: one if the list has room; a call
// with time left that has fewer than min_nr looks again until it has them.
// In a world that stands still a few looks find all there is (on io_uring
// a level poll reports at one look and is re-armed, at its state, at the
// next: two looks).
// A call that may not block and finds events on the list skips the look
// (kevent_get_events(3), "Fairness"): not while a LEVEL kevent is
// registered, and not more than list_only_max times in a row.
bool model_queue::look(const get_call &c) {
	bool block = c.may_wait && ready_.size() < c.min_nr;
	bool level = false;
	for (const auto &[h, r] : nodes_)
		level |= (r.uk.req_flags & KEVENT_REQ_LEVEL) != 0;
	bool must = ready_.empty() || level || list_only_ >= list_only_max;
	bool looked = block || (ready_.size() < c.max_nr && must);
	if (looked) {
		list_only_ = 0;
		harvest(block);
	}
	for (int i = 0; c.may_wait && i < 3 && ready_.size() < c.min_nr; i++)
		harvest(true);
	return looked;
}

// Take from the ready list as the library's take() does, matching got[k..n).
std::string model_queue::take_round(unsigned max_nr, const ukevent *got, int n, unsigned &k) {
	while (!ready_.empty() && k < max_nr) {
		std::vector<uint64_t> g = ready_.groups().front();
		unsigned pass = 0;
		for (uint64_t h : g)
			pass += !skipped(h);
		// The whole group is seen (settle_max): skips happen, whatever
		// the order inside it.
		if (pass < g.size()) {
			if (max_nr - k <= pass)
				return inconclusive; // a second look found such a group
			for (uint64_t h : g)
				if (skipped(h)) {
					unpark_for(h);
					skip(h);
				}
			continue;
		}
		if (k == unsigned(n))
			return "delivered " + std::to_string(n) + ", the model has " +
			       describe(*predict(g.front(), false)) + " and more ready";
		uint64_t match = 0;
		for (uint64_t h : g) {
			std::optional<ukevent> want = predict(h, false);
			if (std::memcmp(&*want, &got[k], sizeof(ukevent)) == 0) {
				match = h;
				break;
			}
		}
		if (!match) {
			std::string s = "event " + std::to_string(k) + " " + describe(got[k]) +
					" is none of the model's next group:";
			for (uint64_t h : g)
				s += " " + describe(*predict(h, false));
			return s;
		}
		unpark_for(match);
		predict(match, true);
		deliver(match);
		k++;
	}
	return "";
}

} // namespace kevent_model
