// SPDX-License-Identifier: MIT
// coro.hpp — the C++20 coroutine layer of libkevent, header-only, on the
// public C ABI and the C++ queue only. One concept per header:
//   coro/io_context.hpp    the scheduler: run from N threads, post, stop,
//                          work tracking
//   coro/task.hpp          task<T>: lazy, move-only, symmetric transfer
//   coro/spawn.hpp         spawn (detached / with completion), sync_wait
//   coro/when.hpp          when_all, when_any (the losers cancelled)
//   coro/operation.hpp     the awaiter under every awaitable: no allocation,
//                          cancellation by std::stop_token (stop_on)
//   coro/readiness.hpp     readable, writable
//   coro/timer.hpp         sleep_for, sleep_until
//   coro/aio.hpp           recv, send, accept, connect, sendfile, read,
//                          write, fsync
//   coro/origins.hpp       user_event/notify, signal, process_exit,
//                          inode_change
//   coro/timeout.hpp       with_timeout
// Lifetime, threading and cancellation rules: docs/coroutines.md.
#pragma once

#include <kevent/coro/aio.hpp>
#include <kevent/coro/io_context.hpp>
#include <kevent/coro/operation.hpp>
#include <kevent/coro/origins.hpp>
#include <kevent/coro/readiness.hpp>
#include <kevent/coro/socket.hpp>
#include <kevent/coro/spawn.hpp>
#include <kevent/coro/task.hpp>
#include <kevent/coro/timeout.hpp>
#include <kevent/coro/timer.hpp>
#include <kevent/coro/when.hpp>
