// SPDX-License-Identifier: MIT
// pipe_test — the PIPE origin: the common contract (origin_contract.hpp) on
// anonymous pipes and on FIFOs, and kevent_pipe(7): pipes and FIFOs only
// (a socket is EINVAL), RECV on data, SEND on room, the other end closed ->
// BROKEN delivered once.
#include "origin_contract.hpp"

#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <string>

namespace {

using namespace kevent_origin;

// A FIFO made in a fresh temporary directory; both ends non-blocking. The
// name is removed at once: the open ends are all the tests need.
void make_fifo(unique_fd &r, unique_fd &w) {
	char dir[] = "/tmp/kevent-pipe-test-XXXXXX";
	ASSERT_NE(nullptr, ::mkdtemp(dir)) << std::strerror(errno);
	std::string path = std::string(dir) + "/fifo";
	ASSERT_EQ(0, ::mkfifo(path.c_str(), 0600)) << std::strerror(errno);
	r.reset(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
	w.reset(::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
	::unlink(path.c_str());
	::rmdir(dir);
	ASSERT_GE(r.get(), 0) << std::strerror(errno);
	ASSERT_GE(w.get(), 0) << std::strerror(errno);
}

void make_pipe(unique_fd &r, unique_fd &w) {
	int p[2];
	ASSERT_EQ(0, ::pipe2(p, O_NONBLOCK | O_CLOEXEC)) << std::strerror(errno);
	r.reset(p[0]);
	w.reset(p[1]);
}

// Watches the read end for RECV; the test drives the write end.
template <bool Fifo> class PipeTargetT {
public:
	static constexpr unsigned type = KEVENT_PIPE;

	explicit PipeTargetT(int) {
		if constexpr (Fifo)
			make_fifo(r_, w_);
		else
			make_pipe(r_, w_);
		number_ = r_.get();
	}
	uint64_t id() const { return static_cast<uint32_t>(number_); }
	unsigned event() const { return KEVENT_PIPE_RECV; }
	void on_added() {}
	void trigger(int) { EXPECT_EQ(1, put(w_.get())) << std::strerror(errno); }
	void consume() { drain(r_.get()); }
	void check_fired(const ukevent &e) const {
		EXPECT_EQ(KEVENT_PIPE_RECV, e.ret_data[0]) << describe(e);
	}
	void make_ready_before_add(ukevent &) { trigger(-1); }
	void check_ready_at_add(const ukevent &e) const { check_fired(e); }
	void break_it() { w_.reset(); }
	void check_broken(const ukevent &e) const { EXPECT_EQ(-EPIPE, err_of(e)) << describe(e); }
	int fd() const { return number_; }
	void close_watched() { r_.reset(); }
	void take_number(int n) {
		vacate(w_, n);
		number_ = move_fd(r_.release(), n);
		r_.reset(number_);
	}

private:
	unique_fd r_, w_;
	int number_ = -1;
};

using PipeContract = Contract<PipeTargetT<false>>;
KEVENT_ORIGIN_CONTRACT(PipeContract)
KEVENT_ORIGIN_CONTRACT_CONDITION(PipeContract)
KEVENT_ORIGIN_CONTRACT_BROKEN(PipeContract)
KEVENT_ORIGIN_CONTRACT_FD(PipeContract)
KEVENT_INSTANTIATE_BACKENDS(PipeContract);

using FifoContract = Contract<PipeTargetT<true>>;
KEVENT_ORIGIN_CONTRACT(FifoContract)
KEVENT_ORIGIN_CONTRACT_CONDITION(FifoContract)
KEVENT_ORIGIN_CONTRACT_BROKEN(FifoContract)
KEVENT_ORIGIN_CONTRACT_FD(FifoContract)
KEVENT_INSTANTIATE_BACKENDS(FifoContract);

// ---- kevent_pipe(7), the PIPE origin's own rules -------------------------------

class Pipe : public QueueTest {
protected:
	unique_fd r_, w_;

	void SetUp() override {
		QueueTest::SetUp();
		if (IsSkipped() || HasFatalFailure())
			return;
		make_pipe(r_, w_);
	}

	static ukevent pipe_ev(int fd, unsigned bits, unsigned req = 0, uint64_t cookie = 5) {
		return make(KEVENT_PIPE, static_cast<uint32_t>(fd), bits, req, cookie);
	}

	void expect_add_fails(ukevent e, int err) {
		ASSERT_EQ(1, add(e)) << describe(e);
		EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, e.ret_flags) << describe(e);
		EXPECT_EQ(-err, err_of(e)) << describe(e);
		EXPECT_EQ(0u, queue_stats(kfd).registered);
	}

	ukevent one() {
		auto ev = get(kfd, 1, 8, 2000);
		EXPECT_EQ(1u, ev.size()) << describe(ev);
		return ev.empty() ? ukevent{} : ev[0];
	}
};

TEST_P(Pipe, RecvFiresOnData) {
	ukevent e = pipe_ev(r_.get(), KEVENT_PIPE_RECV);
	ASSERT_EQ(0, add(e)) << describe(e);
	EXPECT_TRUE(get(kfd, 1, 8, 0).empty());
	ASSERT_EQ(4, put(w_.get(), 4));
	ukevent ev = one();
	EXPECT_EQ(static_cast<uint32_t>(r_.get()), ev.id.raw[0]);
	EXPECT_EQ(KEVENT_PIPE_RECV, ev.ret_data[0]) << describe(ev);
	EXPECT_EQ(0u, ev.ret_flags) << describe(ev);
}

TEST_P(Pipe, FifoRecvFiresOnData) {
	unique_fd fr, fw;
	make_fifo(fr, fw);
	ukevent e = pipe_ev(fr.get(), KEVENT_PIPE_RECV);
	ASSERT_EQ(0, add(e)) << describe(e);
	ASSERT_EQ(1, put(fw.get()));
	ukevent ev = one();
	EXPECT_EQ(KEVENT_PIPE_RECV, ev.ret_data[0]) << describe(ev);
	EXPECT_EQ(0u, ev.ret_flags) << describe(ev);
}

TEST_P(Pipe, SendIsReadyAtAddWhenThereIsRoom) {
	ukevent e = pipe_ev(w_.get(), KEVENT_PIPE_SEND);
	ASSERT_EQ(1, add(e)) << describe(e);
	EXPECT_EQ(KEVENT_RET_DONE, e.ret_flags) << describe(e);
	EXPECT_EQ(KEVENT_PIPE_SEND, e.ret_data[0]) << describe(e);
	EXPECT_EQ(0u, queue_stats(kfd).registered);
}

TEST_P(Pipe, SendFiresWhenRoomComesBack) {
	fill(w_.get());
	ukevent e = pipe_ev(w_.get(), KEVENT_PIPE_SEND);
	ASSERT_EQ(0, add(e)) << "SEND was ready on a full pipe: " << describe(e);
	EXPECT_TRUE(get(kfd, 1, 8, 0).empty());
	drain(r_.get());
	ukevent ev = one();
	EXPECT_EQ(static_cast<uint32_t>(w_.get()), ev.id.raw[0]);
	EXPECT_EQ(KEVENT_PIPE_SEND, ev.ret_data[0]) << describe(ev);
	EXPECT_EQ(0u, ev.ret_flags) << describe(ev);
}

TEST_P(Pipe, FifoSendFiresWhenRoomComesBack) {
	unique_fd fr, fw;
	make_fifo(fr, fw);
	fill(fw.get());
	ukevent e = pipe_ev(fw.get(), KEVENT_PIPE_SEND);
	ASSERT_EQ(0, add(e)) << describe(e);
	drain(fr.get());
	ukevent ev = one();
	EXPECT_EQ(KEVENT_PIPE_SEND, ev.ret_data[0]) << describe(ev);
}

TEST_P(Pipe, WriterClosedIsBrokenOnTheReadEndDeliveredOnce) {
	ukevent e = pipe_ev(r_.get(), KEVENT_PIPE_RECV);
	ASSERT_EQ(0, add(e)) << describe(e);
	w_.reset();
	ukevent ev = one();
	EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, ev.ret_flags) << describe(ev);
	EXPECT_EQ(-EPIPE, err_of(ev)) << describe(ev);
	EXPECT_EQ(0u, ev.ret_data[0]) << "no data was left, so no RECV: " << describe(ev);
	EXPECT_TRUE(get(kfd, 1, 8, 100).empty());
	EXPECT_EQ(0u, queue_stats(kfd).registered);
}

TEST_P(Pipe, WriterClosedWithDataLeftIsBrokenWithRecv) {
	ukevent e = pipe_ev(r_.get(), KEVENT_PIPE_RECV, KEVENT_REQ_LEVEL);
	ASSERT_EQ(0, add(e)) << describe(e);
	ASSERT_EQ(2, put(w_.get(), 2));
	ukevent ev = one();
	EXPECT_EQ(0u, ev.ret_flags) << describe(ev);
	w_.reset(); // the data stays unread
	std::vector<ukevent> got;
	for (int i = 0; i < 10; i++) {
		got = get(kfd, 1, 8, 200);
		if (!got.empty() && (got[0].ret_flags & KEVENT_RET_BROKEN))
			break;
	}
	ASSERT_EQ(1u, got.size()) << describe(got);
	EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, got[0].ret_flags) << describe(got[0]);
	EXPECT_EQ(-EPIPE, err_of(got[0])) << describe(got[0]);
	EXPECT_EQ(KEVENT_PIPE_RECV, got[0].ret_data[0])
		<< "data is left to read: " << describe(got[0]);
	EXPECT_TRUE(get(kfd, 1, 8, 100).empty());
	EXPECT_EQ(0u, queue_stats(kfd).registered);
}

