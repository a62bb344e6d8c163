// SPDX-License-Identifier: MIT
// ukevent_str_naio_bits_test — found testing from the man pages alone
// (issue 14, item 11).
//
// Bug: kevent_ukevent_str printed NAIO's CONNECT and SENDFILE bits as a bare
// 0x18 (it used the SOCKET origin's names) and an operation's id as "fd=",
// although a NAIO or AIO kevent's id is the operation's (kevent_aio_read(3)),
// never a descriptor; AIO's READ/WRITE/FSYNC had no names at all.
//
// Fix: "op=N" and the NAIO and AIO names (src/capi/ukevent_str.cpp,
// kevent_ukevent_str(3)); the byte counts in data=[] are decimal. The same
// report's other item: kevent_ctl(3) now says that READY returns the number
// of kevents marked (checked here too).
#include "kevent_test.hpp"

#include <string>

using kevent_test::make;

namespace {
std::string str(const ukevent &ev) {
	char buf[256];
	EXPECT_GT(kevent_ukevent_str(&ev, buf, sizeof buf), 0);
	return buf;
}
} // namespace

TEST(UkeventStrNaioBits, NaioNamesEveryOperationAndItsId) {
	ukevent ev = make(KEVENT_NAIO, 12, KEVENT_NAIO_CONNECT | KEVENT_NAIO_SENDFILE);
	ev.ret_data[0] = 4096;
	ev.ret_flags = KEVENT_RET_DONE;
	EXPECT_EQ("NAIO op=12 CONNECT|SENDFILE req=0 ret=DONE data=[4096,0] cookie=0x0", str(ev));
	EXPECT_EQ("NAIO op=3 RECV|ACCEPT|SEND req=0 ret=0 data=[0,0] cookie=0x0",
		  str(make(KEVENT_NAIO, 3,
			   KEVENT_NAIO_RECV | KEVENT_NAIO_ACCEPT | KEVENT_NAIO_SEND)));
}

TEST(UkeventStrNaioBits, AioNamesItsOperations) {
	EXPECT_EQ("AIO op=7 READ|WRITE|FSYNC req=0 ret=0 data=[0,0] cookie=0x0",
		  str(make(KEVENT_AIO, 7, KEVENT_AIO_READ | KEVENT_AIO_WRITE | KEVENT_AIO_FSYNC)));
}

class ReadyReturnsMarked : public kevent_test::QueueTest {};

TEST_P(ReadyReturnsMarked, ReadyReturnsTheNumberMarkedAndCopiesBackTheRest) {
	ukevent uk[3] = {make(KEVENT_UNOTIFY, 1, 1), make(KEVENT_UNOTIFY, 2, 1),
			 make(KEVENT_UNOTIFY, 3, 1)};
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 2, uk));
	// Two registered, one not: 2 marked, the third copied back first.
	EXPECT_EQ(2, kevent_ctl(kfd, KEVENT_CTL_READY, 3, uk));
	EXPECT_EQ(3u, uk[0].id.raw_u64);
	EXPECT_EQ(unsigned(KEVENT_RET_BROKEN | KEVENT_RET_DONE), uk[0].ret_flags);
	EXPECT_EQ(uint32_t(-ENOENT), uk[0].ret_data[1]);
	EXPECT_EQ(2u, kevent_test::get(kfd, 2, 4, 1000).size());
}

KEVENT_INSTANTIATE_BACKENDS(ReadyReturnsMarked);
