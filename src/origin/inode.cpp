// SPDX-License-Identifier: MIT
// INODE origin: id.raw[0] = fd of a directory or file, on inotify(7).
//
// One inotify instance per queue (created with the first inode kevent); the
// watch is added through /proc/self/fd/N, so the user's fd names the inode
// and no path is kept. Two kevents on one inode (through two fds) share the
// kernel's watch descriptor; each sees the changes it asked for. Names are
// queued per kevent and handed, at delivery, to kevent_inode_names(3).
//
// Deletion: inotify reports IN_DELETE_SELF only when the inode goes away,
// which an open fd (the user's) delays until it is closed. So each kevent
// keeps an O_PATH reference and looks at the link count when a deletion may
// have happened: a file's unlink makes IN_ATTRIB; a directory's rmdir makes
// nothing on the directory, so its parent is watched for IN_DELETE too.
#include "origin/origin.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <memory>
#include <new>
#include <poll.h>
#include <string>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>
#include <unordered_map>
#include <vector>

namespace kevent::detail {
namespace {

constexpr uint32_t requestable = KEVENT_INODE_CREATE | KEVENT_INODE_REMOVE | KEVENT_INODE_MODIFY |
				 KEVENT_INODE_ATTRIB | KEVENT_INODE_MOVED_FROM |
				 KEVENT_INODE_MOVED_TO | KEVENT_INODE_CLOSE_WRITE |
				 KEVENT_INODE_MOVE_SELF;

// Unread names kept per kevent; past this the oldest go and OVERFLOW fires.
constexpr size_t max_names = 1u << 16;

constexpr struct {
	uint32_t ours;
	uint32_t in;
} bit_map[] = {
	{KEVENT_INODE_CREATE, IN_CREATE},           {KEVENT_INODE_REMOVE, IN_DELETE},
	{KEVENT_INODE_MODIFY, IN_MODIFY},           {KEVENT_INODE_ATTRIB, IN_ATTRIB},
	{KEVENT_INODE_MOVED_FROM, IN_MOVED_FROM},   {KEVENT_INODE_MOVED_TO, IN_MOVED_TO},
	{KEVENT_INODE_CLOSE_WRITE, IN_CLOSE_WRITE}, {KEVENT_INODE_MOVE_SELF, IN_MOVE_SELF},
};

uint32_t to_inotify(uint32_t ours) {
	uint32_t in = 0;
	for (auto &b : bit_map)
		if (ours & b.ours)
			in |= b.in;
	return in;
}

uint32_t from_inotify(uint32_t in) {
	uint32_t ours = 0;
	for (auto &b : bit_map)
		if (in & b.in)
			ours |= b.ours;
	return ours;
}

struct name_rec {
	uint32_t event;
	std::string name;
};

struct inode_ext final : origin_ext {
	~inode_ext() override {
		if (path_fd >= 0)
			::close(path_fd);
	}
	// Has the watched object lost its last name?
	bool unlinked() const {
		struct stat st {};
		return fstat(path_fd, &st) == 0 && st.st_nlink == 0;
	}

	knode *node = nullptr;
	int wd = -1;
	int parent_wd = -1;           // directories: the watch of the parent
	int path_fd = -1;             // O_PATH reference for the link count
	std::deque<name_rec> pending; // since the last delivery
};

// Who uses one kernel watch: kevents on that inode, and kevents on
// directories inside it (waiting for IN_DELETE).
struct wd_users {
	std::vector<inode_ext *> kevents;
	std::vector<inode_ext *> children;
	bool empty() const { return kevents.empty() && children.empty(); }
};

struct inode_state final : origin_state, fd_source {
	inode_state(origin_services &svc, int fd) : svc_(svc), ifd(fd) {}
	~inode_state() override {
		svc_.unwatch_source(*this);
		::close(ifd);
	}

	void on_ready(uint32_t) override {
		alignas(inotify_event) char buf[64 * 1024];
		for (;;) {
			ssize_t len = ::read(ifd, buf, sizeof buf);
			if (len <= 0)
				return; // EAGAIN: drained
			for (char *p = buf; p < buf + len;) {
				auto *ev = reinterpret_cast<inotify_event *>(p);
				handle(*ev);
				p += sizeof(inotify_event) + ev->len;
			}
		}
	}