TEST_P(Pipe, ReaderClosedIsBrokenOnTheWriteEndDeliveredOnce) {
	fill(w_.get()); // so SEND is not ready at ADD
	ukevent e = pipe_ev(w_.get(), KEVENT_PIPE_SEND);
	ASSERT_EQ(0, add(e)) << describe(e);
	r_.reset();
	ukevent ev = one();
	EXPECT_EQ(static_cast<uint32_t>(w_.get()), ev.id.raw[0]);
	EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, ev.ret_flags) << describe(ev);
	EXPECT_EQ(-EPIPE, err_of(ev)) << describe(ev);
	EXPECT_TRUE(get(kfd, 1, 8, 100).empty());
	EXPECT_EQ(0u, queue_stats(kfd).registered);
}

TEST_P(Pipe, ReaderClosedAtAddIsCopiedBackBroken) {
	r_.reset();
	ukevent e = pipe_ev(w_.get(), KEVENT_PIPE_SEND);
	ASSERT_EQ(1, add(e)) << describe(e);
	EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, e.ret_flags) << describe(e);
	EXPECT_EQ(-EPIPE, err_of(e)) << describe(e);
	EXPECT_EQ(0u, queue_stats(kfd).registered);
}

TEST_P(Pipe, FifoWriterClosedIsBrokenDeliveredOnce) {
	unique_fd fr, fw;
	make_fifo(fr, fw);
	ukevent e = pipe_ev(fr.get(), KEVENT_PIPE_RECV);
	ASSERT_EQ(0, add(e)) << describe(e);
	fw.reset();
	ukevent ev = one();
	EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, ev.ret_flags) << describe(ev);
	EXPECT_EQ(-EPIPE, err_of(ev)) << describe(ev);
	EXPECT_TRUE(get(kfd, 1, 8, 100).empty());
}

