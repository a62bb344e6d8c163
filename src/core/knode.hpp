// SPDX-License-Identifier: MIT
// knode — one registration: the user's ukevent plus the queue's bookkeeping.
//
// A knode is owned by its queue and touched only under the queue lock. It
// sits in the registry (by key), at most once on the ready list, on its fd
// watch's list (fd origins) or in a timer heap (timers).
#pragma once

#include "backend/backend.hpp"

#include <kevent/kevent.h>

#include <cstdint>

namespace kevent::detail {

struct fd_watch;
struct origin_ext;
struct knode;

enum knode_flag : uint32_t {
	in_registry = 1u << 0,    // findable by key
	on_ready = 1u << 1,       // on the ready list
	adding = 1u << 2,         // its ADD batch has not decided yet
	add_ready = 1u << 3,      // became ready while `adding`
	broken = 1u << 4,         // deliver once with BROKEN, then free
	timer_held = 1u << 5,     // a periodic TIMER waiting to be delivered: no deadline
	disabled_ready = 1u << 6, // made ready under KEVENT_REQ_DISABLED: queued when enabled
};

// What an fd origin's kevent keeps: its place on the fd watch's list.
struct fd_link {
	knode *wnext = nullptr, *wprev = nullptr;
	fd_watch *watch = nullptr;
};

// What a TIMER keeps: its place in the deadline service.
struct timer_link {
	uint32_t heap_pos = UINT32_MAX;
	clock_kind clock = clock_kind::monotonic;
	int64_t expiry = 0;   // ns on `clock`
	int64_t interval = 0; // ns; 0 = one expiry
};

// 96 bytes: a million timers cost their knodes 96 MB (the slab in
// knode_pool adds no per-object header).
struct knode {
	ukevent uk{};       // request; uk.ret_data accumulates the pending result
	uint32_t flags = 0; // knode_flag bits
	int32_t broken_errno = 0;

	knode *rnext = nullptr, *rprev = nullptr; // ready list
	origin_ext *ext = nullptr;                // the origin's own data, deleted with the knode

	// An fd origin uses fdw, TIMER uses tm (timer origin's attach makes it
	// the active member), no other origin either.
	union {
		fd_link fdw;
		timer_link tm;
	};

	knode() : fdw() {}

	bool has(uint32_t s) const { return (flags & s) != 0; }
	bool req(uint32_t f) const { return (uk.req_flags & f) != 0; }
	int fd() const { return static_cast<int>(uk.id.raw[0]); }
};

static_assert(sizeof(knode) == 96);

} // namespace kevent::detail