	void handle(const inotify_event &ev) {
		if (ev.mask & IN_Q_OVERFLOW) {
			for (auto &[wd, u] : by_wd)
				for (inode_ext *e : u.kevents)
					fire(e, KEVENT_INODE_OVERFLOW);
			return;
		}
		auto it = by_wd.find(ev.wd);
		if (it == by_wd.end())
			return;
		// No copies of the lists (break_node and fire change none):
		// this runs in the middle of a backend report and must not
		// fail, or the rest of the report is lost (tests/regress/
		// get_events_oom_loses_event_test.cpp).
		const std::vector<inode_ext *> &v = it->second.kevents;
		if (ev.mask & (IN_DELETE | IN_MOVED_FROM)) {
			for (inode_ext *c : it->second.children)
				if (c->unlinked())
					svc_.break_node(*c->node, ENOENT);
		}
		if (ev.mask & (IN_DELETE_SELF | IN_IGNORED | IN_UNMOUNT)) {
			for (inode_ext *e : v)
				svc_.break_node(*e->node, ENOENT);
			return;
		}
		uint32_t ours = from_inotify(ev.mask);
		for (inode_ext *e : v) {
			if ((ev.mask & IN_ATTRIB) && e->unlinked()) {
				svc_.break_node(*e->node, ENOENT);
				continue;
			}
			uint32_t want = ours & e->node->uk.event;
			if (!want)
				continue;
			if (e->pending.size() >= max_names) {
				e->pending.pop_front();
				want |= KEVENT_INODE_OVERFLOW;
			}
			try {
				e->pending.push_back(
					{want & ~KEVENT_INODE_OVERFLOW, ev.len ? ev.name : ""});
			} catch (const std::bad_alloc &) {
				want |= KEVENT_INODE_OVERFLOW; // a name lost: rescan
			}
			fire(e, want);
		}
	}

	void fire(inode_ext *e, uint32_t bits) {
		e->node->uk.ret_data[0] |= bits;
		svc_.make_ready(*e->node);
	}

	origin_services &svc_;
	int ifd;
	std::unordered_map<int, wd_users> by_wd;

	// Add (or widen) the watch of `path` for `mask`. wd, or -errno.
	int add_watch(const char *path, uint32_t mask) {
		// IN_MASK_ADD: a second user of the same inode widens the
		// watch instead of replacing what the first asked for.
		int wd = inotify_add_watch(ifd, path, mask | IN_MASK_ADD);
		if (wd >= 0)
			return wd;
		// ENOSPC: fs.inotify.max_user_watches
		return errno == ENOSPC ? -ENOMEM : errno == ENOENT ? -EBADF : -errno;
	}

