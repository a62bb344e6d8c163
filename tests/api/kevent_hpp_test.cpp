// SPDX-License-Identifier: MIT
// kevent_hpp_test.cpp — the C++ API (include/kevent/kevent.hpp).
//
// Builders are checked field by field against the C ABI; every fallible call
// is checked in both forms (throwing and std::error_code&) to give the same
// errno; queue cases run once per backend and end with the libuv-style leak
// check (process-wide statistics show no queue, registration or I/O left).
#include <kevent/kevent.hpp>

#include "kevent_test.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using kevent_test::backend_case;

namespace {

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

void expect_no_leak() {
	kevent_stats st = kevent_test::global_stats();
	EXPECT_EQ(0u, st.queues) << "a queue leaked";
	EXPECT_EQ(0u, st.registered) << "a registration leaked";
	EXPECT_EQ(0u, st.inflight_io) << "an I/O leaked";
}

bool fd_is_open(int fd) { return fcntl(fd, F_GETFD) >= 0 || errno != EBADF; }

// ---- builders: no queue needed ----------------------------------------------

TEST(KeventHppBuilders, SocketEventFillsFdTypeAndBits) {
	ukevent uk = kevent::socket_event(17, kevent::socket::recv | kevent::socket::send);
	EXPECT_EQ(17u, uk.id.raw[0]);
	EXPECT_EQ(0u, uk.id.raw[1]);
	EXPECT_EQ(uint32_t(KEVENT_SOCKET), uk.type);
	EXPECT_EQ(KEVENT_SOCKET_RECV | KEVENT_SOCKET_SEND, uk.event);
	EXPECT_EQ(0u, uk.req_flags);
	EXPECT_EQ(0u, uk.ret_flags);
	EXPECT_EQ(0u, uk.ret_data[0]);
	EXPECT_EQ(0u, uk.ret_data[1]);
	EXPECT_EQ(0u, kevent::cookie_u64(uk));

	ukevent acc = kevent::socket_event(3, kevent::socket::accept);
	EXPECT_EQ(KEVENT_SOCKET_ACCEPT, acc.event);
}

TEST(KeventHppBuilders, PollPipeUserEvents) {
	ukevent p = kevent::poll_event(5, POLLIN | POLLRDHUP);
	EXPECT_EQ(5u, p.id.raw[0]);
	EXPECT_EQ(uint32_t(KEVENT_POLL), p.type);
	EXPECT_EQ(uint32_t(POLLIN | POLLRDHUP), p.event);

	ukevent pi = kevent::pipe_event(6, kevent::pipe::recv | kevent::pipe::send);
	EXPECT_EQ(6u, pi.id.raw[0]);
	EXPECT_EQ(uint32_t(KEVENT_PIPE), pi.type);
	EXPECT_EQ(KEVENT_PIPE_RECV | KEVENT_PIPE_SEND, pi.event);

	ukevent u = kevent::user_event(0x1122334455667788ull, 0x9);
	EXPECT_EQ(0x1122334455667788ull, u.id.raw_u64);
	EXPECT_EQ(uint32_t(KEVENT_UNOTIFY), u.type);
	EXPECT_EQ(0x9u, u.event);
}

TEST(KeventHppBuilders, FlagsChain) {
	auto b = kevent::socket_event(1, kevent::socket::recv);
	EXPECT_EQ(KEVENT_REQ_ONESHOT, b.oneshot().raw().req_flags);
	EXPECT_EQ(KEVENT_REQ_ET, b.edge().raw().req_flags);
	EXPECT_EQ(KEVENT_REQ_LEVEL, b.level().raw().req_flags);
	EXPECT_EQ(KEVENT_REQ_LAST_CHECK, b.last_check().raw().req_flags);
	EXPECT_EQ(KEVENT_REQ_ALWAYS_QUEUE, b.always_queue().raw().req_flags);
	EXPECT_EQ(KEVENT_REQ_READY, b.ready().raw().req_flags);
	EXPECT_EQ(KEVENT_REQ_WAKEUP_ALL, b.wakeup_all().raw().req_flags);
	EXPECT_EQ(KEVENT_REQ_ONESHOT | KEVENT_REQ_LAST_CHECK | KEVENT_REQ_ALWAYS_QUEUE,
		  b.oneshot().last_check().always_queue().raw().req_flags);
	// Modifiers return copies; the original is untouched.
	EXPECT_EQ(0u, b.raw().req_flags);
	// edge and level are exclusive: the last one chosen wins.
	EXPECT_EQ(KEVENT_REQ_LEVEL, b.edge().level().raw().req_flags);
	EXPECT_EQ(KEVENT_REQ_ET | KEVENT_REQ_ONESHOT, b.level().oneshot().edge().raw().req_flags);
}

TEST(KeventHppBuilders, Cookies) {
	int x = 0;
	ukevent p = kevent::user_event(1).cookie(&x);
	EXPECT_EQ(&x, p.ptr);
	EXPECT_EQ(&x, kevent::cookie_ptr<int>(p));

	ukevent u = kevent::user_event(1).cookie(uint64_t{0xdeadbeefcafef00dull});
	EXPECT_EQ(0xcafef00du, u.user[0]);
	EXPECT_EQ(0xdeadbeefu, u.user[1]);
	EXPECT_EQ(0xdeadbeefcafef00dull, kevent::cookie_u64(u));

	// A literal 0 is an integer cookie, nullptr a pointer: no ambiguity.
	ukevent z = kevent::user_event(1).cookie(u.user[0]).cookie(0);
	EXPECT_EQ(0u, kevent::cookie_u64(z));
	ukevent n = kevent::user_event(1).cookie(nullptr);
	EXPECT_EQ(nullptr, n.ptr);

	ukevent d = kevent::user_event(1).ret_data(3, 4);
	EXPECT_EQ(3u, d.ret_data[0]);
	EXPECT_EQ(4u, d.ret_data[1]);
}

TEST(KeventHppBuilders, TimerInterval) {
	ukevent t = kevent::timer_event(1500ms);
	EXPECT_EQ(uint32_t(KEVENT_TIMER), t.type);
	EXPECT_EQ(KEVENT_TIMER_FIRED, t.event);
	EXPECT_EQ(1u, t.id.raw[0]);
	EXPECT_EQ(500000000u, t.id.raw[1]);
	EXPECT_EQ(kevent_test::timer_id(1500), t.id.raw_u64);

	ukevent ns = kevent::timer_event(std::chrono::nanoseconds(7));
	EXPECT_EQ(0u, ns.id.raw[0]);
	EXPECT_EQ(7u, ns.id.raw[1]);

	// Intervals the ABI cannot hold get an id the library rejects (EINVAL)
	// rather than silently becoming another timer.
	ukevent neg = kevent::timer_event(-1ms);
	EXPECT_EQ(1000000000u, neg.id.raw[1]);
	ukevent huge = kevent::timer_event(std::chrono::hours(24 * 365 * 200));
	EXPECT_EQ(1000000000u, huge.id.raw[1]);
}

TEST(KeventHppBuilders, TimerClockAndAbsoluteTime) {
	ukevent rt = kevent::timer_event(1s).clock(kevent::timer_clock::realtime);
	EXPECT_EQ(KEVENT_TIMER_FIRED | KEVENT_TIMER_REALTIME, rt.event);
	ukevent bt = kevent::timer_event(1s)
			     .clock(kevent::timer_clock::realtime)
			     .clock(kevent::timer_clock::boottime);
	EXPECT_EQ(KEVENT_TIMER_FIRED | KEVENT_TIMER_BOOTTIME, bt.event);

	ukevent at = kevent::timer_event(0s)
			     .clock(kevent::timer_clock::boottime)
			     .at(12s + 34ns)
			     .oneshot();
	EXPECT_EQ(KEVENT_TIMER_FIRED | KEVENT_TIMER_BOOTTIME | KEVENT_TIMER_ABSTIME, at.event);
	EXPECT_EQ(12u, at.ret_data[0]);
	EXPECT_EQ(34u, at.ret_data[1]);
	EXPECT_EQ(KEVENT_REQ_ONESHOT, at.req_flags);

	auto tp = std::chrono::steady_clock::time_point(5s + 6ns);
	ukevent mono = kevent::timer_event(1s).clock(kevent::timer_clock::realtime).at(tp);
	EXPECT_EQ(KEVENT_TIMER_FIRED | KEVENT_TIMER_ABSTIME, mono.event);
	EXPECT_EQ(5u, mono.ret_data[0]);
	EXPECT_EQ(6u, mono.ret_data[1]);

	auto wall = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));
	ukevent w = kevent::timer_event(1s).at(wall);
	EXPECT_EQ(KEVENT_TIMER_FIRED | KEVENT_TIMER_REALTIME | KEVENT_TIMER_ABSTIME, w.event);
	EXPECT_EQ(1700000000u, w.ret_data[0]);
	EXPECT_EQ(0u, w.ret_data[1]);
}

