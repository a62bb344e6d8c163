// SPDX-License-Identifier: MIT
// table.hpp — the kqueues of the process by number (kqueue.cpp).
// LOCKING: see kqueue.cpp.
#pragma once
#include "kqueue/kq.hpp"

namespace kqlayer {
// The kqueue numbered fd, or null.
std::shared_ptr<kq> find_kq(int fd);
// Forget fd if it still names q (its libkevent queue is gone, or its number
// closed: then libkevent frees the queue).
void retire_kq(int fd, const kq *q);
} // namespace kqlayer
