// SPDX-License-Identifier: MIT
// EVFILT_VNODE: a libkevent INODE kevent (kevent_inode(7)) on the open
// file or directory `ident`. inotify follows the inode, not a path, so the
// knote follows the file through renames as FreeBSD's does.
//
// The mapping (docs/kqueue.md):
//   NOTE_WRITE   a file: MODIFY; a directory: a name created, removed or
//                renamed in it (FreeBSD's NOTE_WRITE on a directory)
//   NOTE_EXTEND  the size grew since the last report (fstat at each report)
//   NOTE_ATTRIB  ATTRIB (Linux counts a link count change as one too)
//   NOTE_LINK    the link count changed since the last report (a file's
//                link/unlink is an ATTRIB; a subdirectory made or removed
//                changes its directory's count)
//   NOTE_RENAME  MOVE_SELF: the file itself was renamed or moved
//   NOTE_DELETE  the native kevent BROKEN with no name left; nothing is
//                reported after it (the native watch ends), the knote stays
//                until EV_DELETE or close
//   NOTE_REVOKE  accepted, reported only if the native watch ends while
//                the file still has a name (with EV_EOF); Linux has no
//                revoke(2) and refuses to unmount a watched file (EBUSY)
// fflags collect what happened and was asked; as on FreeBSD they are
// cleared only by EV_CLEAR, so a knote without it, once it fired, is
// reported by every kevent() call.
//
// A descriptor closed under its knote drops it (BSD): at the next change
// of that ident (kevent.cpp) or at the next report (here, by fstat).
// LOCKING: called under kq::mu (kq.hpp).
#include "kqueue/kq.hpp"

#include <cerrno>
#include <sys/stat.h>

