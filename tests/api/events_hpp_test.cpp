// SPDX-License-Identifier: MIT
// events_hpp_test.cpp — the builders and readers of the C++ API
// (include/kevent/events.hpp), which need no queue: each builder is checked
// field by field against the C ABI, and the records of kevent_inode_names(3)
// are read back through inode_name_range.
#include <kevent/events.hpp>

#include "kevent_test.hpp"

#include <poll.h>

#include <array>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <ranges>
#include <span>
#include <string_view>
#include <vector>

using namespace std::chrono_literals;

namespace {

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

TEST(KeventHppBuilders, NamedTimerCarriesItsIntervalInRetData) {
	ukevent t = kevent::named_timer_event(0x1234567890ull, 1500ms);
	EXPECT_EQ(uint32_t(KEVENT_TIMER), t.type);
	EXPECT_EQ(KEVENT_TIMER_FIRED | KEVENT_TIMER_NAMED, t.event);
	EXPECT_EQ(0x1234567890ull, t.id.raw_u64);
	EXPECT_EQ(1u, t.ret_data[0]);
	EXPECT_EQ(500000000u, t.ret_data[1]);
	ukevent bad = kevent::named_timer_event(1, -1ms); // rejected by ADD, not another interval
	EXPECT_EQ(1000000000u, bad.ret_data[1]);
	ukevent at = kevent::named_timer_event(2, 0s).at(12s + 34ns).oneshot();
	EXPECT_EQ(KEVENT_TIMER_FIRED | KEVENT_TIMER_NAMED | KEVENT_TIMER_ABSTIME, at.event);
	EXPECT_EQ(12u, at.ret_data[0]);
	EXPECT_EQ(34u, at.ret_data[1]);
	EXPECT_EQ(2u, at.id.raw_u64);
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
	EXPECT_EQ(KEVENT_INODE_MOVE_SELF, static_cast<uint32_t>(kevent::inode::move_self));
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

// The records of kevent_inode_names(3), as the library lays them out (8-byte
// header, name NUL-padded to 8), read back at an odd address: the range
// needs no alignment.
TEST(KeventHppBuilders, InodeNameRangeReadsRecords) {
	auto record = [](std::vector<std::byte> &out, uint32_t event, std::string_view name) {
		uint32_t len = uint32_t((name.size() + 1 + 7) & ~size_t(7));
		size_t at = out.size();
		out.resize(at + sizeof(kevent_inode_name) + len);
		std::memcpy(&out[at + offsetof(kevent_inode_name, event)], &event, sizeof event);
		std::memcpy(&out[at + offsetof(kevent_inode_name, len)], &len, sizeof len);
		std::memcpy(&out[at + sizeof(kevent_inode_name)], name.data(), name.size());
	};
	std::vector<std::byte> bytes(1); // records from bytes[1]: misaligned
	record(bytes, KEVENT_INODE_CREATE, "made");
	record(bytes, KEVENT_INODE_MOVED_TO, "a-longer-name");
	record(bytes, KEVENT_INODE_ATTRIB, "");
	kevent::inode_name_range names{std::span(bytes).subspan(1)};
	EXPECT_FALSE(names.empty());
	EXPECT_EQ(bytes.size() - 1, names.bytes().size());
	std::vector<kevent::inode_name> got(names.begin(), names.end());
	ASSERT_EQ(3u, got.size());
	EXPECT_EQ(kevent::inode::create, got[0].event);
	EXPECT_EQ("made", got[0].name);
	EXPECT_EQ(kevent::inode::moved_to, got[1].event);
	EXPECT_EQ("a-longer-name", got[1].name);
	EXPECT_EQ(kevent::inode::attrib, got[2].event);
	EXPECT_EQ("", got[2].name) << "the watched object itself";

	static_assert(std::ranges::forward_range<kevent::inode_name_range>);
	kevent::inode_name_range none;
	EXPECT_TRUE(none.empty());
	EXPECT_EQ(none.begin(), none.end());
}

} // namespace
