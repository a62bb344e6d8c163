// SPDX-License-Identifier: MIT
// abi_harness — every kevent_* entry point with arbitrary arguments: a byte
// string decoded into calls on a few descriptors (live queues with and
// without rings, closed and reused numbers, files that are no queue, -1),
// with arbitrary commands, counts, flag bits, ids, ring sizes and timeouts.
// Each call must succeed or fail with an errno its man page lists in
// ERRORS; every entry kevent_ctl hands back with BROKEN must carry an errno
// kevent_ctl(3) or an origin page names; nothing may block (every timeout
// is zero, past or invalid; NULL only where min_nr == 0 cannot wait); and
// after the queues are closed nothing may be left (queues, registrations;
// LSan sees the memory).
//
// Shared by the libFuzzer target (abi_fuzzer.cpp) and the corpus replay of
// the normal test suite (tests/model).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace kevent_abi {

// "" or the first call that broke the contract.
std::string run_abi(const uint8_t *data, size_t size);

} // namespace kevent_abi
