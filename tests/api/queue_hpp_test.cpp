// SPDX-License-Identifier: MIT
// queue_hpp_test.cpp — kevent::queue (include/kevent/queue.hpp).
//
// Every fallible call is checked in both forms (throwing and
// std::error_code&) to give the same errno; queue cases run once per backend
// and end with the libuv-style leak check (kevent_hpp_test.hpp). The AIO
// calls are in aio_hpp_test.cpp, the builders in events_hpp_test.cpp.
#include <kevent/queue.hpp>

#include "kevent_hpp_test.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

using namespace kevent_hpp_test;

// ---- queue lifetime ---------------------------------------------------------

TEST(KeventHppQueue, EmptyQueueFailsWithEbadfInBothForms) {
	kevent::queue q(kevent::queue::adopt, -1);
	EXPECT_FALSE(q);
	EXPECT_EQ(-1, q.fd());
	ukevent uk = kevent::user_event(1);
	std::array<ukevent, 4> buf{};
	std::error_code ec;

	EXPECT_EQ(EBADF, thrown_errno([&] { (void)q.add(uk); }));
	EXPECT_TRUE(q.add(uk, ec).empty());
	EXPECT_EQ(EBADF, ec.value());

	EXPECT_EQ(EBADF, thrown_errno([&] { (void)q.get_events(buf, 1, 0ns); }));
	EXPECT_TRUE(q.get_events(buf, 1, 0ns, ec).empty());
	EXPECT_EQ(EBADF, ec.value());

	EXPECT_EQ(EBADF, thrown_errno([&] { q.wake(); }));
	q.wake(ec);
	EXPECT_EQ(EBADF, ec.value());

	EXPECT_EQ(EBADF, thrown_errno([&] { (void)q.stats(); }));
	(void)q.stats(ec);
	EXPECT_EQ(EBADF, ec.value());

	// Closing an empty queue is a no-op in both forms.
	EXPECT_EQ(0, thrown_errno([&] { q.close(); }));
	q.close(ec);
	EXPECT_FALSE(ec);
	expect_no_leak();
}

TEST(KeventHppQueue, UnknownBackendIsEinvalInBothForms) {
	auto bad = static_cast<kevent::backend>(0x80000000u);
	EXPECT_EQ(EINVAL, thrown_errno([&] { kevent::queue q(bad); }));
	std::error_code ec;
	kevent::queue q(bad, ec);
	EXPECT_EQ(EINVAL, ec.value());
	EXPECT_FALSE(q);
	expect_no_leak();
}

// ---- queue cases, once per backend ------------------------------------------

TEST_P(KeventHppTest, RaiiClosesTheDescriptor) {
	int fd;
	{
		kevent::queue inner(backend());
		fd = inner.fd();
		ASSERT_GE(fd, 0);
		EXPECT_TRUE(fd_is_open(fd));
		EXPECT_NE(0, fcntl(fd, F_GETFD) & FD_CLOEXEC);
		ukevent uk = kevent::user_event(7);
		EXPECT_TRUE(inner.add(uk).empty());
		EXPECT_EQ(1u, inner.stats().registered);
		EXPECT_EQ(2u, kevent::queue::global_stats().queues);
	}
	EXPECT_FALSE(fd_is_open(fd));
	EXPECT_EQ(1u, kevent::queue::global_stats().queues);
	EXPECT_EQ(0u, kevent::queue::global_stats().registered);
}

TEST_P(KeventHppTest, MoveTransfersOwnership) {
	kevent::queue a(backend());
	int fd = a.fd();
	kevent::queue b(std::move(a));
	EXPECT_EQ(-1, a.fd());
	EXPECT_FALSE(a);
	EXPECT_EQ(fd, b.fd());

	kevent::queue c(backend());
	int cfd = c.fd();
	c = std::move(b); // closes c's old descriptor
	EXPECT_EQ(fd, c.fd());
	EXPECT_FALSE(fd_is_open(cfd));
	EXPECT_EQ(2u, kevent::queue::global_stats().queues);

	int raw = c.release();
	EXPECT_EQ(fd, raw);
	EXPECT_FALSE(c);
	EXPECT_EQ(0, kevent_close(raw));
	EXPECT_EQ(1u, kevent::queue::global_stats().queues);
}

