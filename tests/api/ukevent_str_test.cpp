// SPDX-License-Identifier: MIT
// ukevent_str_test.cpp — kevent_ukevent_str(3), the ukevent pretty-printer,
// and operator<< of kevent.hpp: names of every origin, bit set and flag;
// unknown bits in hex; the error text of a BROKEN entry; snprintf semantics
// (length needed, NUL at any size > 0, nothing written at size 0); errno
// left alone; and one event delivered by a real queue on each backend.
#include "kevent_test.hpp"

#include <kevent/kevent.hpp>

#include <poll.h>
#include <signal.h>

#include <cerrno>
#include <cstring>
#include <regex>
#include <sstream>
#include <string>

using kevent_test::make;

namespace {

std::string str(const ukevent &ev) {
	char buf[512];
	int n = kevent_ukevent_str(&ev, buf, sizeof buf);
	EXPECT_GE(n, 0) << std::strerror(errno);
	EXPECT_LT(n, static_cast<int>(sizeof buf));
	EXPECT_EQ(static_cast<size_t>(n), std::strlen(buf));
	return buf;
}

ukevent broken_socket() {
	ukevent ev = make(KEVENT_SOCKET, 5, KEVENT_SOCKET_RECV | KEVENT_SOCKET_SEND,
			  KEVENT_REQ_ONESHOT | KEVENT_REQ_ET, 0xabcdef);
	ev.ret_flags = KEVENT_RET_BROKEN | KEVENT_RET_DONE;
	ev.ret_data[0] = KEVENT_SOCKET_RECV;
	ev.ret_data[1] = static_cast<uint32_t>(-EPIPE);
	return ev;
}

TEST(UkeventStr, BrokenSocketNamesEverything) {
	EXPECT_EQ("SOCKET fd=5 RECV|SEND req=ONESHOT|ET ret=BROKEN|DONE data=[0x1,-32 (" +
			  std::string(std::strerror(EPIPE)) + ")] cookie=0xabcdef",
		  str(broken_socket()));
}

TEST(UkeventStr, EveryOriginReadsItsId) {
	EXPECT_EQ("PIPE fd=3 RECV req=0 ret=0 data=[0x0,0] cookie=0x0",
		  str(make(KEVENT_PIPE, 3, KEVENT_PIPE_RECV)));
	EXPECT_EQ("POLL fd=0 POLLIN|POLLOUT|POLLRDHUP req=LEVEL ret=0 data=[0x0,0] cookie=0x0",
		  str(make(KEVENT_POLL, 0, POLLIN | POLLOUT | POLLRDHUP, KEVENT_REQ_LEVEL)));
	EXPECT_EQ("TIMER interval=1.500000000s FIRED|REALTIME req=0 ret=0 data=[0,0] cookie=0x0",
		  str(make(KEVENT_TIMER, kevent_test::timer_id(1500),
			   KEVENT_TIMER_FIRED | KEVENT_TIMER_REALTIME)));
	EXPECT_EQ("INODE fd=7 CREATE|REMOVE|CLOSE_WRITE req=0 ret=0 data=[0x0,0] cookie=0x0",
		  str(make(KEVENT_INODE, 7,
			   KEVENT_INODE_CREATE | KEVENT_INODE_REMOVE | KEVENT_INODE_CLOSE_WRITE)));
	EXPECT_EQ("INODE fd=7 MODIFY|MOVE_SELF req=0 ret=0 data=[0x0,0] cookie=0x0",
		  str(make(KEVENT_INODE, 7, KEVENT_INODE_MODIFY | KEVENT_INODE_MOVE_SELF)));
	EXPECT_EQ("SIGNAL sig=10 NOMASK DELIVERY req=0 ret=0 data=[0,0] cookie=0x0",
		  str(make(KEVENT_SIGNAL, SIGUSR1 | KEVENT_SIGNAL_NOMASK, KEVENT_SIGNAL_DELIVERY)));
	EXPECT_EQ("PROC pid=1234 EXIT|REAP req=0 ret=0 data=[0x0,0] cookie=0x0",
		  str(make(KEVENT_PROC, 1234, KEVENT_PROC_EXIT | KEVENT_PROC_REAP)));
	EXPECT_EQ("UNOTIFY id=42 events=0x3 req=READY ret=0 data=[0x0,0] cookie=0x7",
		  str(make(KEVENT_UNOTIFY, 42, 3, KEVENT_REQ_READY, 7)));
	EXPECT_EQ("NAIO op=9 ACCEPT req=0 ret=0 data=[0,0] cookie=0x0",
		  str(make(KEVENT_NAIO, 9, KEVENT_NAIO_ACCEPT)));
	EXPECT_EQ("AIO op=4294967298 READ req=0 ret=0 data=[0,0] cookie=0x0",
		  str(make(KEVENT_AIO, 0x100000002ull, KEVENT_AIO_READ)));
}

TEST(UkeventStr, UnknownBitsAndTypesInHex) {
	EXPECT_EQ("type=99 id=0x1 events=0x2 req=0 ret=0 data=[0x0,0] cookie=0x0",
		  str(make(99, 1, 2)));
	ukevent ev = make(KEVENT_SOCKET, 1, KEVENT_SOCKET_RECV | 0x100, 0x100 | KEVENT_REQ_ONESHOT);
	ev.ret_flags = 0x10;
	EXPECT_EQ("SOCKET fd=1 RECV|0x100 req=ONESHOT|0x100 ret=0x10 data=[0x0,0] cookie=0x0",
		  str(ev));
}

TEST(UkeventStr, EveryReqFlag) {
	ukevent ev = make(KEVENT_UNOTIFY, 1, 0, KEVENT_REQ_MASK);
	EXPECT_NE(
		std::string::npos,
		str(ev).find(
			"req=ONESHOT|WAKEUP_ALL|ET|LAST_CHECK|ALWAYS_QUEUE|READY|LEVEL|DISABLED "))
		<< str(ev);
}

TEST(UkeventStr, SnprintfSemantics) {
	ukevent ev = broken_socket();
	const std::string full = str(ev);
	const int need = static_cast<int>(full.size());

	// size 0: nothing written, length still returned; buf may be NULL.
	EXPECT_EQ(need, kevent_ukevent_str(&ev, nullptr, 0));
	char guard = 'x';
	EXPECT_EQ(need, kevent_ukevent_str(&ev, &guard, 0));
	EXPECT_EQ('x', guard);

	// Every smaller size: a NUL-terminated prefix, nothing past size.
	for (size_t size = 1; size <= full.size() + 1; size++) {
		std::string buf(full.size() + 8, '#');
		ASSERT_EQ(need, kevent_ukevent_str(&ev, buf.data(), size)) << size;
		EXPECT_EQ(full.substr(0, size - 1), std::string(buf.c_str())) << size;
		EXPECT_EQ('#', buf[size]) << size;
	}
}

TEST(UkeventStr, BadArgumentsAreEinval) {
	char buf[8];
	errno = 0;
	EXPECT_EQ(-1, kevent_ukevent_str(nullptr, buf, sizeof buf));
	EXPECT_EQ(EINVAL, errno);
	ukevent ev{};
	errno = 0;
	EXPECT_EQ(-1, kevent_ukevent_str(&ev, nullptr, 4));
	EXPECT_EQ(EINVAL, errno);
}

TEST(UkeventStr, KeepsErrno) {
	ukevent ev = broken_socket();
	char buf[256];
	errno = ENOENT;
	EXPECT_GT(kevent_ukevent_str(&ev, buf, sizeof buf), 0);
	EXPECT_EQ(ENOENT, errno);
}

TEST(UkeventStr, StreamOperatorPrintsTheSameText) {
	ukevent ev = broken_socket();
	std::ostringstream os;
	os << ev;
	EXPECT_EQ(str(ev), os.str());

	// Builders convert to ukevent, so they print as well.
	std::ostringstream os2;
	os2 << static_cast<ukevent>(kevent::user_event(42).cookie(7).oneshot());
	EXPECT_EQ("UNOTIFY id=42 events=0x0 req=ONESHOT ret=0 data=[0x0,0] cookie=0x7", os2.str());
}

class UkeventStrQueue : public kevent_test::QueueTest {};
KEVENT_INSTANTIATE_BACKENDS(UkeventStrQueue);

// An event as a queue delivers it: a 1 ms one-shot timer.
TEST_P(UkeventStrQueue, DeliveredTimer) {
	ukevent uk = make(KEVENT_TIMER, kevent_test::timer_id(1), KEVENT_TIMER_FIRED,
			  KEVENT_REQ_ONESHOT, 0x1234);
	ASSERT_EQ(0, add(uk)) << std::strerror(errno);
	auto got = kevent_test::get(kfd, 1, 1, 5000);
	ASSERT_EQ(1u, got.size());
	std::ostringstream os;
	os << got[0];
	// A loaded machine may count more than one expiration.
	EXPECT_TRUE(std::regex_match(
		os.str(),
		std::regex(
			"TIMER interval=0\\.001000000s FIRED req=ONESHOT ret=DONE data=\\[[1-9][0-9]*,0\\] cookie=0x1234")))
		<< os.str();
}

} // namespace
