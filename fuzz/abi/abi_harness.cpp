// SPDX-License-Identifier: MIT
#include "abi_harness.hpp"

#include "documented_errnos.hpp"

#include <kevent/kevent.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <vector>

namespace kevent_abi {

namespace {

class reader {
public:
	reader(const uint8_t *d, size_t n) : d_(d), n_(n) {}
	bool more() const { return i_ < n_; }
	uint8_t u8() { return i_ < n_ ? d_[i_++] : 0; }
	uint32_t u32() {
		uint32_t v = 0;
		for (int i = 0; i < 4; i++)
			v = v << 8 | u8();
		return v;
	}
	// Mostly small values, sometimes the edges of the type.
	uint32_t count() {
		uint8_t b = u8();
		switch (b >> 5) {
		case 6:
			return u32();
		case 7: {
			static const uint32_t edges[] = {KEVENT_CTL_MAX, KEVENT_CTL_MAX + 1,
							 INT_MAX, uint32_t(INT_MAX) + 1, UINT_MAX};
			return edges[b % 5];
		}
		default:
			return b % 8;
		}
	}

private:
	const uint8_t *d_;
	size_t n_, i_ = 0;
};

bool documented(const char *call, int err) {
	const char *name = strerrorname_np(err);
	if (!name)
		return false;
	for (const auto &row : man_page_errnos())
		if (row.call == call)
			return std::find(row.names.begin(), row.names.end(), name) !=
			       row.names.end();
	return false;
}

bool entry_documented(int err) {
	const char *name = strerrorname_np(err);
	const auto &names = entry_errnos();
	return name && std::find(names.begin(), names.end(), name) != names.end();
}

constexpr unsigned queue_slots = 4;
constexpr unsigned max_buf = 1024; // more than a program can make ready

struct queue_slot {
	int fd = -1;
	bool live = false;  // ours to kevent_close
	bool stale = false; // closed with close(2): only the number is left
};

class session {
public:
	session() {
		int p[2];
		if (pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0) {
			pipe_r_ = p[0];
			pipe_w_ = p[1];
		}
		int s[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, s) == 0) {
			sock_a_ = s[0];
			sock_b_ = s[1];
		}
		dir_ = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		file_ = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
		events_.resize(max_buf);
	}

	~session() {
		for (int fd : {pipe_r_, pipe_w_, sock_a_, sock_b_, dir_, file_})
			if (fd >= 0)
				::close(fd);
		for (int fd : extra_fds_)
			::close(fd);
	}

	std::string run(reader &r) {
		unsigned calls = 0;
		while (r.more() && calls++ < 48 && failure_.empty())
			call(r);
		finish();
		return failure_;
	}

private:
	void fail(const std::string &s) {
		if (failure_.empty())
			failure_ = s;
	}

	// A result of `call`: >= 0, or -1 with a documented errno.
	void check(const char *call, int r) {
		if (r >= 0)
			return;
		int e = errno;
		if (r != -1)
			fail(std::string(call) + " returned " + std::to_string(r));
		else if (!documented(call, e))
			fail(std::string(call) + ": undocumented errno " +
			     (strerrorname_np(e) ? strerrorname_np(e) : std::to_string(e)));
	}

	int kfd(reader &r) {
		uint8_t b = r.u8();
		switch (b % 12) {
		case 0:
		case 1:
		case 2:
		case 3:
		case 4:
		case 5:
			return slots_[b % queue_slots].fd;
		case 6:
			return -1;
		case 7:
			return pipe_r_; // open, no queue: EINVAL
		case 8:
			return 900; // never open: EBADF
		case 9:
			return INT_MAX;
		case 10:
			return INT_MIN;
		default:
			return 1 << 22; // past the descriptor table (4M numbers)
		}
	}

