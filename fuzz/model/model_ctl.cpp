// SPDX-License-Identifier: MIT
// The model's kevent_ctl: ADD, REMOVE, MODIFY and READY batches as
// kevent_ctl(3) and docs/semantics.md describe them (split from
// model_queue.cpp, which keeps watches, readiness and delivery).
#include "model_queue.hpp"
#include "model_util.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace kevent_model {

// ---- kevent_ctl ----------------------------------------------------------------

int model_queue::ctl(unsigned cmd, std::vector<ukevent> &arg) {
	int r = 0;
	if (arg.empty())
		r = 0; // READY with num == 0 only wakes waiters: none here
	else if (cmd == KEVENT_CTL_ADD)
		r = ctl_add(arg);
	else if (cmd == KEVENT_CTL_READY)
		r = ctl_ready(arg);
	else
		ctl_remove_modify(cmd, arg);
	return r;
}

// 0 and a registration marked `adding`, or the entry's errno.
int model_queue::prepare_add(const ukevent &e, uint64_t &out) {
	if (e.type >= KEVENT_MAX)
		return EINVAL;
	if (int r = validate_request(e))
		return r;
	if (is_fd_origin(e.type)) {
		int fd = static_cast<int>(e.id.raw[0]);
		// raw[1]: a second key for the same fd, allowed to POLL only as a
		// tag (kevent_poll(7): independent kevents on one fd).
		if (e.id.raw[1] != 0 && e.type != KEVENT_POLL)
			return EINVAL;
		if (fd < 0)
			return EBADF;
		const sim_file *f = file_of(fd);
		// SOCKET and PIPE check the kind of file first (fstat); POLL
		// learns from the backend that the number is not open.
		if (e.type != KEVENT_POLL) {
			if (!f)
				return EBADF;
			bool sock = f->kind == file_kind::socket;
			if (sock != (e.type == KEVENT_SOCKET))
				return EINVAL;
		}
		// semantics.md "BROKEN, closed and reused fds": an ADD naming the
		// number finds out that the watched file is gone.
		auto it = watches_.find(fd);
		if (it != watches_.end() && it->second.in_backend && !alive(fd, it->second))
			break_watch(fd, EBADF);
	}
	if (registry_.count(key_of(e)))
		return EEXIST;

	uint64_t h = next_handle_++;
	registration &r = nodes_[h];
	r.uk = e;
	r.uk.ret_flags = 0;
	r.uk.ret_data[0] = r.uk.ret_data[1] = 0;
	r.adding = true;
	if (is_fd_origin(e.type)) {
		if (int err = attach_fd(h)) {
			nodes_.erase(h);
			return err;
		}
	} else if (e.type == KEVENT_TIMER) {
		const bool named = (e.event & KEVENT_TIMER_NAMED) != 0;
		int64_t interval = timer_interval(e);
		if (named && ((!(e.event & KEVENT_TIMER_ABSTIME) && e.ret_data[1] >= ns_per_s) ||
			      (interval == 0 && !(e.req_flags & KEVENT_REQ_ONESHOT)))) {
			nodes_.erase(h);
			return EINVAL;
		}
		int64_t now = now_on(e), expiry;
		if (e.event & KEVENT_TIMER_ABSTIME) {
			if (e.ret_data[1] >= ns_per_s) {
				nodes_.erase(h);
				return EINVAL;
			}
			expiry = int64_t(e.ret_data[0]) * ns_per_s + e.ret_data[1];
		} else {
			expiry = now + interval; // intervals stay far below overflow
		}
		if (expiry <= now) {
			// (Interval 0 without ONESHOT was refused by validate.)
			if (e.req_flags & KEVENT_REQ_ONESHOT) {
				r.uk.ret_data[0] = 1; // a one-shot already due: ready at ADD
				r.add_ready = true;
			} else {
				r.timer_due = true; // fires at the next look
			}
		}
	} else if (e.type == KEVENT_UNOTIFY && (e.req_flags & KEVENT_REQ_READY)) {
		r.uk.ret_data[0] = e.ret_data[0];
		r.uk.ret_data[1] = e.ret_data[1];
	}
	if (e.req_flags & KEVENT_REQ_READY)
		r.add_ready = true;
	registry_[key_of(e)] = h;
	r.in_registry = true;
	out = h;
	return 0;
}

