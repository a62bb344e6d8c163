// SPDX-License-Identifier: MIT
// One C++ translation unit with both <sys/event.h> (the BSD call kevent and
// struct kevent) and <kevent/kevent.hpp> (libkevent's namespace kevent),
// in both orders of inclusion elsewhere (docs/kqueue.md).
#include <sys/event.h>

#include <kevent/kevent.hpp>

#include <cstddef>
#include <gtest/gtest.h>
#include <unistd.h>

TEST(KqCoexist, BsdCallAndCxxApiInOneProgram) {
	int kq = kqueue();
	ASSERT_GE(kq, 0);
	struct kevent ev;
	EV_SET(&ev, 1, EVFILT_USER, EV_ADD, NOTE_TRIGGER, 0, nullptr);
	ASSERT_EQ(0, kevent(kq, &ev, 1, nullptr, 0, nullptr));
	struct kevent out[1];
	timespec zero{0, 0};
	ASSERT_EQ(1, kevent(kq, nullptr, 0, out, 1, &zero));
	EXPECT_EQ(1u, out[0].ident);
	close(kq);

	libkevent::queue q;
	ukevent u = libkevent::user_event(9).ready().always_queue();
	q.add(std::span(&u, 1));
	ukevent buf[1];
	auto got = q.get_events(buf, 1, std::chrono::seconds(1));
	ASSERT_EQ(1u, got.size());
	EXPECT_EQ(9u, got[0].id.raw_u64);
}

TEST(KqCoexist, SizeAndLayoutOfStructKevent) {
	static_assert(sizeof(struct kevent) == 32);
	static_assert(offsetof(struct kevent, filter) == 8);
	static_assert(offsetof(struct kevent, fflags) == 12);
	static_assert(offsetof(struct kevent, data) == 16);
	static_assert(offsetof(struct kevent, udata) == 24);
}
