// SPDX-License-Identifier: MIT
// The libkevent ADDs of the new READ/WRITE knotes of one kevent() call, made
// together: one kevent_ctl for all of them instead of one each. libkevent
// attaches a batch and then looks at readiness once (one system call per
// batch, kevent_ctl(3)); libevent adds its every descriptor in one call
// (bench pipes, issue 18: one io_uring_enter per knote before).
//
// Only an ADD that cannot fail but for lack of memory (or a close racing the
// call) is held back: a socket or FIFO the layer has just fstat-ed. kevent()
// makes the held ones before any other change and before writing any error,
// so errors still come out in change-list order, and when a held-back ADD
// fails with no room to report it, kevent() drops the knotes added after it
// (all held back too, nothing else ran between), as if the changes after a
// failed one had not been applied (kevent(3)).
// LOCKING: called under kq::mu (kq.hpp).
#include "kqueue/kq.hpp"

#include <cerrno>

namespace kqlayer {

void defer_add(kq &q, knote &k, const ukevent &uk, const struct kevent &kev) {
	deferred_add d{uk, kev, q.change_index};
	if (k.disabled)
		d.uk.req_flags |= KEVENT_REQ_DISABLED;
	q.held.push_back(d);
	k.registered = true;
}

bool may_defer(const kq &q, const struct kevent &kev) {
	return (kev.filter == EVFILT_READ || kev.filter == EVFILT_WRITE) &&
	       (kev.flags & (EV_ADD | EV_DELETE | EV_RECEIPT)) == EV_ADD &&
	       q.notes.find({kev.ident, kev.filter}) == q.notes.end();
}

std::vector<add_result> flush_adds(kq &q) {
	std::vector<add_result> out;
	if (q.held.empty())
		return out;
	thread_local std::vector<ukevent> arg;
	arg.clear();
	out.reserve(q.held.size());
	for (const deferred_add &d : q.held) {
		arg.push_back(d.uk);
		out.push_back({d.change, d.index, 0, cookie_of(d.uk)});
	}
	q.held.clear();
	int r = kevent_ctl(q.kfd, KEVENT_CTL_ADD, static_cast<unsigned>(arg.size()), arg.data());
	if (r < 0) {
		int err = errno;
		for (add_result &a : out)
			a.err = err;
	}
	// The entries copied back (compacted to the front, in order) are the
	// failed ones: ALWAYS_QUEUE keeps a ready kevent queued instead.
	size_t at = 0;
	for (int i = 0; i < r; i++) {
		uint64_t serial = cookie_of(arg[i]);
		while (at < out.size() && out[at].serial != serial)
			at++;
		if (at == out.size())
			break;
		if (arg[i].ret_flags & KEVENT_RET_BROKEN) {
			int err = -static_cast<int32_t>(arg[i].ret_data[1]);
			out[at].err = err == ENOSPC ? ENOMEM : err; // as fd_filter's attach
		}
		if (out[at].err == 0) // ready and not kept: its report is the knote's
			if (auto it = q.by_serial.find(serial); it != q.by_serial.end()) {
				it->second->registered = false;
				filter_for(it->second->filter)->report(q, *it->second, arg[i]);
			}
	}
	for (const add_result &a : out) {
		if (a.err == 0)
			continue;
		auto it = q.by_serial.find(a.serial);
		if (it == q.by_serial.end())
			continue;
		it->second->registered = false; // its ADD failed: nothing to remove
		q.drop(*it->second);
	}
	return out;
}

} // namespace kqlayer
