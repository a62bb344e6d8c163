// SPDX-License-Identifier: MIT
// real_world — the files sim_world describes, for real: slot i is fd number
// first_fd + i (the end a queue registers) and peer_fd + i (the other end,
// which the harness writes into and closes). Fixed, high numbers so that
// nothing else the process opens (the queue's own descriptors) takes them
// when a slot is closed: a closed slot's number stays free, and a reopened
// slot puts a new file on the same number (fd reuse).
#pragma once

#include "../model/sim_world.hpp"

#include <array>

namespace kevent_diff {

class real_world {
public:
	static constexpr int first_fd = 600;
	static constexpr int peer_fd = 620;
	static constexpr int never_open_fd = 640; // EBADF for an ADD

	explicit real_world(const std::array<kevent_model::file_kind, kevent_model::slot_count> &k);
	~real_world();
	real_world(const real_world &) = delete;
	real_world &operator=(const real_world &) = delete;

	// The same actions as sim_world; false if a system call failed
	// unexpectedly (the run is then not comparable).
	bool write(unsigned slot);
	bool drain(unsigned slot);
	bool close_peer(unsigned slot);
	bool close(unsigned slot);
	bool reopen(unsigned slot, kevent_model::file_kind kind);

	bool ok() const { return ok_; }

private:
	std::array<kevent_model::file_kind, kevent_model::slot_count> kinds_;
	std::array<bool, kevent_model::slot_count> open_{}, peer_open_{};
	bool ok_ = true;
};

} // namespace kevent_diff
