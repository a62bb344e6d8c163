// SPDX-License-Identifier: MIT
// kevent_aio_recv(3) and friends on a socket used again and again: what a
// waiting operation holds (no descriptor of its own: the caller's close(2)
// closes the socket), a number closed and reused between operations, and a
// user's kevent on a number whose operations wait (docs/semantics.md,
// "Asynchronous I/O"). On epoll one watch per (queue, number) serves every
// operation; io_uring runs them natively. Both must behave alike.
#include "origin_contract.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace {

using namespace kevent_test;
using namespace kevent_origin;

class AioSocketWatch : public QueueTest {
protected:
	// The one completion that must arrive within 5 s.
	ukevent completion() {
		auto ev = get(kfd, 1, 1, 5000);
		EXPECT_EQ(1u, ev.size());
		return ev.empty() ? ukevent{} : ev[0];
	}

	// A recv of `want` on fd that completes with it (sent from peer).
	void round_trip(int fd, int peer, const std::string &want) {
		char in[16] = {};
		int64_t r = kevent_aio_recv(kfd, fd, in, sizeof in, 0, 7);
		ASSERT_GT(r, 0);
		EXPECT_TRUE(get(kfd, 1, 1, 20).empty()) << "nothing to receive yet";
		ASSERT_EQ(ssize_t(want.size()), ::write(peer, want.data(), want.size()));
		ukevent ev = completion();
		EXPECT_EQ(uint64_t(r), ev.id.raw_u64) << describe(ev);
		EXPECT_EQ(KEVENT_RET_DONE, ev.ret_flags) << describe(ev);
		EXPECT_EQ(want.size(), ev.ret_data[0]) << describe(ev);
		EXPECT_EQ(want, std::string(in, ev.ret_data[0] <= sizeof in ? ev.ret_data[0] : 0));
	}

	// s under the number `number` (free now).
	static unique_fd as_number(unique_fd s, int number) {
		if (s.get() == number)
			return s;
		unique_fd moved(::dup3(s.get(), number, O_CLOEXEC));
		return moved;
	}

	// The lowest descriptor number free now.
	static int lowest_free() {
		int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			::close(fd);
		return fd;
	}
};

// A dup per waiting operation (or one kept between operations) would be a
// descriptor the process did not open.
TEST_P(AioSocketWatch, AWaitingRecvHoldsNoDescriptor) {
	unique_fd a, b;
	socket_pair(a, b);
	round_trip(a.get(), b.get(), "warm"); // the number's watch exists now
	int before = lowest_free();
	char in[4];
	int64_t r = kevent_aio_recv(kfd, a.get(), in, sizeof in, 0, 1);
	ASSERT_GT(r, 0);
	EXPECT_TRUE(get(kfd, 1, 1, 20).empty());
	EXPECT_EQ(before, lowest_free()) << "the waiting recv opened a descriptor";
	ASSERT_EQ(1, ::write(b.get(), "x", 1));
	EXPECT_EQ(1u, completion().ret_data[0]);
}

// The caller's close(2) after the last operation closes the socket at once:
// the peer sees end of file without another library call.
TEST_P(AioSocketWatch, CloseBetweenOperationsIsEndOfFileForThePeer) {
	unique_fd a, b;
	socket_pair(a, b);
	for (int i = 0; i < 3; i++)
		round_trip(a.get(), b.get(), "ping");
	a.reset();
	char c;
	EXPECT_EQ(0, ::recv(b.get(), &c, 1, MSG_DONTWAIT)) << "the socket outlived close(2)";
}

// A number closed and opened again as another socket: the next operation
// waits on the new socket, and the old one's peer reaches nothing.
TEST_P(AioSocketWatch, ANumberClosedAndReusedIsWatchedAnew) {
	unique_fd a, b, c, d;
	socket_pair(a, b);
	round_trip(a.get(), b.get(), "old");
	int number = a.get();
	a.reset();
	socket_pair(c, d);
	unique_fd reused = as_number(std::move(c), number);
	ASSERT_EQ(number, reused.get());
	b.reset(); // the old peer hangs up: nothing of it reaches the new socket
	round_trip(number, d.get(), "new");
	round_trip(number, d.get(), "again");
}