// init_option::no_fd_check reaches kevent_init: after close(2) of fd() (what
// the option promises never to do) the checked queue says EBADF, the
// unchecked one does not look.
// kevent_init(3): no_fd_check is accepted and changes nothing — no call but
// kevent_close checks the number, with or without it.
TEST_P(KeventHppTest, NoFdCheckOptionIsAcceptedAndChangesNothing) {
	kevent::queue unchecked(backend(), kevent::init_option::no_fd_check);
	kevent::queue checked(backend());
	int fd_unchecked = unchecked.release(), fd_checked = checked.release();
	ASSERT_EQ(0, ::close(fd_unchecked));
	ASSERT_EQ(0, ::close(fd_checked));
	ukevent a = kevent::user_event(1), b = kevent::user_event(1);
	EXPECT_EQ(0, kevent_ctl(fd_unchecked, KEVENT_CTL_ADD, 1, &a)) << std::strerror(errno);
	EXPECT_EQ(0, kevent_ctl(fd_checked, KEVENT_CTL_ADD, 1, &b)) << std::strerror(errno);
	for (int fd : {fd_unchecked, fd_checked}) {
		errno = 0;
		EXPECT_EQ(-1, kevent_close(fd)) << "its number is closed already";
		EXPECT_EQ(EBADF, errno);
	}
	EXPECT_EQ(1u, kevent::queue::global_stats().queues) << "only the fixture's queue is left";
}

TEST_P(KeventHppTest, CloseThenUseFailsInBothForms) {
	kevent::queue other(backend());
	other.close();
	EXPECT_FALSE(other);
	ukevent uk = kevent::user_event(1);
	std::error_code ec;
	EXPECT_EQ(EBADF, thrown_errno([&] { (void)other.add(uk); }));
	(void)other.add(uk, ec);
	EXPECT_EQ(EBADF, ec.value());
}

TEST_P(KeventHppTest, GetEventsBadArgumentsSameErrnoInBothForms) {
	std::array<ukevent, 2> buf{};
	std::error_code ec;

	// max_nr == 0
	EXPECT_EQ(EINVAL, thrown_errno([&] { (void)q.get_events(std::span<ukevent>(), 0, 0ns); }));
	(void)q.get_events(std::span<ukevent>(), 0, 0ns, ec);
	EXPECT_EQ(EINVAL, ec.value());

	// min_nr > max_nr
	EXPECT_EQ(EINVAL, thrown_errno([&] { (void)q.get_events(buf, 3, 0ns); }));
	ec.clear();
	(void)q.get_events(buf, 3, 0ns, ec);
	EXPECT_EQ(EINVAL, ec.value());

	// Same with the deadline overload.
	auto past = std::chrono::steady_clock::now();
	EXPECT_EQ(EINVAL, thrown_errno([&] { (void)q.get_events(buf, 3, past); }));
	ec.clear();
	(void)q.get_events(buf, 3, past, ec);
	EXPECT_EQ(EINVAL, ec.value());
}

TEST_P(KeventHppTest, CtlTooManyEntriesSameErrnoInBothForms) {
	std::vector<ukevent> many(KEVENT_CTL_MAX + 1, kevent::user_event(1));
	std::error_code ec;
	EXPECT_EQ(EINVAL, thrown_errno([&] { (void)q.add(many); }));
	EXPECT_TRUE(q.add(many, ec).empty());
	EXPECT_EQ(EINVAL, ec.value());
	EXPECT_EQ(EINVAL, thrown_errno([&] { (void)q.remove(many); }));
	(void)q.remove(many, ec);
	EXPECT_EQ(EINVAL, ec.value());
	EXPECT_EQ(0u, q.stats().registered);
}

