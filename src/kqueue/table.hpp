// SPDX-License-Identifier: MIT
// table.hpp — the kqueues of the process by number (kqueue.cpp).
// LOCKING: see kqueue.cpp.
#pragma once
#include "kqueue/kq.hpp"

namespace kqlayer {
// The kqueue numbered fd, or null.
std::shared_ptr<kq> find_kq(int fd);
// Forget fd if it still names q: its libkevent queue is gone, or
// `number_closed` (the caller saw fd not open), and then libkevent frees it.
void retire_kq(int fd, const kq *q, bool number_closed);
} // namespace kqlayer