TEST_P(Pipe, PipeOnASocketIsEinval) {
	int sv[2];
	ASSERT_EQ(0, ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	unique_fd a(sv[0]), b(sv[1]);
	expect_add_fails(pipe_ev(a.get(), KEVENT_PIPE_RECV), EINVAL);
}

TEST_P(Pipe, PipeOnARegularFileIsEinval) {
	char path[] = "/tmp/kevent-pipe-test-XXXXXX";
	unique_fd f(::mkstemp(path));
	ASSERT_GE(f.get(), 0) << std::strerror(errno);
	::unlink(path);
	expect_add_fails(pipe_ev(f.get(), KEVENT_PIPE_RECV), EINVAL);
}

TEST_P(Pipe, PipeOnAnEventfdIsEinval) {
	unique_fd f(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
	expect_add_fails(pipe_ev(f.get(), KEVENT_PIPE_RECV), EINVAL);
}

TEST_P(Pipe, PipeOnAClosedFdIsEbadf) {
	int n = r_.release();
	::close(n);
	expect_add_fails(pipe_ev(n, KEVENT_PIPE_RECV), EBADF);
}

TEST_P(Pipe, UnknownEventBitsAreEinval) {
	expect_add_fails(pipe_ev(r_.get(), KEVENT_SOCKET_ACCEPT), EINVAL);
	expect_add_fails(pipe_ev(r_.get(), 0x8), EINVAL);
	expect_add_fails(pipe_ev(r_.get(), 0), EINVAL);
}

KEVENT_INSTANTIATE_BACKENDS(Pipe);

} // namespace