TEST_P(KeventHppTest, PerEntryErrorsAreCopiedBack) {
	int p[2];
	ASSERT_EQ(0, ::pipe2(p, O_CLOEXEC));
	ukevent evs[] = {kevent::user_event(1),
			 kevent::socket_event(p[0], kevent::socket::recv).cookie(11), // not a
										      // socket
			 kevent::user_event(2)};
	std::error_code ec;
	auto back = q.add(evs, ec);
	ASSERT_FALSE(ec) << ec.message();
	ASSERT_EQ(1u, back.size());
	EXPECT_EQ(&evs[0], back.data());
	EXPECT_TRUE(kevent::broken(back[0]));
	EXPECT_TRUE(kevent::done(back[0]));
	EXPECT_EQ(std::errc::invalid_argument, kevent::error_of(back[0]));
	EXPECT_EQ(11u, kevent::cookie_u64(back[0]));
	EXPECT_EQ(2u, q.stats().registered);

	// A closed fd: EBADF for that entry.
	::close(p[0]);
	::close(p[1]);
	ukevent gone = kevent::pipe_event(p[0], kevent::pipe::recv);
	auto b2 = q.add(gone);
	ASSERT_EQ(1u, b2.size());
	EXPECT_EQ(std::errc::bad_file_descriptor, kevent::error_of(b2[0]));

	ukevent rm[] = {kevent::user_event(1), kevent::user_event(2)};
	auto r = q.remove(rm);
	ASSERT_EQ(2u, r.size());
	EXPECT_FALSE(kevent::broken(r[0]));
	EXPECT_FALSE(kevent::broken(r[1]));
	EXPECT_TRUE(kevent::done(r[0]));
}

TEST_P(KeventHppTest, TimeoutWithChrono) {
	std::array<ukevent, 4> buf{};
	auto t0 = std::chrono::steady_clock::now();
	auto got = q.get_events(buf, 1, 50ms);
	auto waited = std::chrono::steady_clock::now() - t0;
	EXPECT_TRUE(got.empty());
	EXPECT_GE(waited, 45ms);
	EXPECT_LT(waited, 2s);

	// Zero and negative timeouts do not block (generous bound: shared, noisy CI).
	t0 = std::chrono::steady_clock::now();
	EXPECT_TRUE(q.get_events(buf, 1, 0ns).empty());
	EXPECT_TRUE(q.get_events(buf, 1, -5s).empty());
	EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms);
}

TEST_P(KeventHppTest, DeadlineWithSteadyClock) {
	std::array<ukevent, 4> buf{};
	auto t0 = std::chrono::steady_clock::now();
	auto got = q.get_events(buf, 1, t0 + 60ms);
	auto t1 = std::chrono::steady_clock::now();
	EXPECT_TRUE(got.empty());
	EXPECT_GE(t1, t0 + 55ms);
	EXPECT_LT(t1 - t0, 2s);

	// A deadline in the past returns at once.
	EXPECT_TRUE(q.get_events(buf, 1, t0 - 1s).empty());
	EXPECT_LT(std::chrono::steady_clock::now() - t1, 500ms);
}

TEST_P(KeventHppTest, TimerRoundTrip) {
	int tag = 0;
	ukevent t = kevent::timer_event(20ms).cookie(&tag);
	ASSERT_TRUE(q.add(t).empty());
	EXPECT_EQ(1u, q.stats().registered_by_type[KEVENT_TIMER]);

	std::array<ukevent, 4> buf{};
	auto t0 = std::chrono::steady_clock::now();
	auto got = q.get_events(buf, 1, 2s);
	ASSERT_EQ(1u, got.size());
	EXPECT_GE(std::chrono::steady_clock::now() - t0, 15ms);
	EXPECT_EQ(kevent::origin::timer, kevent::origin_of(got[0]));
	EXPECT_EQ(t.id.raw_u64, got[0].id.raw_u64);
	EXPECT_GE(got[0].ret_data[0], 1u);
	EXPECT_EQ(&tag, kevent::cookie_ptr<int>(got[0]));
	EXPECT_FALSE(kevent::broken(got[0]));

	// Periodic: it fires again.
	got = q.get_events(buf, 1, 2s);
	ASSERT_EQ(1u, got.size());

	ukevent rm = kevent::timer_event(20ms);
	auto r = q.remove(rm);
	ASSERT_EQ(1u, r.size());
	EXPECT_FALSE(kevent::broken(r[0]));
}

TEST_P(KeventHppTest, OneshotTimerIsDone) {
	ukevent t = kevent::timer_event(10ms).oneshot().cookie(5);
	ASSERT_TRUE(q.add(t).empty());
	std::array<ukevent, 2> buf{};
	auto got = q.get_events(buf, 1, std::chrono::steady_clock::now() + 2s);
	ASSERT_EQ(1u, got.size());
	EXPECT_TRUE(kevent::done(got[0]));
	EXPECT_EQ(5u, kevent::cookie_u64(got[0]));
	EXPECT_EQ(0u, q.stats().registered);
}