	// An fd for an entry's id: something of every kind a kevent may name.
	uint32_t entry_fd(uint8_t b) {
		const int fds[] = {pipe_r_, pipe_w_, sock_a_, sock_b_,      dir_,
				   file_,   -1,      900,     slots_[0].fd, slots_[1].fd};
		return static_cast<uint32_t>(fds[b % 10]);
	}

	ukevent entry(reader &r) {
		ukevent e{};
		uint8_t t = r.u8();
		e.type = t < 0xf0 ? t % KEVENT_MAX : r.u32();
		uint8_t how = r.u8();
		e.id.raw[0] = r.u32();
		e.id.raw[1] = (how & 0x80) ? r.u32() : 0;
		switch (e.type) {
		case KEVENT_SOCKET:
		case KEVENT_PIPE:
		case KEVENT_POLL:
		case KEVENT_INODE:
			if (how & 1)
				e.id.raw[0] = entry_fd(how >> 1);
			break;
		case KEVENT_SIGNAL: {
			// Signals the fuzzer itself needs (SIGALRM for -timeout,
			// SIGSEGV, SIGINT ...) must not be consumed by a queue.
			static const uint32_t sigs[] = {SIGUSR1, SIGUSR2, SIGWINCH, 0,
							65,      SIGKILL, SIGSTOP,  1000};
			e.id.raw[0] = sigs[e.id.raw[0] % 8];
			if (how & 2)
				e.id.raw_u64 |= KEVENT_SIGNAL_NOMASK;
			break;
		}
		case KEVENT_PROC:
			if (how & 1)
				e.id.raw[0] = static_cast<uint32_t>(how & 2 ? getpid() : 1);
			break;
		case KEVENT_TIMER:
			// Short periodic timers are fine (nothing here waits), but
			// keep a share of them long so registrations persist.
			if (how & 1)
				e.id.raw[0] %= 4;
			break;
		default:
			break;
		}
		e.event = (how & 4) ? r.u32() : r.u8() & 0x7;
		e.req_flags = (how & 8) ? r.u32() : r.u8() & KEVENT_REQ_MASK;
		e.ret_flags = (how & 16) ? r.u32() : 0;
		e.ret_data[0] = r.u32();
		e.ret_data[1] = (how & 32) ? r.u32() : 0;
		e.user[0] = r.u8();
		e.user[1] = r.u8();
		return e;
	}

	// Zero, past, or invalid: never a wait.
	const timespec *timeout(reader &r, bool null_ok) {
		uint8_t b = r.u8();
		ts_ = timespec{};
		switch (b % 8) {
		case 0:
			return null_ok ? nullptr : &ts_;
		case 1:
			ts_.tv_nsec = -1;
			break;
		case 2:
			ts_.tv_nsec = 1000000000;
			break;
		case 3:
			ts_.tv_sec = -1;
			break;
		case 4:
			ts_.tv_sec = LONG_MIN;
			break;
		default:
			break;
		}
		return &ts_;
	}

	unsigned flags(reader &r) {
		uint8_t b = r.u8();
		return b < 0xe0 ? b & 1 : r.u32();
	}

	void call(reader &r) {
		switch (r.u8() % 11) {
		case 0:
			init(r);
			break;
		case 1:
		case 2:
			ctl(r);
			break;
		case 3:
			get_events(r);
			break;
		case 4: {
			int k = kfd(r);
			unsigned num = r.count(), old = r.count();
			bool abstime_past = r.u8() & 1;
			check("kevent_wait", kevent_wait(k, num, old, timeout(r, false),
							 abstime_past ? flags(r) : 0));
			break;
		}
		case 5: {
			int k = kfd(r);
			unsigned idx = r.count(), over = r.count();
			check("kevent_commit", kevent_commit(k, idx, over));
			break;
		}
		case 6: {
			int fd = kevent_ring_fd(kfd(r));
			check("kevent_ring_fd", fd);
			if (fd >= 0)
				::close(fd);
			break;
		}
		case 7:
			close_call(r);
			break;
		case 8: {
			kevent_stats st{};
			int k = r.u8() & 1 ? -1 : kfd(r);
			unsigned size = r.u8() & 1 ? r.u32() : r.u8() % (sizeof st + 8);
			bool null = (r.u8() % 8) == 0;
			check("kevent_get_stats", kevent_get_stats(k, null ? nullptr : &st, size));
			break;
		}
		case 9: {
			int k = kfd(r);
			ukevent e = entry(r);
			uint8_t b = r.u8();
			unsigned size = r.u8() % sizeof names_;
			check("kevent_inode_names",
			      kevent_inode_names(k, b & 1 ? nullptr : &e, b & 2 ? nullptr : names_,
						 size));
			break;
		}
		default:
			str(r);
			break;
		}
	}

