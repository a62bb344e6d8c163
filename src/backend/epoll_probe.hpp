// SPDX-License-Identifier: MIT
// epoll_probe — "is this number still that file?" in one cheap syscall.
//
// EPOLL_CTL_ADD of an fd already in the set fails with EEXIST and changes
// nothing, and an epoll set keys its items by (file, number). So adding `fd`
// to the set `ep` tells whether the pair is there already (same), the number
// names another file (different: we take it out again) or nothing (not_open).
// Both backends use it: epoll for its own set, io_uring for the private set
// that mirrors its watches (a pending poll names a file, not a number).
#pragma once

#include "backend/backend.hpp"

namespace kevent::detail {

descriptor_match epoll_probe(int ep, int fd);

} // namespace kevent::detail