// A SOCKET kevent ADDed on a number whose recv waits: both work (on epoll
// the number's single item goes to the kevent, the recv waits on a dup).
TEST_P(AioSocketWatch, AnAddOnTheNumberOfAWaitingRecv) {
	unique_fd a, b;
	socket_pair(a, b);
	round_trip(a.get(), b.get(), "warm");
	char in[8] = {};
	int64_t r = kevent_aio_recv(kfd, a.get(), in, sizeof in, 0, 1);
	ASSERT_GT(r, 0);
	ukevent add = make(KEVENT_SOCKET, uint64_t(a.get()), KEVENT_SOCKET_RECV, 0, 2);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &add)) << describe(add);
	ASSERT_EQ(4, ::write(b.get(), "data", 4));
	bool recv_done = false, socket_seen = false;
	for (int i = 0; i < 4 && !(recv_done && socket_seen); i++) {
		for (const ukevent &ev : get(kfd, 1, 4, 2000)) {
			if (ev.type == KEVENT_NAIO) {
				EXPECT_EQ(KEVENT_RET_DONE, ev.ret_flags) << describe(ev);
				EXPECT_EQ(4u, ev.ret_data[0]) << describe(ev);
				recv_done = true;
			} else {
				EXPECT_EQ(uint32_t(KEVENT_SOCKET), ev.type) << describe(ev);
				socket_seen = true;
			}
		}
	}
	EXPECT_TRUE(recv_done);
	EXPECT_TRUE(socket_seen);
	EXPECT_EQ("data", std::string(in, 4));
	// While the kevent is there, and after its REMOVE, recv still works.
	round_trip(a.get(), b.get(), "more");
	ukevent rm = make(KEVENT_SOCKET, uint64_t(a.get()), KEVENT_SOCKET_RECV);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &rm));
	EXPECT_EQ(KEVENT_RET_DONE, rm.ret_flags) << describe(rm);
	round_trip(a.get(), b.get(), "after");
}

// Two recvs waiting on one socket each take one message (which one first
// is not promised: io_uring wakes the last poll first), and REMOVE of a
// third that waited before them leaves them waiting.
TEST_P(AioSocketWatch, WaitingRecvsOnOneSocketEachTakeOne) {
	unique_fd a, b;
	socket_pair(a, b);
	round_trip(a.get(), b.get(), "warm");
	char x[2] = {}, y[2] = {}, z[2] = {};
	int64_t r1 = kevent_aio_recv(kfd, a.get(), x, 1, 0, 1);
	int64_t r2 = kevent_aio_recv(kfd, a.get(), y, 1, 0, 2);
	int64_t r3 = kevent_aio_recv(kfd, a.get(), z, 1, 0, 3);
	ASSERT_GT(r1, 0);
	ASSERT_GT(r2, 0);
	ASSERT_GT(r3, 0);
	EXPECT_TRUE(get(kfd, 1, 3, 20).empty());
	ukevent rm = make(KEVENT_NAIO, uint64_t(r1), KEVENT_NAIO_RECV);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &rm));
	EXPECT_EQ(KEVENT_RET_DONE, rm.ret_flags) << "cancelled: it had touched nothing";
	ASSERT_EQ(1, ::write(b.get(), "A", 1));
	ukevent first = completion();
	ASSERT_EQ(1, ::write(b.get(), "B", 1));
	ukevent second = completion();
	EXPECT_EQ(1u, first.ret_data[0]) << describe(first);
	EXPECT_EQ(1u, second.ret_data[0]) << describe(second);
	std::string got;
	for (const ukevent *ev : {&first, &second})
		got += ev->id.raw_u64 == uint64_t(r2)   ? y[0]
		       : ev->id.raw_u64 == uint64_t(r3) ? z[0]
							: '?';
	EXPECT_EQ("AB", got) << "each completion's buffer holds its own byte";
	EXPECT_NE(first.id.raw_u64, second.id.raw_u64);
	EXPECT_EQ(0, x[0]) << "the cancelled recv took data";
}

KEVENT_INSTANTIATE_BACKENDS(AioSocketWatch);

} // namespace