TEST(KeventHppBuilders, ReadingDeliveredEvents) {
	ukevent uk = kevent::socket_event(9, kevent::socket::recv);
	EXPECT_EQ(9, kevent::fd_of(uk));
	EXPECT_EQ(kevent::origin::socket, kevent::origin_of(uk));
	EXPECT_FALSE(kevent::broken(uk));
	EXPECT_FALSE(kevent::done(uk));
	EXPECT_FALSE(kevent::error_of(uk));
	uk.ret_flags = KEVENT_RET_BROKEN | KEVENT_RET_DONE;
	uk.ret_data[1] = static_cast<uint32_t>(-EPIPE);
	EXPECT_TRUE(kevent::broken(uk));
	EXPECT_TRUE(kevent::done(uk));
	EXPECT_EQ(std::error_code(EPIPE, std::system_category()), kevent::error_of(uk));
}

TEST(KeventHppBuilders, SignalEventAndNomask) {
	ukevent s = kevent::signal_event(SIGUSR1);
	EXPECT_EQ(uint32_t(KEVENT_SIGNAL), s.type);
	EXPECT_EQ(uint32_t(SIGUSR1), s.id.raw[0]);
	EXPECT_EQ(0u, s.id.raw[1]);
	EXPECT_EQ(KEVENT_SIGNAL_DELIVERY, s.event);
	ukevent n = kevent::signal_event(SIGTERM).nomask().oneshot().cookie(5);
	EXPECT_EQ(uint64_t(SIGTERM) | KEVENT_SIGNAL_NOMASK, n.id.raw_u64);
	EXPECT_EQ(KEVENT_REQ_ONESHOT, n.req_flags);
	EXPECT_EQ(5u, kevent::cookie_u64(n));
	// A negative number keeps its bits (ADD answers EINVAL).
	EXPECT_EQ(0xffffffffu, kevent::signal_event(-1).raw().id.raw[0]);
}

