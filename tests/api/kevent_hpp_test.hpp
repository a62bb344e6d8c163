// SPDX-License-Identifier: MIT
// kevent_hpp_test.hpp — what the tests of the C++ API share
// (events_hpp_test, queue_hpp_test, aio_hpp_test): the errno a throwing call
// raised, the libuv-style leak check (process-wide statistics show no queue,
// registration or I/O left), and the fixture KeventHppTest, which opens a
// kevent::queue on each backend and closes it, checking for leaks, after
// every case.
#pragma once

#include <kevent/queue.hpp>

#include "kevent_test.hpp"

#include <fcntl.h>

#include <cerrno>
#include <system_error>

namespace kevent_hpp_test {

using kevent_test::backend_case;

// The errno a throwing call raised, or 0 if it did not throw.
template <class F> int thrown_errno(F &&f) {
	try {
		f();
	} catch (const std::system_error &e) {
		EXPECT_EQ(std::system_category(), e.code().category());
		return e.code().value();
	}
	return 0;
}

inline void expect_no_leak() {
	kevent_stats st = kevent_test::global_stats();
	EXPECT_EQ(0u, st.queues) << "a queue leaked";
	EXPECT_EQ(0u, st.registered) << "a registration leaked";
	EXPECT_EQ(0u, st.inflight_io) << "an I/O leaked";
}

inline bool fd_is_open(int fd) { return fcntl(fd, F_GETFD) >= 0 || errno != EBADF; }

// ---- queue cases, once per backend ------------------------------------------

class KeventHppTest : public ::testing::TestWithParam<backend_case> {
protected:
	kevent::queue q;

	kevent::backend backend() const { return static_cast<kevent::backend>(GetParam().flags); }

	void SetUp() override {
		std::error_code ec;
		q = kevent::queue(backend(), ec);
		if (ec == std::errc::function_not_supported ||
		    ec == std::errc::operation_not_supported)
			GTEST_SKIP() << "backend " << GetParam().name
				     << " is not available here: " << ec.message();
		ASSERT_FALSE(ec) << ec.message();
		ASSERT_TRUE(q);
	}

	void TearDown() override {
		std::error_code ec;
		q.close(ec);
		EXPECT_FALSE(ec) << ec.message();
		expect_no_leak();
	}
};

} // namespace kevent_hpp_test
