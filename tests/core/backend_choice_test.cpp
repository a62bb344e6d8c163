// SPDX-License-Identifier: MIT
// Run-time backend choice (kevent_init(3)): AUTO is epoll; KEVENT_BACKEND
// overrides AUTO; a backend that is unavailable fails with ENOSYS. KEVENT_URING_DISABLE=1 stands
// for a failed io_uring probe (an old kernel, io_uring_disabled, seccomp).
#include "kevent_test.hpp"

#include <cstdlib>

namespace {

// The backend a fresh queue with `flags` runs on, or -errno.
int backend_of(unsigned flags) {
	int kfd = kevent_init(nullptr, 0, flags);
	if (kfd < 0)
		return -errno;
	kevent_stats st = kevent_test::queue_stats(kfd);
	kevent_close(kfd);
	return static_cast<int>(st.backend);
}

// Sets (or clears) an environment variable for one test.
struct scoped_env {
	const char *name;
	scoped_env(const char *n, const char *v) : name(n) {
		if (v)
			setenv(n, v, 1);
		else
			unsetenv(n);
	}
	~scoped_env() { unsetenv(name); }
};

bool uring_works() { return backend_of(KEVENT_INIT_URING) == int(KEVENT_BACKEND_URING); }

TEST(BackendChoice, ExplicitFlagsGiveThatBackend) {
	scoped_env none("KEVENT_BACKEND", nullptr);
	EXPECT_EQ(int(KEVENT_BACKEND_EPOLL), backend_of(KEVENT_INIT_EPOLL));
	int u = backend_of(KEVENT_INIT_URING);
	EXPECT_TRUE(u == int(KEVENT_BACKEND_URING) || u == -ENOSYS) << u;
	EXPECT_EQ(-EINVAL, backend_of(0x7)) << "an unknown backend number";
}

// epoll, also where io_uring works: the faster backend on most workloads
// (kevent_init(3)).
TEST(BackendChoice, AutoIsEpollWhereverIoUringWorks) {
	scoped_env none("KEVENT_BACKEND", nullptr);
	EXPECT_EQ(int(KEVENT_BACKEND_EPOLL), backend_of(KEVENT_INIT_AUTO));
	if (uring_works()) {
		EXPECT_EQ(int(KEVENT_BACKEND_URING), backend_of(KEVENT_INIT_URING));
	}
}

TEST(BackendChoice, AFailedProbeMeansEpollForAutoAndEnosysForUring) {
	scoped_env off("KEVENT_URING_DISABLE", "1");
	EXPECT_EQ(-ENOSYS, backend_of(KEVENT_INIT_URING));
	EXPECT_EQ(int(KEVENT_BACKEND_EPOLL), backend_of(KEVENT_INIT_AUTO));
	EXPECT_EQ(int(KEVENT_BACKEND_EPOLL), backend_of(KEVENT_INIT_EPOLL));
}

TEST(BackendChoice, EnvironmentOverridesAutoOnly) {
	{
		scoped_env e("KEVENT_BACKEND", "epoll");
		EXPECT_EQ(int(KEVENT_BACKEND_EPOLL), backend_of(KEVENT_INIT_AUTO));
	}
	{
		scoped_env e("KEVENT_BACKEND", "uring");
		EXPECT_EQ(uring_works() ? int(KEVENT_BACKEND_URING) : -ENOSYS,
			  backend_of(KEVENT_INIT_AUTO));
		EXPECT_EQ(int(KEVENT_BACKEND_EPOLL), backend_of(KEVENT_INIT_EPOLL)) << "an "
										       "explicit "
										       "flag wins";
	}
	{
		scoped_env e("KEVENT_BACKEND", "kqueue");
		EXPECT_EQ(-EINVAL, backend_of(KEVENT_INIT_AUTO));
	}
}

} // namespace
