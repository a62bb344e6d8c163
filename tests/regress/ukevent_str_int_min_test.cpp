// SPDX-License-Identifier: MIT
// ukevent_str_int_min_test — found by the ABI fuzzer (issue 8).
//
// Bug: kevent_ukevent_str on a BROKEN entry whose ret_data[1] is INT32_MIN
// negated it as an int32_t to look up the error text: signed overflow,
// undefined behaviour (UBSan stops `make asan` there). ret_data[1] is the
// caller's to fill, so any value must print.
//
// Fix: negate it as unsigned (src/capi/ukevent_str.cpp).
#include <gtest/gtest.h>
#include <kevent/kevent.h>

#include <climits>
#include <string>

TEST(UkeventStrIntMin, BrokenEntryWithTheMostNegativeErrnoPrints) {
	ukevent uk{};
	uk.type = KEVENT_UNOTIFY;
	uk.ret_flags = KEVENT_RET_BROKEN | KEVENT_RET_DONE;
	uk.ret_data[1] = 0x80000000u;
	char buf[256];
	int n = kevent_ukevent_str(&uk, buf, sizeof buf);
	ASSERT_GT(n, 0);
	EXPECT_NE(std::string::npos, std::string(buf).find(std::to_string(INT_MIN))) << buf;
}