TEST(KeventHppBuilders, InodeEvent) {
	ukevent i = kevent::inode_event(4, kevent::inode::create | kevent::inode::remove);
	EXPECT_EQ(uint32_t(KEVENT_INODE), i.type);
	EXPECT_EQ(4u, i.id.raw[0]);
	EXPECT_EQ(0u, i.id.raw[1]);
	EXPECT_EQ(KEVENT_INODE_CREATE | KEVENT_INODE_REMOVE, i.event);
	auto all = kevent::inode::create | kevent::inode::remove | kevent::inode::modify |
		   kevent::inode::attrib | kevent::inode::moved_from | kevent::inode::moved_to |
		   kevent::inode::close_write;
	EXPECT_EQ(0x7fu, static_cast<uint32_t>(all));
	EXPECT_EQ(kevent::inode_events::create, all & kevent::inode::create);
	EXPECT_EQ(KEVENT_INODE_OVERFLOW, static_cast<uint32_t>(kevent::inode::overflow));
}

TEST(KeventHppBuilders, ProcEventAndReap) {
	ukevent p = kevent::proc_event(1234);
	EXPECT_EQ(uint32_t(KEVENT_PROC), p.type);
	EXPECT_EQ(1234u, p.id.raw[0]);
	EXPECT_EQ(0u, p.id.raw[1]);
	EXPECT_EQ(KEVENT_PROC_EXIT, p.event);
	ukevent r = kevent::proc_event(1234).reap().level();
	EXPECT_EQ(KEVENT_PROC_EXIT | KEVENT_PROC_REAP, r.event);
	EXPECT_EQ(KEVENT_REQ_LEVEL, r.req_flags);
}

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

