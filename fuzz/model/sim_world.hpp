// SPDX-License-Identifier: MIT
// sim_world — the model's picture of the files behind the registered
// numbers: a few "slots", each a fixed fd number naming the read end of a
// pipe or one end of a UNIX stream socketpair, whose readiness the harness
// controls by writing into the other end, draining, closing the other end,
// closing the number, or putting a new file on the same number (reuse).
//
// Only what the kernel would tell a poller is modelled: the poll bits of a
// file now (revents) and the key of each wake-up it sends its waiters
// (epoll filters wake-ups by key; see sim_watch.hpp). Values checked on
// Linux 6.x: an idle socket end is OUT|WRNORM|WRBAND; data adds IN|RDNORM;
// the peer gone adds IN|RDNORM|RDHUP|HUP; a pipe read end is IN|RDNORM with
// data and HUP once the writers are gone.
#pragma once

#include <array>
#include <cstdint>
#include <poll.h>

namespace kevent_model {

enum class file_kind : uint8_t { pipe_read, socket };

// A wake-up sent to the file's waiters: `key` POLL bits, 0 = all of them.
struct wakeup {
	bool sent = false;
	uint32_t key = 0;
};

struct sim_file {
	file_kind kind = file_kind::pipe_read;
	bool open = false;      // the number names a file at all
	bool peer_open = false; // the other end (write end, peer socket)
	uint32_t unread = 0;    // bytes waiting to be read from this end
	uint32_t gen = 0;       // a new file on the number: a new generation

	uint32_t revents() const;
};

constexpr unsigned slot_count = 3;

class sim_world {
public:
	// Every slot starts open, with the kinds given.
	explicit sim_world(const std::array<file_kind, slot_count> &kinds);

	const sim_file &file(unsigned slot) const { return files_[slot]; }

	// The harness's actions; each returns the wake-up it causes on the
	// slot's file (none when the action does nothing).
	wakeup write(unsigned slot);
	wakeup drain(unsigned slot);
	wakeup close_peer(unsigned slot);
	void close(unsigned slot);
	void reopen(unsigned slot, file_kind kind);

private:
	std::array<sim_file, slot_count> files_;
	uint32_t next_gen_ = 1;
};

} // namespace kevent_model