namespace kqlayer {
namespace {

constexpr unsigned all_notes = NOTE_DELETE | NOTE_WRITE | NOTE_EXTEND | NOTE_ATTRIB | NOTE_LINK |
			       NOTE_RENAME | NOTE_REVOKE;
constexpr uint32_t entry_bits = KEVENT_INODE_CREATE | KEVENT_INODE_REMOVE |
				KEVENT_INODE_MOVED_FROM | KEVENT_INODE_MOVED_TO;

// The native bits that can show what the knote asks for.
uint32_t native_bits(const knote &k) {
	uint32_t b = 0;
	unsigned f = k.sfflags;
	if (f & (NOTE_WRITE | NOTE_EXTEND))
		b |= k.is_dir ? entry_bits : KEVENT_INODE_MODIFY;
	if (f & (NOTE_ATTRIB | NOTE_LINK))
		b |= KEVENT_INODE_ATTRIB;
	if ((f & NOTE_LINK) && k.is_dir)
		b |= entry_bits;
	if (f & NOTE_RENAME)
		b |= KEVENT_INODE_MOVE_SELF;
	// DELETE (and asking for nothing) still needs a valid request: the
	// origin watches for deletion whatever is asked.
	return b ? b : KEVENT_INODE_ATTRIB;
}

ukevent inode_kevent(const knote &k) {
	ukevent uk{};
	uk.type = KEVENT_INODE;
	uk.id.raw[0] = static_cast<uint32_t>(k.ident);
	uk.event = native_bits(k);
	uk.req_flags = KEVENT_REQ_ALWAYS_QUEUE;
	set_cookie(uk, k.serial);
	return uk;
}

// fstat of ident, if it still names the knote's file.
bool same_file(const knote &k, struct stat &st) {
	return fstat(static_cast<int>(k.ident), &st) == 0 &&
	       static_cast<uint64_t>(st.st_dev) == k.dev &&
	       static_cast<uint64_t>(st.st_ino) == k.ino;
}

void remember(knote &k, const struct stat &st) {
	k.size = st.st_size;
	k.nlink = st.st_nlink;
}

int attach(kq &q, knote &k, const struct kevent &kev) {
	if (kev.fflags & ~all_notes)
		return EINVAL;
	struct stat st;
	if (kev.ident > INT32_MAX || fstat(static_cast<int>(kev.ident), &st) < 0)
		return EBADF;
	k.sfflags = kev.fflags;
	k.dev = st.st_dev;
	k.ino = st.st_ino;
	k.is_dir = S_ISDIR(st.st_mode);
	remember(k, st);
	ukevent uk = inode_kevent(k);
	if (int r = q.ctl(KEVENT_CTL_ADD, uk))
		return r; // EINVAL: not a file or directory (a socket, a pipe)
	k.registered = true;
	return 0;
}

void detach(kq &q, knote &k) {
	remove_native(q, k, inode_kevent(k));
	q.dequeue(k);
}

// FreeBSD's kqueue_register: every change but a delete replaces the
// requested fflags (an EV_ENABLE too); what was collected stays.
int touch(kq &q, knote &k, const struct kevent &kev) {
	if (kev.fflags & ~all_notes)
		return EINVAL;
	uint32_t before = native_bits(k);
	unsigned old = k.sfflags;
	k.sfflags = kev.fflags;
	if (k.registered && native_bits(k) != before) {
		ukevent uk = inode_kevent(k);
		if (int r = q.ctl(KEVENT_CTL_MODIFY, uk)) {
			k.sfflags = old;
			return r;
		}
	}
	return 0;
}

void set_enabled(kq &q, knote &k, bool on) {
	if (on && k.active)
		q.enqueue(k);
}

// Names are not needed here: hand them back so they do not pile up.
void drop_names(kq &q, const ukevent &uk) {
	if (uk.ret_data[1] == 0)
		return;
	alignas(8) char buf[4096];
	while (kevent_inode_names(q.kfd, &uk, buf, sizeof buf) > 0) {
	}
}

void activate(kq &q, knote &k, unsigned notes) {
	notes &= k.sfflags;
	if (!notes && !(k.flags & EV_EOF))
		return;
	k.count |= notes;
	k.active = true;
	if (!k.disabled)
		q.enqueue(k);
}

void report(kq &q, knote &k, const ukevent &uk) {
	drop_names(q, uk);
	struct stat st;
	if (!same_file(k, st)) {
		q.drop(k); // ident closed (BSD drops the knote at close)
		return;
	}
	if (uk.ret_flags & KEVENT_RET_BROKEN) {
		k.registered = false;
		if (st.st_nlink == 0) {
			activate(q, k, NOTE_DELETE);
		} else {
			k.flags |= EV_EOF; // the watch ended with the file still named
			activate(q, k, NOTE_REVOKE);
		}
		return;
	}
	uint32_t bits = static_cast<uint32_t>(uk.ret_data[0]);
	unsigned notes = 0;
	if (bits & KEVENT_INODE_OVERFLOW)
		notes |= NOTE_WRITE | NOTE_ATTRIB; // events were lost: anything may have
	if (bits & (k.is_dir ? entry_bits : KEVENT_INODE_MODIFY))
		notes |= NOTE_WRITE;
	if (st.st_size > k.size)
		notes |= NOTE_EXTEND;
	if (bits & KEVENT_INODE_ATTRIB)
		notes |= NOTE_ATTRIB;
	if (static_cast<uint64_t>(st.st_nlink) != k.nlink)
		notes |= NOTE_LINK;
	if (bits & KEVENT_INODE_MOVE_SELF)
		notes |= NOTE_RENAME;
	remember(k, st);
	activate(q, k, notes);
}

bool emit(kq &, knote &k, struct kevent &out) {
	if (!k.active)
		return false;
	out.fflags = static_cast<unsigned>(k.count) & k.sfflags;
	if (!out.fflags && !(k.flags & EV_EOF)) {
		k.active = false; // fflags narrowed by EV_ADD since
		return false;
	}
	out.data = 0;
	if (k.flags & EV_CLEAR) {
		k.count = 0;
		k.active = false;
	}
	return true;
}

} // namespace

const filter_ops vnode_filter = {attach, detach, touch, set_enabled, report, emit};

} // namespace kqlayer