TEST_P(KeventHppTest, AbsoluteTimerOnSteadyAndSystemClocks) {
	// The builder's encoding must be the one the library reads: a one-shot
	// timer at now + 30 ms fires no earlier than that, on either clock.
	std::array<ukevent, 2> buf{};
	auto t0 = std::chrono::steady_clock::now();
	ukevent mono = kevent::timer_event(0s).at(t0 + 30ms).oneshot().cookie(1);
	ASSERT_TRUE(q.add(mono).empty());
	auto got = q.get_events(buf, 1, 2s);
	ASSERT_EQ(1u, got.size());
	EXPECT_GE(std::chrono::steady_clock::now(), t0 + 25ms);
	EXPECT_EQ(1u, kevent::cookie_u64(got[0]));
	EXPECT_TRUE(kevent::done(got[0]));

	t0 = std::chrono::steady_clock::now();
	ukevent wall = kevent::timer_event(0s)
			       .at(std::chrono::system_clock::now() + 30ms)
			       .oneshot()
			       .cookie(2);
	ASSERT_TRUE(q.add(wall).empty());
	got = q.get_events(buf, 1, 2s);
	ASSERT_EQ(1u, got.size());
	EXPECT_GE(std::chrono::steady_clock::now(), t0 + 25ms);
	EXPECT_EQ(2u, kevent::cookie_u64(got[0]));
	EXPECT_EQ(0u, q.stats().registered);

	// A time already past fires at once (ready at ADD: copied back, DONE).
	ukevent past = kevent::timer_event(0s).at(std::chrono::steady_clock::now() - 1s).oneshot();
	auto back = q.add(past);
	if (back.empty()) { // or queued: then it is delivered at once
		got = q.get_events(buf, 1, 1s);
		EXPECT_EQ(1u, got.size());
	} else {
		EXPECT_TRUE(kevent::done(back[0]));
		EXPECT_FALSE(kevent::broken(back[0])) << kevent::error_of(back[0]).message();
	}
}

