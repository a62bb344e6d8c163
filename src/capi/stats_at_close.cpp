// SPDX-License-Identifier: MIT
// stats_at_close — the KEVENT_STATS_AT_CLOSE switch (kevent_close(3)).
//
// The environment is read at every close rather than once, so that a program
// may turn the switch on for the queues it closes later; a close is rare
// enough that one getenv() costs nothing. The line goes out with one
// write(2), so lines of queues closed by several threads do not interleave.
#include "capi/stats_at_close.hpp"

#include "origin/origin.hpp"

#include <kevent/kevent.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

namespace kevent::detail {

namespace {

bool switched_on() {
	const char *env = std::getenv("KEVENT_STATS_AT_CLOSE");
	return env && *env && std::strcmp(env, "0") != 0;
}

const char *backend_name(uint32_t backend) {
	switch (backend) {
	case KEVENT_BACKEND_EPOLL:
		return "epoll";
	case KEVENT_BACKEND_URING:
		return "uring";
	default:
		return nullptr;
	}
}

} // namespace

void stats_at_close(int kfd) noexcept {
	if (kfd < 0 || !switched_on())
		return; // kfd == -1 would be the process-wide view, not a queue
	int saved_errno = errno;
	kevent_stats st{};
	if (kevent_get_stats(kfd, &st, sizeof st) < 0) {
		errno = saved_errno; // not a queue: kevent_close reports it
		return;
	}
	char line[1024];
	size_t len = 0;
	auto add = [&](const char *fmt, auto... args) {
		if (len >= sizeof line)
			return;
		int w = std::snprintf(line + len, sizeof line - len, fmt, args...);
		if (w > 0)
			len += static_cast<size_t>(w);
	};
	add("kevent stats at close: kfd=%d", kfd);
	if (const char *name = backend_name(st.backend))
		add(" backend=%s", name);
	else
		add(" backend=%" PRIu32, st.backend);
	add(" registered=%" PRIu64 " ready=%" PRIu64 " inflight_io=%" PRIu64, st.registered,
	    st.ready, st.inflight_io);
	add(" added=%" PRIu64 " removed=%" PRIu64 " delivered=%" PRIu64 " broken=%" PRIu64,
	    st.added, st.removed, st.delivered, st.broken);
	add(" wakeups=%" PRIu64 " backend_calls=%" PRIu64, st.wakeups, st.backend_calls);
	// Live registrations by origin (its name in the origin table), only
	// the origins that have some.
	for (uint32_t t = 0; t < KEVENT_MAX; t++)
		if (st.registered_by_type[t])
			add(" registered.%s=%" PRIu64, origin_info_for(t).name,
			    st.registered_by_type[t]);
	if (len >= sizeof line)
		len = sizeof line - 1;
	line[len++] = '\n';
	for (size_t off = 0; off < len;) {
		ssize_t w = ::write(STDERR_FILENO, line + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += static_cast<size_t>(w);
	}
	errno = saved_errno;
}

} // namespace kevent::detail