	void drop_user(int wd, inode_ext *e) {
		auto it = by_wd.find(wd);
		if (it == by_wd.end()) {
			// A watch added for a kevent whose ADD then failed: it has
			// no user, so it goes (it would count against the limit).
			inotify_rm_watch(ifd, wd);
			return;
		}
		std::erase(it->second.kevents, e);
		std::erase(it->second.children, e);
		if (it->second.empty()) {
			// The watch may be gone already (IN_IGNORED): EINVAL is fine.
			inotify_rm_watch(ifd, wd);
			by_wd.erase(it);
		}
	}
	// Names handed over at delivery, by kevent id, until read.
	std::unordered_map<uint64_t, std::deque<name_rec>> delivered;
};

} // namespace

namespace inode_origin {

int validate(const ukevent &uk) {
	if (uk.id.raw[1] != 0)
		return EINVAL;
	return validate_event_bits(uk, requestable);
}

int attach(origin_services &svc, knode &n, const ukevent &, bool &) {
	int fd = static_cast<int>(n.uk.id.raw[0]);
	struct stat st {};
	if (fd < 0 || fstat(fd, &st) < 0)
		return -EBADF;
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
		return -EINVAL; // sockets, pipes ...: nothing inotify can name
	auto &slot = svc.per_queue_state(KEVENT_INODE);
	if (!slot) {
		// The state first: the inotify fd is owned (closed by the
		// state's destructor) from the moment it exists.
		auto s = std::make_unique<inode_state>(svc, -1);
		s->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (s->ifd < 0)
			return errno == EMFILE || errno == ENFILE ? -errno : -ENOMEM;
		if (int r = svc.watch_source(*s, s->ifd, POLLIN); r < 0)
			return r;
		slot = std::move(s);
	}
	auto *state = static_cast<inode_state *>(slot.get());
	char path[64];
	std::snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	auto ext = std::make_unique<inode_ext>();
	ext->node = &n;
	ext->path_fd = open(path, O_PATH | O_CLOEXEC);
	if (ext->path_fd < 0)
		return -errno;
	if (ext->unlinked())
		return -ENOENT; // deleted already (still open)
	int wd = state->add_watch(path, to_inotify(n.uk.event) | IN_ATTRIB | IN_DELETE_SELF);
	if (wd < 0)
		return wd;
	ext->wd = wd;
	if (S_ISDIR(st.st_mode)) {
		std::strncat(path, "/..", sizeof path - std::strlen(path) - 1);
		int pwd = state->add_watch(path, IN_DELETE | IN_MOVED_FROM | IN_ONLYDIR);
		if (pwd < 0 && pwd != -EACCES) {
			state->drop_user(wd, ext.get());
			return pwd;
		}
		ext->parent_wd = pwd; // -EACCES: no parent to watch (document)
	}
	try {
		state->by_wd[wd].kevents.push_back(ext.get());
		if (ext->parent_wd >= 0)
			state->by_wd[ext->parent_wd].children.push_back(ext.get());
	} catch (const std::bad_alloc &) {
		// ext dies with this frame: no list may keep it.
		state->drop_user(wd, ext.get());
		if (ext->parent_wd >= 0)
			state->drop_user(ext->parent_wd, ext.get());
		throw;
	}
	state->delivered.erase(n.uk.id.raw_u64); // a new kevent starts afresh
	n.ext = ext.release();
	return 0;
}

void detach(origin_services &svc, knode &n) {
	auto *ext = static_cast<inode_ext *>(n.ext);
	if (!ext)
		return;
	auto *state = static_cast<inode_state *>(svc.per_queue_state(KEVENT_INODE).get());
	state->drop_user(ext->wd, ext);
	if (ext->parent_wd >= 0)
		state->drop_user(ext->parent_wd, ext);
	// A narrower mask for the others is not worth a path lookup: their
	// kevents filter what they did not ask for.
}

// MODIFY: widen the kernel's watch to the new bits (the user's fd must
// still be open). 0 or -errno.
int modify(origin_services &svc, knode &n) {
	auto *state = static_cast<inode_state *>(svc.per_queue_state(KEVENT_INODE).get());
	auto *ext = static_cast<inode_ext *>(n.ext);
	char path[64];
	std::snprintf(path, sizeof path, "/proc/self/fd/%d", ext->path_fd);
	int wd = state->add_watch(path, to_inotify(n.uk.event) | IN_ATTRIB | IN_DELETE_SELF);
	return wd < 0 ? wd : 0;
}

void on_deliver(origin_services &svc, knode &n, ukevent &out) {
	auto *ext = static_cast<inode_ext *>(n.ext);
	auto *state = static_cast<inode_state *>(svc.per_queue_state(KEVENT_INODE).get());
	out.ret_data[1] = static_cast<uint32_t>(ext->pending.size());
	if (ext->pending.empty())
		return;
	// Out of memory for the names: the event is still delivered (taken
	// off the ready list, it must not be lost), as an overflow — the
	// user rescans (tests/regress/get_events_oom_loses_event_test.cpp).
	try {
		auto &d = state->delivered[n.uk.id.raw_u64];
		for (auto &r : ext->pending) {
			if (d.size() >= max_names) {
				d.pop_front(); // unread for too long: the user must rescan
				out.ret_data[0] |= KEVENT_INODE_OVERFLOW;
			}
			d.push_back(std::move(r));
		}
	} catch (const std::bad_alloc &) {
		out.ret_data[0] |= KEVENT_INODE_OVERFLOW;
		out.ret_data[1] = 0;
	}
	ext->pending.clear();
}

} // namespace inode_origin

int inode_names(origin_services &svc, uint64_t id, void *buf, unsigned size) {
	auto *state = static_cast<inode_state *>(svc.per_queue_state(KEVENT_INODE).get());
	if (!state)
		return 0;
	auto it = state->delivered.find(id);
	if (it == state->delivered.end())
		return 0;
	auto &d = it->second;
	char *out = static_cast<char *>(buf);
	unsigned used = 0;
	while (!d.empty()) {
		const name_rec &r = d.front();
		size_t len = (r.name.size() + 1 + 7) & ~size_t(7);
		size_t rec = sizeof(kevent_inode_name) + len;
		if (used + rec > size) {
			if (used == 0)
				return -EINVAL; // not even one record fits
			break;
		}
		auto *k = reinterpret_cast<kevent_inode_name *>(out + used);
		k->event = r.event;
		k->len = static_cast<uint32_t>(len);
		std::memset(k->name, 0, len);
		std::memcpy(k->name, r.name.data(), r.name.size());
		used += static_cast<unsigned>(rec);
		d.pop_front();
	}
	if (d.empty())
		state->delivered.erase(it);
	return static_cast<int>(used);
}

} // namespace kevent::detail