	void init(reader &r) {
		unsigned s = r.u8() % queue_slots;
		if (slots_[s].live)
			return; // one queue per slot; close first
		if (slots_[s].stale)
			stale_.push_back(slots_[s].fd); // finish() still names it
		uint8_t how = r.u8();
		unsigned size = r.count();
		unsigned fl = how & 0x80 ? r.u32()
					 : (how & 0x3) | (how & 4 ? KEVENT_INIT_SHARED_RING : 0);
		kevent_ring *ring = nullptr;
		if (how & 8) {
			// Caller memory must hold the ring it claims: a size the
			// buffer cannot hold is passed without a buffer.
			if (size <= 4096) {
				rings_.emplace_back(
					new uint64_t[(8 + 40 * size_t(size)) / 8 + 1]());
				ring = reinterpret_cast<kevent_ring *>(rings_.back().get());
			}
		}
		if ((fl & KEVENT_INIT_SHARED_RING) && size > (1u << 20))
			size = 1u << 20; // a shared ring of 40 MiB at most
		int fd = kevent_init(ring, size, fl);
		check("kevent_init", fd);
		if (fd < 0)
			return;
		// The number may be one a stale queue had: it is this queue's now.
		for (auto &q : slots_)
			if (q.fd == fd)
				q = queue_slot{};
		slots_[s] = {fd, true, false};
	}

	void ctl(reader &r) {
		int k = kfd(r);
		uint8_t c = r.u8();
		unsigned cmd = c < 0xf0 ? c % 4 : r.u32();
		unsigned num = r.count();
		bool null = (r.u8() % 16) == 0;
		std::vector<ukevent> arg;
		// The library reads num entries: only a count it must refuse
		// goes with fewer.
		if (num <= 8)
			for (unsigned i = 0; i < num; i++)
				arg.push_back(entry(r));
		else if (num <= KEVENT_CTL_MAX)
			num %= 9, null = true; // keep it small; test NULL with num > 0
		ukevent *p = null ? nullptr : (arg.empty() ? events_.data() : arg.data());
		int res = kevent_ctl(k, cmd, num, p);
		check("kevent_ctl", res);
		if (res <= 0 || !p || num > 8)
			return;
		// Entries handed back: BROKEN ones carry a documented errno.
		unsigned backs = cmd == KEVENT_CTL_ADD ? unsigned(res) : 0;
		for (unsigned i = 0; i < backs && i < arg.size(); i++) {
			const ukevent &e = arg[i];
			if (!(e.ret_flags & KEVENT_RET_DONE))
				fail("kevent_ctl ADD: an entry handed back without DONE");
			int err = -static_cast<int32_t>(e.ret_data[1]);
			if ((e.ret_flags & KEVENT_RET_BROKEN) && err > 0 && !entry_documented(err))
				fail(std::string("kevent_ctl: entry errno ") +
				     (strerrorname_np(err) ? strerrorname_np(err)
							   : std::to_string(err)) +
				     " is in no man page");
		}
	}