int model_queue::ctl_add(std::vector<ukevent> &arg) {
	std::vector<std::pair<uint64_t, int>> out(arg.size());
	bool need_harvest = false;
	for (size_t i = 0; i < arg.size(); i++) {
		uint64_t h = 0;
		int err = prepare_add(arg[i], h);
		out[i] = {h, err};
		if (!err && is_fd_origin(arg[i].type))
			need_harvest = true;
	}
	if (need_harvest)
		harvest();
	unsigned k = 0;
	for (size_t i = 0; i < arg.size(); i++) {
		auto [h, err] = out[i];
		if (err) {
			ukevent e = arg[i];
			fail_entry(e, err);
			arg[k++] = e;
			continue;
		}
		registration &r = nodes_.at(h);
		r.adding = false;
		if (!r.add_ready)
			continue;
		r.add_ready = false;
		if (!r.broken && (r.uk.req_flags & KEVENT_REQ_DISABLED)) {
			r.disabled_ready = true; // registered, delivered once enabled
			continue;
		}
		if (r.broken || !(r.uk.req_flags & KEVENT_REQ_ALWAYS_QUEUE)) {
			ukevent e = r.uk;
			e.ret_flags = KEVENT_RET_DONE;
			if (r.broken) {
				e.ret_flags |= KEVENT_RET_BROKEN;
				e.ret_data[1] = static_cast<uint32_t>(-r.broken_errno);
			}
			arg[k++] = e;
			free_node(h);
		} else {
			make_ready(h);
		}
	}
	return static_cast<int>(k);
}

void model_queue::ctl_remove_modify(unsigned cmd, std::vector<ukevent> &arg) {
	bool need_harvest = false;
	for (ukevent &e : arg) {
		auto it = e.type < KEVENT_MAX ? registry_.find(key_of(e)) : registry_.end();
		if (it == registry_.end()) {
			fail_entry(e, ENOENT);
			continue;
		}
		uint64_t h = it->second;
		if (cmd == KEVENT_CTL_REMOVE) {
			free_node(h);
			e.ret_flags = KEVENT_RET_DONE;
			e.ret_data[1] = 0;
			continue;
		}
		registration &r = nodes_.at(h);
		// The interval is the key and the clock its meaning: a timer's
		// event bits cannot change.
		// A named one-shot cannot become periodic: its interval is not kept.
		const bool named_oneshot = r.uk.type == KEVENT_TIMER &&
					   (r.uk.event & KEVENT_TIMER_NAMED) &&
					   (r.uk.req_flags & KEVENT_REQ_ONESHOT) &&
					   !(e.req_flags & KEVENT_REQ_ONESHOT);
		if (validate_request(e) != 0 || named_oneshot ||
		    (e.type == KEVENT_TIMER && e.event != r.uk.event)) {
			fail_entry(e, EINVAL);
			continue;
		}
		r.uk.event = e.event;
		r.uk.req_flags = e.req_flags;
		r.uk.ptr = e.ptr;
		r.uk.ret_flags = 0;
		e.ret_flags = KEVENT_RET_DONE;
		e.ret_data[1] = 0; // kevent_ctl(3): success writes back no error
		// KEVENT_REQ_DISABLED: off the ready list keeping what it
		// collected; enabled, queued again if anything was collected.
		if ((r.uk.req_flags & KEVENT_REQ_DISABLED) && r.on_ready) {
			ready_.unlink(h);
			r.on_ready = false;
			r.disabled_ready = true;
		} else if (!(r.uk.req_flags & KEVENT_REQ_DISABLED) && r.disabled_ready) {
			r.disabled_ready = false;
			make_ready(h);
		}
		if (is_fd_origin(r.uk.type) && !r.broken) {
			// What it collected answered the old request; the re-arm
			// queues it again with the new request's bits that fire
			// (kevent_ctl(3) MODIFY).
			if (r.on_ready)
				ready_.unlink(h);
			r.on_ready = false;
			r.uk.ret_data[0] = 0;
		}
		if (r.attached) {
			int fd = static_cast<int>(r.uk.id.raw[0]);
			watches_.at(fd).parked = false; // the library's MODIFY unparks
			if (sync_watch(fd, true) != 0) {
				fail_entry(e, EBADF);
				break_watch(fd, EBADF);
				continue;
			}
			need_harvest = true;
		}
	}
	if (need_harvest)
		harvest();
}

int model_queue::ctl_ready(std::vector<ukevent> &arg) {
	int marked = 0;
	unsigned k = 0;
	for (ukevent &e : arg) {
		auto it = e.type < KEVENT_MAX ? registry_.find(key_of(e)) : registry_.end();
		if (it == registry_.end()) {
			ukevent c = e;
			fail_entry(c, ENOENT);
			arg[k++] = c;
			continue;
		}
		registration &r = nodes_.at(it->second);
		if (r.uk.type == KEVENT_UNOTIFY) {
			r.uk.ret_data[0] = e.ret_data[0]; // two words of payload
			r.uk.ret_data[1] = e.ret_data[1];
		} else if (r.uk.type == KEVENT_TIMER && r.uk.ret_data[0] == 0) {
			r.uk.ret_data[0] = 1; // a forced expiry still reports one
		}
		make_ready(it->second);
		marked++;
	}
	return marked;
}

} // namespace kevent_model
