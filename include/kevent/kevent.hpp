// SPDX-License-Identifier: MIT
// kevent.hpp — the C++20 API of libkevent, header-only, inline over kevent.h.
//
// What it is for: using a kevent queue from C++ without hand-filling
// ukevent.id.raw[0] or checking -1/errno by hand.
//   - kevent::queue owns one kevent descriptor (RAII, move-only) and wraps
//     kevent_ctl / kevent_get_events / kevent_get_stats, the asynchronous
//     I/O calls (kevent_aio_*) and kevent_inode_names.
//   - kevent::socket_event, poll_event, pipe_event, timer_event, user_event,
//     signal_event, inode_event, proc_event build a ukevent for one origin;
//     chain .oneshot(), .edge(), .level(), .last_check(), .always_queue(),
//     .ready(), .cookie(...) (and .nomask() on a signal, .reap() on a
//     process) and convert the result to a ukevent.
//   - Every fallible call comes twice (Asio style): a throwing form
//     (std::system_error carrying the errno) and a noexcept form taking a
//     std::error_code& last, which is cleared on success.
//   - kevent::ring_view (one consumer) and kevent::ring_consumers (several,
//     claiming with compare-and-swap) read a queue's ring and do the index
//     arithmetic of kevent_wait / kevent_commit; see "the ring" in ring.hpp.
//
//     kevent::queue q;
//     ukevent evs[] = {kevent::socket_event(fd, kevent::socket::recv).cookie(conn),
//                      kevent::timer_event(std::chrono::milliseconds(100))};
//     for (ukevent &done : q.add(evs))    // entries copied back by ADD
//         ...;                            // ready at ADD, or failed (broken())
//     ukevent buf[64];
//     for (const ukevent &ev : q.get_events(buf, 1, std::chrono::seconds(1)))
//         ...;
//
// Thread safety: the C calls may be made from any thread at any time on one
// queue, so add/remove/modify/ready/wake/get_events/stats on one
// kevent::queue object may run concurrently from several threads. Moving,
// assigning, close(), release() and destroying the object must not race with
// any other use of it. Builders are plain values.
//
// Lifetime: a queue owns its descriptor from construction until close(),
// release() or destruction; destruction closes it (errors ignored; call
// close() to see them). Closing a queue removes every registration. A
// moved-from queue is empty (fd() == -1); calls on an empty queue fail with
// EBADF. Spans returned by add/remove/modify/ready/get_events are prefixes of
// the caller's own buffer and live as long as it does.
//
// Note: kevent::socket and kevent::pipe are namespaces of event bits; with
// `using namespace kevent;` an unqualified call to ::socket() or ::pipe()
// becomes ambiguous, so qualify those.
#pragma once
// <sys/event.h> of libkevent-kqueue makes `kevent` a macro in C++ (see
// there); the namespace below keeps its name.
#pragma push_macro("kevent")
#undef kevent

// The parts, each of which compiles on its own; this header includes them
// all, and including one of them alone is as good when that is all a file
// uses:
//   events.hpp   origins, event bits, the builders, reading a delivered entry
//   queue.hpp    kevent::queue (kevent_init ... kevent_close, AIO, inode names)
//   ring.hpp     kevent::ring_view, kevent::ring_consumers
//   error.hpp    errno as std::error_code; the C++20 check
//   timeout.hpp  a std::chrono timeout as the C calls' timespec
#include <kevent/error.hpp>
#include <kevent/events.hpp>
#include <kevent/queue.hpp>
#include <kevent/ring.hpp>
#include <kevent/timeout.hpp>

// The same namespace under a second name, for a translation unit that also
// includes libkevent-kqueue's <sys/event.h>, where `kevent` names the BSD
// call and struct (docs/kqueue.md).
namespace libkevent = ::kevent;

#pragma pop_macro("kevent")
