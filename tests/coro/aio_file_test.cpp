// SPDX-License-Identifier: MIT
// aio_file_test.cpp — the awaitables of the file calls on their own: fsync
// and sendfile succeed and fail in both forms (throwing, std::error_code),
// and read, write and fsync honour a std::stop_token: a stop before the
// co_await starts nothing, a stop racing the operation resumes the
// coroutine exactly once, with the whole result or with operation_canceled,
// and a cancelled read or write has not touched the file or its position
// (kevent_aio_read(3), Cancelling).
#include "coro_fixture.hpp"

#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

using namespace kevent_test;
namespace coro = kevent::coro;

namespace {

constexpr int file_race_rounds = race_rounds / 10; // a file read per round

class AioFile : public CoroTest {
protected:
	int fd = -1;
	void SetUp() override {
		CoroTest::SetUp();
		if (IsSkipped() || HasFatalFailure())
			return;
		char path[] = "/tmp/kevent_coro_file_XXXXXX";
		fd = ::mkstemp(path);
		ASSERT_GE(fd, 0);
		::unlink(path);
	}
	void TearDown() override {
		if (fd >= 0)
			::close(fd);
		CoroTest::TearDown();
	}
	// Nothing is left in flight or registered but the context's wake.
	void expect_idle() {
		EXPECT_EQ(0u, q.stats().inflight_io);
		EXPECT_EQ(1u, q.stats().registered);
	}
};

// A descriptor number that is not open in this process.
constexpr int closed_fd = 1000000;

coro::task<void> fsync_throwing(coro::io_context &c, int f, bool datasync) {
	co_await coro::fsync(c, f, datasync);
}
coro::task<void> fsync_ec(coro::io_context &c, int f, bool datasync, std::error_code &ec) {
	co_await coro::fsync(c, f, datasync, ec);
}
coro::task<size_t> sendfile_throwing(coro::io_context &c, int out, int in, int64_t off,
				     size_t len) {
	co_return co_await coro::sendfile(c, out, in, off, len);
}
coro::task<size_t> sendfile_ec(coro::io_context &c, int out, int in, int64_t off, size_t len,
			       std::error_code &ec) {
	co_return co_await coro::sendfile(c, out, in, off, len, ec);
}

std::string drain(int fd) {
	std::string s;
	char b[64];
	ssize_t n;
	while ((n = ::read(fd, b, sizeof b)) > 0)
		s.append(b, static_cast<size_t>(n));
	return s;
}

TEST_P(AioFile, FsyncSucceedsInBothForms) {
	ASSERT_EQ(4, ::write(fd, "sync", 4));
	EXPECT_NO_THROW(coro::sync_wait(ctx(), fsync_throwing(ctx(), fd, false)));
	EXPECT_NO_THROW(coro::sync_wait(ctx(), fsync_throwing(ctx(), fd, true)));
	std::error_code ec = std::make_error_code(std::errc::io_error); // must be cleared
	coro::sync_wait(ctx(), fsync_ec(ctx(), fd, false, ec));
	EXPECT_FALSE(ec) << ec.message();
	ec = std::make_error_code(std::errc::io_error);
	coro::sync_wait(ctx(), fsync_ec(ctx(), fd, true, ec));
	EXPECT_FALSE(ec) << ec.message();
	expect_idle();
}

// A descriptor that is not open fails in the completion with EBADF;
// a socket cannot be synced (EINVAL, as fsync(2) says).
TEST_P(AioFile, FsyncFailsInBothForms) {
	std::error_code ec;
	coro::sync_wait(ctx(), fsync_ec(ctx(), closed_fd, false, ec));
	EXPECT_EQ(EBADF, ec.value()) << ec.message();
	try {
		coro::sync_wait(ctx(), fsync_throwing(ctx(), closed_fd, true));
		ADD_FAILURE() << "fsync of a closed descriptor did not throw";
	} catch (const std::system_error &e) {
		EXPECT_EQ(EBADF, e.code().value()) << e.what();
	}
	socket_pair sp;
	ec.clear();
	coro::sync_wait(ctx(), fsync_ec(ctx(), sp.fd[0], false, ec));
	EXPECT_EQ(EINVAL, ec.value()) << ec.message();
	expect_idle();
}

TEST_P(AioFile, SendfileSucceedsInBothForms) {
	ASSERT_EQ(10, ::pwrite(fd, "0123456789", 10, 0));
	socket_pair sp;
	EXPECT_EQ(4u, coro::sync_wait(ctx(), sendfile_throwing(ctx(), sp.fd[0], fd, 2, 4)));
	EXPECT_EQ("2345", drain(sp.fd[1]));
	std::error_code ec = std::make_error_code(std::errc::io_error);
	EXPECT_EQ(3u, coro::sync_wait(ctx(), sendfile_ec(ctx(), sp.fd[0], fd, 7, 100, ec)))
		<< "cut at the end of the file";
	EXPECT_FALSE(ec) << ec.message();
	EXPECT_EQ("789", drain(sp.fd[1]));
	expect_idle();
}

// An input descriptor that is not open fails with EBADF in both forms, and
// nothing reaches the socket.
TEST_P(AioFile, SendfileFailsInBothForms) {
	socket_pair sp;
	std::error_code ec;
	EXPECT_EQ(0u, coro::sync_wait(ctx(), sendfile_ec(ctx(), sp.fd[0], closed_fd, 0, 4, ec)));
	EXPECT_EQ(EBADF, ec.value()) << ec.message();
	try {
		coro::sync_wait(ctx(), sendfile_throwing(ctx(), sp.fd[0], closed_fd, 0, 4));
		ADD_FAILURE() << "sendfile from a closed descriptor did not throw";
	} catch (const std::system_error &e) {
		EXPECT_EQ(EBADF, e.code().value()) << e.what();
	}
	EXPECT_EQ("", drain(sp.fd[1]));
	expect_idle();
}

// --- cancellation -------------------------------------------------------

enum class file_op { read, write, fsync };

struct outcome {
	std::atomic<int> resumed{0};
	std::atomic<int> done{0};
	std::atomic<int> canceled{0};
	std::atomic<int> other{0};
	size_t bytes = 0;
};

// read and write at off -1 (the file position), so a cancelled operation
// can be told apart: it has not moved the position.
coro::task<void> stoppable(coro::io_context &c, file_op op, int f, std::span<std::byte> buf,
			   std::stop_token t, outcome &o) {
	std::error_code ec;
	size_t n = 0;
	switch (op) {
	case file_op::read:
		n = co_await coro::read(c, f, buf, -1, ec).stop_on(std::move(t));
		break;
	case file_op::write:
		n = co_await coro::write(c, f, buf, -1, ec).stop_on(std::move(t));
		break;
	case file_op::fsync:
		co_await coro::fsync(c, f, false, ec).stop_on(std::move(t));
		break;
	}
	o.bytes = n;
	if (!ec)
		o.done.fetch_add(1);
	else if (ec == std::errc::operation_canceled)
		o.canceled.fetch_add(1);
	else
		o.other.fetch_add(1);
	o.resumed.fetch_add(1);
}

class AioFileCancel : public AioFile {
protected:
	// A stop requested before the co_await: the operation never starts.
	void stop_first(file_op op) {
		ASSERT_EQ(4, ::write(fd, "abcd", 4));
		ASSERT_EQ(0, ::lseek(fd, 0, SEEK_SET));
		std::byte buf[4] = {std::byte{'w'}, std::byte{'x'}, std::byte{'y'}, std::byte{'z'}};
		std::stop_source src;
		src.request_stop();
		outcome o;
		uint64_t added = q.stats().added;
		coro::sync_wait(ctx(), stoppable(ctx(), op, fd, buf, src.get_token(), o));
		EXPECT_EQ(1, o.resumed.load());
		EXPECT_EQ(1, o.canceled.load());
		EXPECT_EQ(added, q.stats().added) << "nothing was started";
		EXPECT_EQ(0, ::lseek(fd, 0, SEEK_CUR)) << "the position did not move";
		char back[8] = {};
		EXPECT_EQ(4, ::pread(fd, back, sizeof back, 0)) << "nothing was written";
		EXPECT_EQ("abcd", std::string(back, 4));
		EXPECT_EQ(std::byte{'w'}, buf[0]) << "nothing was read";
		expect_idle();
	}

