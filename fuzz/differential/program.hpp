// SPDX-License-Identifier: MIT
// program — the differential harness's input: a byte string decoded into a
// short sequence of operations on one queue and the files it watches. The
// decoding is total (every byte string is a program; running out of bytes
// ends it) and leans towards keys that collide, so that REMOVE, MODIFY,
// READY and duplicate ADDs find registrations.
#pragma once

#include "../model/sim_world.hpp"

#include <kevent/kevent.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace kevent_diff {

enum class op_kind : uint8_t {
	ctl,        // kevent_ctl(cmd, entries)
	get_events, // kevent_get_events(min_nr, max_nr, timeout)
	write,      // one byte into the slot's peer: an edge for RECV
	drain,      // read everything the slot's file holds
	close_peer, // hang-up: BROKEN for SOCKET/PIPE
	close,      // close the registered number (and its peer)
	reopen,     // a new file on the same number: fd reuse
};

enum class timeout_kind : uint8_t { zero, abstime_past, none, one_ms };

struct op {
	op_kind kind;
	unsigned cmd = 0;
	std::vector<ukevent> entries;
	unsigned slot = 0;
	kevent_model::file_kind file = kevent_model::file_kind::pipe_read;
	unsigned min_nr = 0, max_nr = 1;
	timeout_kind timeout = timeout_kind::zero;
};

struct program {
	std::array<kevent_model::file_kind, kevent_model::slot_count> kinds{};
	std::vector<op> ops;
};

program decode(const uint8_t *data, size_t size);

std::string describe(const op &o);

} // namespace kevent_diff