	void get_events(reader &r) {
		int k = kfd(r);
		unsigned min_nr = r.count(), max_nr = r.count();
		bool null_buf = (r.u8() % 16) == 0;
		const timespec *t = timeout(r, min_nr == 0);
		unsigned fl = flags(r);
		check("kevent_get_events",
		      kevent_get_events(k, min_nr, max_nr, t, null_buf ? nullptr : events_.data(),
					fl));
	}

	void close_call(reader &r) {
		uint8_t b = r.u8();
		queue_slot &q = slots_[b % queue_slots];
		if ((b & 0x30) == 0x30 && q.live) {
			// close(2), not kevent_close: the number goes stale.
			::close(q.fd);
			q.live = false;
			q.stale = true;
			if (b & 0x40) {
				// ... and is reused by another file.
				int p[2];
				if (pipe2(p, O_CLOEXEC) == 0) {
					if (p[0] != q.fd && dup3(p[0], q.fd, O_CLOEXEC) == q.fd)
						extra_fds_.push_back(q.fd);
					else if (p[0] == q.fd)
						extra_fds_.push_back(p[0]);
					if (p[0] != q.fd)
						::close(p[0]);
					::close(p[1]);
				}
			}
			return;
		}
		int k = (b & 0x30) == 0x20 ? kfd(r) : q.fd;
		int res = kevent_close(k);
		check("kevent_close", res);
		if (res == 0)
			for (auto &s : slots_)
				if (s.fd == k)
					s = queue_slot{};
	}

	void str(reader &r) {
		ukevent e = entry(r);
		uint8_t b = r.u8();
		size_t size = b & 0x80 ? 0 : r.u8() % sizeof text_;
		char *buf = b & 1 ? nullptr : text_;
		if (!buf && (b & 2))
			size = 0; // NULL with size 0: the length only
		std::memset(text_, 'Z', sizeof text_);
		int n = kevent_ukevent_str(b & 4 ? nullptr : &e, buf, size);
		check("kevent_ukevent_str", n);
		if (n >= 0 && buf && size > 0) {
			size_t len = strnlen(text_, sizeof text_);
			if (len >= size || len != std::min<size_t>(size_t(n), size - 1))
				fail("kevent_ukevent_str: " + std::to_string(n) + " for " +
				     std::to_string(len) + " bytes in " + std::to_string(size));
		}
	}

	void finish() {
		// A queue closed with close(2) lives until a call names its
		// number again (or kevent_init reuses it): name each one.
		for (auto &q : slots_)
			if (q.stale)
				stale_.push_back(q.fd);
		for (int fd : stale_)
			kevent_close(fd); // EBADF/EINVAL (or a live queue's number)
		for (auto &q : slots_) {
			if (q.live)
				check("kevent_close", kevent_close(q.fd));
			q = queue_slot{};
		}
		kevent_stats st{};
		if (kevent_get_stats(-1, &st, sizeof st) != 0)
			fail("kevent_get_stats(-1) failed");
		else if (st.queues || st.registered || st.inflight_io)
			fail("left after every queue was closed: queues " +
			     std::to_string(st.queues) + ", registered " +
			     std::to_string(st.registered) + ", in-flight I/O " +
			     std::to_string(st.inflight_io));
	}

	std::array<queue_slot, queue_slots> slots_;
	std::vector<std::unique_ptr<uint64_t[]>> rings_; // outlive the queues
	std::vector<ukevent> events_;
	std::vector<int> extra_fds_;
	std::vector<int> stale_; // numbers of queues closed with close(2)
	int pipe_r_ = -1, pipe_w_ = -1, sock_a_ = -1, sock_b_ = -1, dir_ = -1, file_ = -1;
	timespec ts_{};
	alignas(8) char names_[512];
	char text_[256];
	std::string failure_;
};

} // namespace

std::string run_abi(const uint8_t *data, size_t size) {
	reader r(data, size);
	session s;
	return s.run(r);
}

} // namespace kevent_abi
