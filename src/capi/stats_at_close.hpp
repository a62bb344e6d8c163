// SPDX-License-Identifier: MIT
// stats_at_close — KEVENT_STATS_AT_CLOSE=1 in the environment makes
// kevent_close print the queue's statistics to stderr, one key=value line,
// before the queue goes away (see kevent_close(3)).
#pragma once

namespace kevent::detail {

// Called at the start of kevent_close(kfd), while the queue still exists.
// Does nothing unless the switch is on or when kfd is not a queue; never
// changes errno.
void stats_at_close(int kfd) noexcept;

} // namespace kevent::detail
