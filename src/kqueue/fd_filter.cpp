// SPDX-License-Identifier: MIT
// EVFILT_READ, EVFILT_WRITE: a libkevent POLL kevent per knote, keyed
// (fd, 1) for READ and (fd, 2) for WRITE — two independent kevents on one
// descriptor (kevent_poll(7): id.raw[1] is a tag) — level-triggered, or
// edge-triggered with EV_CLEAR. data and EV_EOF are read when the event is
// copied out, as FreeBSD's filters compute them (docs/kqueue.md). A file
// epoll cannot watch (a regular file, /dev/null) is always ready. READ
// with NOTE_LOWAT (the mark in data) reports only at the mark or at EOF.
// LOCKING: called under kq::mu (kq.hpp).
#include "kqueue/kq.hpp"

#include <cerrno>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace kqlayer {
namespace {

int fd_of(const knote &k) { return static_cast<int>(k.ident); }

ukevent poll_kevent(const knote &k) {
	ukevent uk{};
	uk.type = KEVENT_POLL;
	uk.id.raw[0] = static_cast<uint32_t>(k.ident);
	uk.id.raw[1] = k.filter == EVFILT_READ ? 1 : 2;
	uk.event = (k.filter == EVFILT_READ ? (POLLIN | POLLRDHUP) : POLLOUT) | POLLHUP | POLLERR;
	// Edge-triggered also for a level knote: the layer looks at the file
	// again at each kevent() after a report (emit), as FreeBSD's filter
	// does, instead of an epoll level item that every wait re-polls while
	// the program has not read it yet (libevent reads after the call).
	uk.req_flags = KEVENT_REQ_ALWAYS_QUEUE | KEVENT_REQ_ET;
	set_cookie(uk, k.serial);
	return uk;
}

int start(kq &q, knote &k) {
	if (k.always_ready) {
		k.active = true;
		q.enqueue(k);
		return 0;
	}
	return add_native(q, k, poll_kevent(k));
}

void stop(kq &q, knote &k) {
	remove_native(q, k, poll_kevent(k));
	k.active = false;
	q.dequeue(k);
}

// NOTE_LOWAT on READ is the layer's: the report of each arrival (every
// arrival on a socket, pipe or FIFO wakes an edge-triggered watch) is
// looked at with FIONREAD, which emit compares with the mark; the socket's
// own SO_RCVLOWAT, which would change it for everyone, is left alone. On
// WRITE it is refused: Linux wakes a writer when some room frees (TCP:
// once, until a send finds none), not when the room reaches a mark, so a
// knote below its mark could wait forever.
int check_lowat(const knote &k, const struct kevent &kev) {
	if (!(kev.fflags & NOTE_LOWAT))
		return 0;
	return k.filter == EVFILT_READ && !k.always_ready ? 0 : EINVAL;
}

int attach(kq &q, knote &k, const struct kevent &kev) {
	// kq::apply has looked at the file (fstat) and set dev, ino, mode.
	k.socket = S_ISSOCK(k.mode);
	if (S_ISREG(k.mode) || S_ISDIR(k.mode) || S_ISBLK(k.mode))
		k.always_ready = true;
	if (int r = check_lowat(k, kev))
		return r;
	k.sfflags = kev.fflags;
	k.sdata = kev.data;
	if (q.batching && !(kev.flags & EV_RECEIPT) && (S_ISSOCK(k.mode) || S_ISFIFO(k.mode))) {
		// epoll watches every socket and FIFO: made with the other new
		// knotes of this kevent() call (add_batch.cpp).
		defer_add(q, k, poll_kevent(k), kev);
		return 0;
	}
	int r = start(q, k);
	if (r == EINVAL && S_ISCHR(k.mode)) {
		// A character device epoll cannot watch (/dev/null): its reads
		// and writes never block.
		k.always_ready = true;
		r = start(q, k);
	}
	if (r == ENOMEM || r == ENOSPC)
		return ENOMEM;
	return r;
}

void detach(kq &q, knote &k) { stop(q, k); }

int touch(kq &q, knote &k, const struct kevent &kev) {
	if (int r = check_lowat(k, kev))
		return r;
	bool new_mark = ((k.sfflags ^ kev.fflags) & NOTE_LOWAT) != 0 ||
			((kev.fflags & NOTE_LOWAT) && k.sdata != kev.data);
	k.sfflags = kev.fflags;
	k.sdata = kev.data;
	// A new mark may make what waits ready now (FreeBSD looks at the
	// file after a touch): looked at by the next copy-out, no edge needed.
	if (new_mark && k.filter == EVFILT_READ && !k.disabled)
		q.enqueue(k);
	return 0;
}

// A disabled knote's POLL kevent stays registered, disabled (native.cpp):
// enabled, libkevent queues it if its file is ready then.
void set_enabled(kq &q, knote &k, bool on) {
	if (!k.always_ready)
		enable_native(q, k, poll_kevent(k));
	else if (on)
		start(q, k);
}

void report(kq &q, knote &k, const ukevent &uk) {
	if (uk.ret_flags & KEVENT_RET_BROKEN)
		return;
	k.seen |= uk.ret_data[0];
	k.relook = false;
	k.looked_empty = false;
	k.active = true;
	q.enqueue(k);
}

// READ on a socket (not listening), pipe or FIFO: FIONREAD tells the bytes
// readable, one system call per look where poll would be a second. Only a
// report of a hang-up or error (or one seen before) is looked at with poll
// too: a socket not yet connected reports POLLHUP that a connect clears.
// With NOTE_LOWAT fewer bytes than the mark (below 1 counts as 1) are not
// ready, as FreeBSD's filt_soread; EOF and errors are, whatever the count.
// -1: the file answers no FIONREAD, or listens.
int read_level(knote &k, uint32_t bits, struct kevent &out) {
	int fd = fd_of(k);
	int avail = 0;
	if (ioctl(fd, FIONREAD, &avail) < 0)
		return -1;
	bool err = false;
	if ((bits & (POLLHUP | POLLRDHUP | POLLERR)) || k.hup) {
		pollfd now{fd, static_cast<short>(POLLIN | POLLRDHUP), 0};
		if (poll(&now, 1, 0) < 0)
			return 0;
		k.hup = (now.revents & (POLLHUP | POLLRDHUP)) != 0;
		err = (now.revents & POLLERR) != 0;
	}
	intptr_t mark = (k.sfflags & NOTE_LOWAT) && k.sdata > 1 ? k.sdata : 1;
	if (avail < mark && !k.hup && !err)
		return 0; // stale report, a level look that finds it read, or below the mark
	out.data = avail;
	if (k.hup)
		out.flags |= EV_EOF;
	return 1;
}

bool emit(kq &, knote &k, struct kevent &out) {
	int fd = fd_of(k);
	if (k.always_ready) {
		out.data = 0;
		if (k.filter == EVFILT_READ) {
			struct stat st;
			off_t pos = lseek(fd, 0, SEEK_CUR);
			if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && pos >= 0)
				out.data = st.st_size > pos ? st.st_size - pos : 0;
		}
		// Level: stays active for the next call; EV_CLEAR: reported once
		// per change of state, and a file's state does not change here.
		k.active = !(k.flags & EV_CLEAR);
		return true;
	}
	k.active = false;
	if (k.looked_empty) {
		k.looked_empty = false;
		k.relook = false;
		return false;
	}
	uint32_t bits = k.seen;
	k.seen = 0;
	// Level: looked at again at the next call (emit_pending queues it
	// again); EV_CLEAR: reported once per edge.
	const bool level = !(k.flags & EV_CLEAR);
	if (k.filter == EVFILT_READ) {
		int r = read_level(k, bits, out);
		if (r >= 0) {
			k.active = k.relook = r > 0 && level;
			return r > 0;
		}
	}
	// FreeBSD's filters look at the file when the event is copied out: a
	// report that is stale (another thread read the data) is not copied,
	// and EOF is seen even when it came after the report (io_uring's poll
	// reported POLLIN alone, the hang-up is newer).
	pollfd now{fd, static_cast<short>(k.filter == EVFILT_READ ? (POLLIN | POLLRDHUP) : POLLOUT),
		   0};
	if (poll(&now, 1, 0) < 0)
		return false;
	uint32_t ev = static_cast<uint16_t>(now.revents);
	if (!(ev & (k.filter == EVFILT_READ ? (POLLIN | POLLHUP | POLLRDHUP | POLLERR)
					    : (POLLOUT | POLLHUP | POLLERR))))
		return false;
	k.active = k.relook = level;
	bool sock = k.socket;
	int avail = 0;
	if (k.filter == EVFILT_READ) {
		// FIONREAD fails with EINVAL on a listening socket (TCP and unix).
		bool listening = false;
		if (ioctl(fd, FIONREAD, &avail) == 0)
			out.data = avail;
		else
			listening = sock && errno == EINVAL;
		if (listening) {
			// Pending connections: a TCP listener's accept queue.
			struct tcp_info ti {};
			socklen_t len = sizeof ti;
			out.data = (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 &&
				    ti.tcpi_unacked > 0)
					   ? ti.tcpi_unacked
					   : 1;
		}
		if (ev & (POLLHUP | POLLRDHUP))
			out.flags |= EV_EOF;
	} else {
		if (sock) {
			int sndbuf = 0, queued = 0;
			socklen_t len = sizeof sndbuf;
			if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len) == 0 &&
			    ioctl(fd, SIOCOUTQ, &queued) == 0 && sndbuf > queued)
				out.data = sndbuf - queued;
		} else {
			int size = fcntl(fd, F_GETPIPE_SZ);
			if (size > 0 && ioctl(fd, FIONREAD, &avail) == 0 && size > avail)
				out.data = size - avail;
		}
		if (ev & (POLLHUP | POLLERR))
			out.flags |= EV_EOF;
	}
	// fflags stays 0. FreeBSD puts the socket's pending error there
	// without clearing it; Linux has no such read: getsockopt(SO_ERROR),
	// recv and send all clear it, so the program's own SO_ERROR (a
	// connect's outcome, libevent's bufferevent) or read() (ECONNRESET)
	// would then see no error. Tried: libevent's regress failed 3 tests
	// (bufferevent_connect_fail*) that way (docs/kqueue.md).
	return true;
}

} // namespace

const filter_ops fd_filter = {attach, detach, touch, set_enabled, report, emit};

void look_again(kq &q) {
	thread_local std::vector<pollfd> fds;
	thread_local std::vector<knote *> ks;
	fds.clear();
	ks.clear();
	for (knote *k : q.pending)
		if (k->relook && !k->seen && !k->disabled && !k->always_ready &&
		    (k->filter == EVFILT_READ || k->filter == EVFILT_WRITE)) {
			short want = k->filter == EVFILT_READ ? (POLLIN | POLLRDHUP) : POLLOUT;
			fds.push_back({fd_of(*k), want, 0});
			ks.push_back(k);
		}
	if (ks.size() < 2 || poll(fds.data(), fds.size(), 0) < 0)
		return; // one is looked at by emit as cheaply
	for (size_t i = 0; i < ks.size(); i++)
		ks[i]->looked_empty =
			!(fds[i].revents & (fds[i].events | POLLHUP | POLLERR | POLLNVAL));
}

} // namespace kqlayer
