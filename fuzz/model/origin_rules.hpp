// SPDX-License-Identifier: MIT
// origin_rules — what kevent(7) "Origins", the origins' man7 pages and
// docs/semantics.md ("ADD — per-entry errors", "BROKEN, closed and reused fds")
// say about each origin the model knows: which requests are valid, which POLL
// bits an fd kevent needs, and how reported bits turn into ret_data and BROKEN.
// Written from the documents, not from src/origin, so that the two can
// disagree.
//
// The model knows SOCKET, PIPE, POLL, TIMER and UNOTIFY; NAIO and AIO
// answer EINVAL (kevent_aio_*(3) start them), POSIX_TIMER ENOSYS. INODE, SIGNAL and PROC are left
// to their own tests (their readiness is not something a byte string can drive cheaply).
#pragma once

#include <kevent/kevent.h>

#include <cstdint>

namespace kevent_model {

// An origin the harness may generate (everything but INODE/SIGNAL/PROC).
bool modelled_type(uint32_t type);
bool is_fd_origin(uint32_t type);

// Static checks of ADD and MODIFY: 0, EINVAL or ENOSYS (type < KEVENT_MAX).
int validate_request(const ukevent &uk);

// fd origins: POLL bits to watch for this request.
uint32_t interest(const ukevent &uk);

struct fd_outcome {
	uint32_t fired = 0;
	bool broken = false;
	int err = 0;
};

// fd origins: what `revents` (POLL bits the kernel reported) means.
fd_outcome translate(const ukevent &uk, uint32_t revents);

// TIMER: the interval in the id, in ns.
int64_t timer_interval(const ukevent &uk);

} // namespace kevent_model