TEST_P(KeventHppTest, SocketpairRoundTrip) {
	int sv[2];
	ASSERT_EQ(0, ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
	int tag = 0;
	ukevent uk = kevent::socket_event(sv[0], kevent::socket::recv).cookie(&tag);
	ASSERT_TRUE(q.add(uk).empty()) << "nothing to read yet, so nothing copied back";

	std::array<ukevent, 4> buf{};
	EXPECT_TRUE(q.get_events(buf, 1, 0ns).empty());

	ASSERT_EQ(5, ::write(sv[1], "hello", 5));
	auto got = q.get_events(buf, 1, 2s);
	ASSERT_EQ(1u, got.size());
	EXPECT_EQ(kevent::origin::socket, kevent::origin_of(got[0]));
	EXPECT_EQ(sv[0], kevent::fd_of(got[0]));
	EXPECT_TRUE(got[0].ret_data[0] & KEVENT_SOCKET_RECV);
	EXPECT_EQ(&tag, kevent::cookie_ptr<int>(got[0]));
	EXPECT_FALSE(kevent::broken(got[0]));

	char rb[16];
	EXPECT_EQ(5, ::read(sv[0], rb, sizeof rb));

	// MODIFY to SEND: there is room, so it is queued.
	ukevent mod = kevent::socket_event(sv[0], kevent::socket::send).cookie(2);
	auto m = q.modify(mod);
	ASSERT_EQ(1u, m.size());
	EXPECT_FALSE(kevent::broken(m[0]));
	got = q.get_events(buf, 1, 2s);
	ASSERT_EQ(1u, got.size());
	EXPECT_TRUE(got[0].ret_data[0] & KEVENT_SOCKET_SEND);
	EXPECT_EQ(2u, kevent::cookie_u64(got[0]));

	ukevent rm = kevent::socket_event(sv[0], kevent::socket::recv);
	auto r = q.remove(rm);
	ASSERT_EQ(1u, r.size());
	EXPECT_FALSE(kevent::broken(r[0]));
	// Removing again: not registered.
	r = q.remove(rm);
	ASSERT_EQ(1u, r.size());
	EXPECT_TRUE(kevent::broken(r[0]));
	EXPECT_EQ(std::errc::no_such_file_or_directory, kevent::error_of(r[0]));

	::close(sv[0]);
	::close(sv[1]);
}

TEST_P(KeventHppTest, ReadyAtAddIsCopiedBack) {
	int sv[2];
	ASSERT_EQ(0, ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
	ASSERT_EQ(1, ::write(sv[1], "x", 1));
	ukevent uk = kevent::socket_event(sv[0], kevent::socket::recv).cookie(3);
	auto back = q.add(uk);
	ASSERT_EQ(1u, back.size());
	EXPECT_TRUE(kevent::done(back[0]));
	EXPECT_FALSE(kevent::broken(back[0]));
	EXPECT_TRUE(back[0].ret_data[0] & KEVENT_SOCKET_RECV);
	EXPECT_EQ(0u, q.stats().registered);

	// With always_queue it stays registered and is delivered instead.
	ukevent aq = kevent::socket_event(sv[0], kevent::socket::recv).always_queue().cookie(4);
	EXPECT_TRUE(q.add(aq).empty());
	std::array<ukevent, 2> buf{};
	auto got = q.get_events(buf, 1, 2s);
	ASSERT_EQ(1u, got.size());
	EXPECT_EQ(4u, kevent::cookie_u64(got[0]));
	EXPECT_EQ(1u, q.stats().registered);
	ukevent rm = kevent::socket_event(sv[0], kevent::socket::recv);
	auto r = q.remove(rm);
	ASSERT_EQ(1u, r.size());
	EXPECT_FALSE(kevent::broken(r[0]));
	::close(sv[0]);
	::close(sv[1]);
}

TEST_P(KeventHppTest, UserEventReadyAndMissing) {
	ukevent u = kevent::user_event(99).cookie(8);
	ASSERT_TRUE(q.add(u).empty());

	ukevent evs[] = {kevent::user_event(12345), kevent::user_event(99).ret_data(1, 2)};
	auto missing = q.ready(evs);
	ASSERT_EQ(1u, missing.size());
	EXPECT_EQ(12345u, missing[0].id.raw_u64);
	EXPECT_TRUE(kevent::broken(missing[0]));

	std::array<ukevent, 2> buf{};
	auto got = q.get_events(buf, 1, 2s);
	ASSERT_EQ(1u, got.size());
	EXPECT_EQ(99u, got[0].id.raw_u64);
	EXPECT_EQ(8u, kevent::cookie_u64(got[0]));
	EXPECT_EQ(1u, got[0].ret_data[0]);
	EXPECT_EQ(2u, got[0].ret_data[1]);

	ukevent rm = kevent::user_event(99);
	(void)q.remove(rm);
}

TEST_P(KeventHppTest, ReadyFlagAtAdd) {
	ukevent u = kevent::user_event(5).ready().cookie(6);
	auto back = q.add(u);
	ASSERT_EQ(1u, back.size());
	EXPECT_TRUE(kevent::done(back[0]));
	EXPECT_EQ(6u, kevent::cookie_u64(back[0]));
	EXPECT_EQ(0u, q.stats().registered);
}

TEST_P(KeventHppTest, WakeReleasesABlockedWaiter) {
	std::atomic<bool> returned{false};
	std::atomic<size_t> count{99};
	std::thread t([&] {
		std::array<ukevent, 2> buf{};
		count = q.get_events(buf, 1, std::nullopt).size();
		returned = true;
	});
	std::this_thread::sleep_for(50ms);
	EXPECT_FALSE(returned.load());
	// Wake until it returns: a wake sent before the thread blocked would
	// come too early (kevent_ctl(3) wakes the threads blocked then).
	for (int i = 0; i < 200 && !returned; ++i) {
		q.wake();
		std::this_thread::sleep_for(10ms);
	}
	t.join();
	EXPECT_TRUE(returned.load());
	EXPECT_EQ(0u, count.load());
}

// backend_in_use in both forms; a closed queue has none (EBADF).
TEST_P(KeventHppTest, BackendInUseInBothForms) {
	std::error_code ec;
	EXPECT_EQ(q.backend_in_use(), q.backend_in_use(ec));
	EXPECT_FALSE(ec);
	kevent::queue closed(kevent::queue::adopt, -1);
	EXPECT_EQ(EBADF, thrown_errno([&] { (void)closed.backend_in_use(); }));
	(void)closed.backend_in_use(ec);
	EXPECT_EQ(std::errc::bad_file_descriptor, ec);
}

TEST_P(KeventHppTest, StatsCountRegistrations) {
	ukevent evs[] = {kevent::user_event(1), kevent::user_event(2), kevent::timer_event(1h)};
	ASSERT_TRUE(q.add(evs).empty());
	kevent_stats st = q.stats();
	EXPECT_EQ(1u, st.queues);
	EXPECT_EQ(3u, st.registered);
	EXPECT_EQ(2u, st.registered_by_type[KEVENT_UNOTIFY]);
	EXPECT_EQ(1u, st.registered_by_type[KEVENT_TIMER]);
	EXPECT_GE(st.added, 3u);
	std::error_code ec;
	kevent_stats st2 = q.stats(ec);
	EXPECT_FALSE(ec);
	EXPECT_EQ(3u, st2.registered);
	// Closing the queue (TearDown) drops all three registrations.
}

TEST_P(KeventHppTest, SignalNomaskRoundTrip) {
	ukevent s = kevent::signal_event(SIGUSR2).nomask().cookie(6);
	ASSERT_TRUE(q.add(s).empty());
	ASSERT_EQ(0, ::raise(SIGUSR2)); // consumed: the default action (terminate) does not happen
	ASSERT_EQ(0, ::raise(SIGUSR2));
	std::array<ukevent, 2> buf{};
	auto got = q.get_events(buf, 1, 2s);
	ASSERT_EQ(1u, got.size());
	EXPECT_EQ(kevent::origin::signal, kevent::origin_of(got[0]));
	EXPECT_EQ(6u, kevent::cookie_u64(got[0]));
	EXPECT_EQ(2u, got[0].ret_data[0]);
	ukevent rm = kevent::signal_event(SIGUSR2).nomask();
	EXPECT_FALSE(kevent::broken(q.remove(rm)[0]));
}

TEST_P(KeventHppTest, InodeRoundTrip) {
	char dir[] = "/tmp/kevent-hpp-XXXXXX";
	ASSERT_NE(nullptr, ::mkdtemp(dir));
	int dfd = ::open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_GE(dfd, 0);
	ukevent i = kevent::inode_event(dfd, kevent::inode::create).cookie(7);
	ASSERT_TRUE(q.add(i).empty());
	std::string file = std::string(dir) + "/made";
	::close(::open(file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	std::array<ukevent, 2> buf{};
	auto got = q.get_events(buf, 1, 2s);
	ASSERT_EQ(1u, got.size());
	EXPECT_EQ(KEVENT_INODE_CREATE, got[0].ret_data[0]);
	EXPECT_EQ(1u, got[0].ret_data[1]);
	alignas(8) char names[128];
	int n = kevent_inode_names(q.fd(), &got[0], names, sizeof names);
	ASSERT_GT(n, 0);
	EXPECT_STREQ("made", reinterpret_cast<kevent_inode_name *>(names)->name);
	ukevent rm = kevent::inode_event(dfd, kevent::inode::create);
	EXPECT_FALSE(kevent::broken(q.remove(rm)[0]));
	::unlink(file.c_str());
	::close(dfd);
	::rmdir(dir);
}

// kevent_inode_names through queue::inode_names: the names of a delivery as
// a range, in both forms; a buffer too small for the next record (EINVAL)
// takes nothing, so the name is still there for a bigger one.
TEST_P(KeventHppTest, InodeNamesInBothForms) {
	char dir[] = "/tmp/kevent-hpp-XXXXXX";
	ASSERT_NE(nullptr, ::mkdtemp(dir));
	int dfd = ::open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_GE(dfd, 0);
	ukevent i = kevent::inode_event(dfd, kevent::inode::create | kevent::inode::remove);
	ASSERT_TRUE(q.add(i).empty());
	std::array<ukevent, 2> buf{};
	std::array<std::byte, 256> names{};
	std::error_code ec;

	std::string made = std::string(dir) + "/made";
	::close(::open(made.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	auto got = q.get_events(buf, 1, 2s);
	ASSERT_EQ(1u, got.size());
	EXPECT_EQ(1u, got[0].ret_data[1]);
	std::vector<std::pair<kevent::inode_events, std::string>> seen;
	for (const kevent::inode_name &n : q.inode_names(got[0], names))
		seen.emplace_back(n.event, std::string(n.name));
	ASSERT_EQ(1u, seen.size());
	EXPECT_EQ(kevent::inode::create, seen[0].first);
	EXPECT_EQ("made", seen[0].second);
	EXPECT_TRUE(q.inode_names(got[0], names).empty()) << "the names were taken";
	EXPECT_TRUE(q.inode_names(got[0], names, ec).empty());
	EXPECT_FALSE(ec);

	ASSERT_EQ(0, ::unlink(made.c_str()));
	got = q.get_events(buf, 1, 2s);
	ASSERT_EQ(1u, got.size());
	std::span<std::byte> tiny = std::span(names).first(sizeof(kevent_inode_name));
	EXPECT_EQ(EINVAL, thrown_errno([&] { (void)q.inode_names(got[0], tiny); }));
	EXPECT_TRUE(q.inode_names(got[0], tiny, ec).empty());
	EXPECT_EQ(std::errc::invalid_argument, ec);
	seen.clear();
	for (const kevent::inode_name &n : q.inode_names(got[0], names, ec))
		seen.emplace_back(n.event, std::string(n.name));
	EXPECT_FALSE(ec) << ec.message();
	ASSERT_EQ(1u, seen.size());
	EXPECT_EQ(kevent::inode::remove, seen[0].first);
	EXPECT_EQ("made", seen[0].second);

	// Only INODE kevents have names; a closed queue has none.
	ukevent t = kevent::timer_event(1s);
	EXPECT_EQ(EINVAL, thrown_errno([&] { (void)q.inode_names(t, names); }));
	(void)q.inode_names(t, names, ec);
	EXPECT_EQ(std::errc::invalid_argument, ec);
	kevent::queue closed(kevent::queue::adopt, -1);
	EXPECT_EQ(EBADF, thrown_errno([&] { (void)closed.inode_names(got[0], names); }));
	(void)closed.inode_names(got[0], names, ec);
	EXPECT_EQ(std::errc::bad_file_descriptor, ec);

	ukevent rm = kevent::inode_event(dfd, kevent::inode::create);
	EXPECT_FALSE(kevent::broken(q.remove(rm)[0]));
	::close(dfd);
	::rmdir(dir);
}

TEST_P(KeventHppTest, ProcReapRoundTrip) {
	pid_t child = ::fork();
	ASSERT_GE(child, 0);
	if (child == 0)
		_exit(7);
	ukevent p = kevent::proc_event(child).reap().cookie(8);
	auto back = q.add(p); // the child may have exited already: ready at ADD
	ukevent ev{};
	if (back.empty()) {
		std::array<ukevent, 2> buf{};
		auto got = q.get_events(buf, 1, 2s);
		ASSERT_EQ(1u, got.size());
		ev = got[0];
	} else {
		ev = back[0];
		EXPECT_TRUE(kevent::done(ev));
	}
	EXPECT_FALSE(kevent::broken(ev));
	EXPECT_EQ(8u, kevent::cookie_u64(ev));
	EXPECT_TRUE(WIFEXITED(static_cast<int>(ev.ret_data[0])));
	EXPECT_EQ(7, WEXITSTATUS(static_cast<int>(ev.ret_data[0])));
	errno = 0;
	EXPECT_EQ(-1, ::waitpid(child, nullptr, WNOHANG)) << "reap() left the child";
	EXPECT_EQ(ECHILD, errno);
	if (back.empty()) {
		ukevent rm = kevent::proc_event(child);
		EXPECT_FALSE(kevent::broken(q.remove(rm)[0]));
	}
}

INSTANTIATE_TEST_SUITE_P(backend, KeventHppTest, ::testing::ValuesIn(::kevent_test::backends()),
			 ::kevent_test::backend_name);

} // namespace