// The AIO calls take spans; failures come back in both forms.
TEST_P(KeventHppTest, AioRecvAndSendTakeSpans) {
	EXPECT_EQ(GetParam().flags == KEVENT_INIT_URING ? KEVENT_BACKEND_URING
							: KEVENT_BACKEND_EPOLL,
		  q.backend_in_use());
	int sv[2];
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
	std::array<std::byte, 8> in{};
	const std::array<std::byte, 3> out{std::byte{'a'}, std::byte{'b'}, std::byte{'c'}};
	int64_t r = q.aio_recv(sv[0], in, 0, 1);
	int64_t w = q.aio_send(sv[1], out, 0, 2);
	EXPECT_GT(r, 0);
	EXPECT_GT(w, 0);
	std::array<ukevent, 2> buf{};
	unsigned got = 0;
	while (got < 2) {
		auto ev = q.get_events(std::span(buf).subspan(got), 1, 5s);
		ASSERT_FALSE(ev.empty());
		got += static_cast<unsigned>(ev.size());
	}
	for (const ukevent &e : buf) {
		EXPECT_EQ(KEVENT_RET_DONE, e.ret_flags);
		EXPECT_EQ(3u, e.ret_data[0]);
	}
	EXPECT_EQ(std::byte{'c'}, in[2]);
	std::error_code ec;
	EXPECT_EQ(-1, q.aio_recv(-1, in, 0, 3, ec));
	EXPECT_EQ(std::errc::bad_file_descriptor, ec);
	EXPECT_EQ(EBADF, thrown_errno([&] { q.aio_send(-1, out, 0, 4); }));
	close(sv[0]);
	close(sv[1]);
}

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
TEST_P(KeventHppTest, NoFdCheckOptionSkipsTheDescriptorCheck) {
	kevent::queue unchecked(backend(), kevent::init_option::no_fd_check);
	kevent::queue checked(backend());
	int fd_unchecked = unchecked.release(), fd_checked = checked.release();
	ASSERT_EQ(0, ::close(fd_unchecked));
	ASSERT_EQ(0, ::close(fd_checked));
	ukevent a = kevent::user_event(1), b = kevent::user_event(1);
	EXPECT_EQ(0, kevent_ctl(fd_unchecked, KEVENT_CTL_ADD, 1, &a)) << std::strerror(errno);
	EXPECT_EQ(-1, kevent_ctl(fd_checked, KEVENT_CTL_ADD, 1, &b));
	EXPECT_EQ(EBADF, errno);
	(void)kevent_close(fd_unchecked); // frees the queue; its number is closed already
	(void)kevent_close(fd_checked);
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
	// Wake until it returns (a wake sent before it blocked is not lost by
	// the SPEC, but be robust against a slow thread start).
	for (int i = 0; i < 200 && !returned; ++i) {
		q.wake();
		std::this_thread::sleep_for(10ms);
	}
	t.join();
	EXPECT_TRUE(returned.load());
	EXPECT_EQ(0u, count.load());
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