	// A stop from another thread races each operation: the coroutine resumes
	// exactly once; with the whole result (the position moved by it, the
	// bytes are the file's) or cancelled (the position and the file are as
	// before). Both outcomes are legal; neither may come with the other.
	void stop_racing(file_op op) {
		const std::string data = "0123456789abcdef";
		ASSERT_EQ(16, ::pwrite(fd, data.data(), data.size(), 0));
		std::string file = data; // what the file holds, as the rounds change it
		int64_t pos = 0;
		int total_done = 0, total_canceled = 0;
		for (int i = 0; i < file_race_rounds; ++i) {
			// Each round reads or writes 4 bytes at the position, wrapping.
			if (pos + 4 > 16)
				pos = 0;
			ASSERT_EQ(pos, ::lseek(fd, pos, SEEK_SET));
			std::byte buf[4];
			const char w[4] = {'W', 'X', 'Y', static_cast<char>('A' + i % 26)};
			std::memcpy(buf, op == file_op::write ? w : "....", 4);
			std::stop_source src;
			outcome o;
			coro::spawn(ctx(), stoppable(ctx(), op, fd, buf, src.get_token(), o));
			ctx().restart();
			std::thread stopper([&] { src.request_stop(); });
			ctx().run();
			stopper.join();
			ctx().restart();
			ctx().run(); // a stop that came after the resume finds nothing
			ASSERT_EQ(1, o.resumed.load()) << "round " << i;
			ASSERT_EQ(0, o.other.load()) << "round " << i;
			ASSERT_EQ(0u, q.stats().inflight_io) << "round " << i;
			ASSERT_EQ(1u, q.stats().registered) << "round " << i;
			int64_t now = ::lseek(fd, 0, SEEK_CUR);
			char back[4];
			ASSERT_EQ(4, ::pread(fd, back, 4, pos));
			if (o.done.load() == 1) {
				++total_done;
				if (op == file_op::fsync)
					continue;
				ASSERT_EQ(4u, o.bytes) << "round " << i;
				ASSERT_EQ(pos + 4, now) << "round " << i;
				if (op == file_op::read) {
					ASSERT_EQ(0, std::memcmp(buf, file.data() + pos, 4))
						<< "round " << i;
				} else {
					ASSERT_EQ(0, std::memcmp(back, w, 4)) << "round " << i;
					file.replace(static_cast<size_t>(pos), 4, w, 4);
				}
				pos = now;
			} else {
				ASSERT_EQ(1, o.canceled.load()) << "round " << i;
				++total_canceled;
				ASSERT_EQ(pos, now) << "a cancelled operation moved the position";
				if (op == file_op::read) {
					ASSERT_EQ(0, std::memcmp(buf, "....", 4))
						<< "a cancelled read wrote the buffer";
				}
				ASSERT_EQ(0, std::memcmp(back, file.data() + pos, 4))
					<< "a cancelled write changed the file";
			}
		}
		EXPECT_EQ(file_race_rounds, total_done + total_canceled);
		std::printf("[   info   ] %d completed, %d cancelled\n", total_done,
			    total_canceled);
	}
};

TEST_P(AioFileCancel, StopBeforeReadStartsNothing) { stop_first(file_op::read); }
TEST_P(AioFileCancel, StopBeforeWriteStartsNothing) { stop_first(file_op::write); }
TEST_P(AioFileCancel, StopBeforeFsyncStartsNothing) { stop_first(file_op::fsync); }
TEST_P(AioFileCancel, StopRacingReadResumesOnce) { stop_racing(file_op::read); }
TEST_P(AioFileCancel, StopRacingWriteResumesOnce) { stop_racing(file_op::write); }
TEST_P(AioFileCancel, StopRacingFsyncResumesOnce) { stop_racing(file_op::fsync); }

KEVENT_INSTANTIATE_BACKENDS(AioFile);
KEVENT_INSTANTIATE_BACKENDS(AioFileCancel);

} // namespace
