// SPDX-License-Identifier: MIT
// inode_test — the INODE origin: the common contract (origin_contract.hpp) and
// the rules of kevent_inode(7):
//   - CREATE and REMOVE of names in a watched directory, and the extensions
//     MODIFY, ATTRIB, MOVED_FROM/MOVED_TO, CLOSE_WRITE; ret_data[0] = the
//     bits that fired, ret_data[1] = the names handed to kevent_inode_names;
//   - the watched object deleted -> BROKEN, delivered once;
//   - OVERFLOW when the kernel dropped events;
//   - one directory watched by two queues, or twice by one queue through two
//     fds: each kevent sees what it asked for;
//   - a socket or pipe fd -> EINVAL, a closed fd -> EBADF.
// kevent_inode_names(3) itself is inode_names_test.cpp.
#include "inode_fixture.hpp"
#include "origin_contract.hpp"

#include <sys/stat.h>
#include <sys/types.h>

#include <fstream>
#include <set>

namespace {

using namespace kevent_origin;
using namespace kevent_inode_test;

// ---- target for the common contract ----------------------------------------------

// A directory watched for CREATE; trigger() creates a new name in it.
class InodeTarget {
public:
	static constexpr unsigned type = KEVENT_INODE;

	explicit InodeTarget(int) : id_(inode_id(dir_.fd())) {}
	uint64_t id() const { return id_; } // the number, also once break_it() closed it
	unsigned event() const { return KEVENT_INODE_CREATE; }
	void on_added() {}
	void trigger(int) { touch(dir_ / ("f" + std::to_string(next_++))); }
	void check_fired(const ukevent &e) const {
		EXPECT_EQ(KEVENT_INODE_CREATE, e.ret_data[0]) << describe(e);
		EXPECT_GE(e.ret_data[1], 1u) << "names handed over: " << describe(e);
	}
	// Changes are events, not a state: only KEVENT_REQ_READY makes an inode
	// kevent ready at ADD.
	void make_ready_before_add(ukevent &e) { e.req_flags |= KEVENT_REQ_READY; }
	void check_ready_at_add(const ukevent &) const {}
	// The directory deleted and its last reference (our fd) gone: the
	// kernel frees the inode (IN_DELETE_SELF). See
	// WatchedDirectoryRemovedWhileItsFdIsOpenIsBrokenOnce for the fd left
	// open.
	void break_it() {
		dir_.remove();
		dir_.close_fd();
	}
	void check_broken(const ukevent &e) const { EXPECT_EQ(-ENOENT, err_of(e)) << describe(e); }

private:
	tmpdir dir_;
	uint64_t id_;
	int next_ = 0;
};

using InodeContract = Contract<InodeTarget>;
KEVENT_ORIGIN_CONTRACT(InodeContract)
TEST_P(InodeContract, BrokenIsDeliveredOnce) { broken_is_delivered_once(0); }
TEST_P(InodeContract, BrokenIsDeliveredOnceUnderLevel) {
	broken_is_delivered_once(KEVENT_REQ_LEVEL);
}
TEST_P(InodeContract, BrokenIsDeliveredOnceUnderEt) { broken_is_delivered_once(KEVENT_REQ_ET); }
KEVENT_INSTANTIATE_BACKENDS(InodeContract);
// ---- kevent_inode(7) ------------------------------------------------------------

TEST_P(Inode, CreateInADirectoryReportsCreateAndTheName) {
	tmpdir d;
	add_armed(watch(d.fd(), KEVENT_INODE_CREATE | KEVENT_INODE_REMOVE));
	touch(d / "alpha");
	auto [ev, n] = one(d.fd());
	EXPECT_EQ(KEVENT_INODE_CREATE, ev.ret_data[0]) << describe(ev);
	EXPECT_EQ((names{{KEVENT_INODE_CREATE, "alpha"}}), n);
}

TEST_P(Inode, CreateOfASubdirectoryReportsCreate) {
	tmpdir d;
	add_armed(watch(d.fd(), KEVENT_INODE_CREATE));
	ASSERT_EQ(0, ::mkdir((d / "sub").c_str(), 0755));
	auto [ev, n] = one(d.fd());
	EXPECT_EQ(KEVENT_INODE_CREATE, ev.ret_data[0]);
	EXPECT_EQ((names{{KEVENT_INODE_CREATE, "sub"}}), n);
}

TEST_P(Inode, RemoveInADirectoryReportsRemoveAndTheName) {
	tmpdir d;
	touch(d / "beta");
	add_armed(watch(d.fd(), KEVENT_INODE_CREATE | KEVENT_INODE_REMOVE));
	ASSERT_EQ(0, ::unlink((d / "beta").c_str()));
	auto [ev, n] = one(d.fd());
	EXPECT_EQ(KEVENT_INODE_REMOVE, ev.ret_data[0]) << describe(ev);
	EXPECT_EQ((names{{KEVENT_INODE_REMOVE, "beta"}}), n);
}

TEST_P(Inode, ModifyOfAFileInTheDirectoryReportsModifyAndTheName) {
	tmpdir d;
	touch(d / "gamma");
	add_armed(watch(d.fd(), KEVENT_INODE_MODIFY));
	append(d / "gamma");
	auto [ev, n] = one(d.fd());
	EXPECT_EQ(KEVENT_INODE_MODIFY, ev.ret_data[0]) << describe(ev);
	EXPECT_EQ((names{{KEVENT_INODE_MODIFY, "gamma"}}), n);
}

TEST_P(Inode, ModifyOfAWatchedFileReportsAnEmptyName) {
	tmpdir d;
	touch(d / "file");
	unique_fd f(::open((d / "file").c_str(), O_RDONLY | O_CLOEXEC));
	ASSERT_GE(f.get(), 0);
	add_armed(watch(f.get(), KEVENT_INODE_MODIFY));
	append(d / "file");
	auto [ev, n] = one(f.get());
	EXPECT_EQ(KEVENT_INODE_MODIFY, ev.ret_data[0]) << describe(ev);
	EXPECT_EQ((names{{KEVENT_INODE_MODIFY, ""}}), n) << "the watched object itself is \"\"";
}

TEST_P(Inode, AttribOfAFileInTheDirectoryReportsAttribAndTheName) {
	tmpdir d;
	touch(d / "delta");
	add_armed(watch(d.fd(), KEVENT_INODE_ATTRIB));
	ASSERT_EQ(0, ::chmod((d / "delta").c_str(), 0600));
	auto [ev, n] = one(d.fd());
	EXPECT_EQ(KEVENT_INODE_ATTRIB, ev.ret_data[0]) << describe(ev);
	EXPECT_EQ((names{{KEVENT_INODE_ATTRIB, "delta"}}), n);
}

TEST_P(Inode, AttribOfTheWatchedDirectoryItselfReportsAnEmptyName) {
	tmpdir d;
	add_armed(watch(d.fd(), KEVENT_INODE_ATTRIB));
	ASSERT_EQ(0, ::chmod(d.path().c_str(), 0700));
	auto [ev, n] = one(d.fd());
	EXPECT_EQ(KEVENT_INODE_ATTRIB, ev.ret_data[0]) << describe(ev);
	EXPECT_EQ((names{{KEVENT_INODE_ATTRIB, ""}}), n);
}

TEST_P(Inode, CloseWriteReportsCloseWriteAndTheName) {
	tmpdir d;
	touch(d / "eps");
	add_armed(watch(d.fd(), KEVENT_INODE_CLOSE_WRITE));
	// Opening for reading and closing is not a CLOSE_WRITE.
	::close(::open((d / "eps").c_str(), O_RDONLY | O_CLOEXEC));
	EXPECT_TRUE(get(kfd, 1, 8, 50).empty());
	int w = ::open((d / "eps").c_str(), O_WRONLY | O_CLOEXEC);
	ASSERT_GE(w, 0);
	EXPECT_TRUE(get(kfd, 1, 8, 50).empty()) << "CLOSE_WRITE before the close";
	::close(w);
	auto [ev, n] = one(d.fd());
	EXPECT_EQ(KEVENT_INODE_CLOSE_WRITE, ev.ret_data[0]) << describe(ev);
	EXPECT_EQ((names{{KEVENT_INODE_CLOSE_WRITE, "eps"}}), n);
}

TEST_P(Inode, RenameInADirectoryReportsTheMovedFromMovedToPairInOrder) {
	tmpdir d;
	touch(d / "old");
	add_armed(watch(d.fd(), KEVENT_INODE_MOVED_FROM | KEVENT_INODE_MOVED_TO));
	ASSERT_EQ(0, ::rename((d / "old").c_str(), (d / "new").c_str()));
	auto [ev, n] = one(d.fd());
	EXPECT_EQ(KEVENT_INODE_MOVED_FROM | KEVENT_INODE_MOVED_TO, ev.ret_data[0]) << describe(ev);
	EXPECT_EQ((names{{KEVENT_INODE_MOVED_FROM, "old"}, {KEVENT_INODE_MOVED_TO, "new"}}), n);
}

TEST_P(Inode, RenameBetweenTwoWatchedDirectoriesReportsEachHalfToItsDirectory) {
	tmpdir a, b;
	touch(a / "x");
	add_armed(watch(a.fd(), KEVENT_INODE_MOVED_FROM | KEVENT_INODE_MOVED_TO, 0, 1));
	add_armed(watch(b.fd(), KEVENT_INODE_MOVED_FROM | KEVENT_INODE_MOVED_TO, 0, 2));
	ASSERT_EQ(0, ::rename((a / "x").c_str(), (b / "y").c_str()));
	auto ev = get(kfd, 2, 8, 2000);
	ASSERT_EQ(2u, ev.size()) << describe(ev);
	for (const auto &e : ev) {
		auto n = all_names(kfd, e);
		if (cookie_of(e) == 1) {
			EXPECT_EQ(KEVENT_INODE_MOVED_FROM, e.ret_data[0]) << describe(e);
			EXPECT_EQ((names{{KEVENT_INODE_MOVED_FROM, "x"}}), n);
		} else {
			EXPECT_EQ(KEVENT_INODE_MOVED_TO, e.ret_data[0]) << describe(e);
			EXPECT_EQ((names{{KEVENT_INODE_MOVED_TO, "y"}}), n);
		}
	}
}

TEST_P(Inode, MoveSelfOfAWatchedFileIsReportedAndTheWatchFollowsTheFile) {
	tmpdir a, b;
	touch(a / "f");
	unique_fd f(::open((a / "f").c_str(), O_RDONLY | O_CLOEXEC));
	ASSERT_GE(f.get(), 0);
	add_armed(watch(f.get(), KEVENT_INODE_MOVE_SELF | KEVENT_INODE_MODIFY));
	ASSERT_EQ(0, ::rename((a / "f").c_str(), (b / "g").c_str()));
	auto [ev, n] = one(f.get());
	EXPECT_EQ(KEVENT_INODE_MOVE_SELF, ev.ret_data[0]) << describe(ev);
	EXPECT_EQ((names{{KEVENT_INODE_MOVE_SELF, ""}}), n) << "the watched object itself is \"\"";
	// No path is kept: a write under the new name is the watched file's.
	append(b / "g");
	auto [ev2, n2] = one(f.get());
	EXPECT_EQ(KEVENT_INODE_MODIFY, ev2.ret_data[0]) << describe(ev2);
}

TEST_P(Inode, MoveSelfOfAWatchedDirectoryIsReported) {
	tmpdir d;
	ASSERT_EQ(0, ::mkdir((d / "sub").c_str(), 0755));
	unique_fd sub(open_dir(d / "sub"));
	add_armed(watch(sub.get(), KEVENT_INODE_MOVE_SELF | KEVENT_INODE_CREATE));
	ASSERT_EQ(0, ::rename((d / "sub").c_str(), (d / "moved").c_str()));
	auto [ev, n] = one(sub.get());
	EXPECT_EQ(KEVENT_INODE_MOVE_SELF, ev.ret_data[0]) << describe(ev);
	touch(d / "moved/x");
	auto [ev2, n2] = one(sub.get());
	EXPECT_EQ(KEVENT_INODE_CREATE, ev2.ret_data[0]) << describe(ev2);
	EXPECT_EQ((names{{KEVENT_INODE_CREATE, "x"}}), n2);
}

TEST_P(Inode, MoveSelfIsNotReportedUnlessAsked) {
	tmpdir d;
	ASSERT_EQ(0, ::mkdir((d / "sub").c_str(), 0755));
	unique_fd sub(open_dir(d / "sub"));
	add_armed(watch(sub.get(), KEVENT_INODE_CREATE));
	ASSERT_EQ(0, ::rename((d / "sub").c_str(), (d / "moved").c_str()));
	EXPECT_TRUE(get(kfd, 1, 8, 100).empty()) << "a rename that was not asked for";
}

TEST_P(Inode, OnlyTheRequestedBitsAreReported) {
	tmpdir d;
	touch(d / "f");
	add_armed(watch(d.fd(), KEVENT_INODE_CREATE));
	ASSERT_EQ(0, ::chmod((d / "f").c_str(), 0600));
	append(d / "f");
	ASSERT_EQ(0, ::unlink((d / "f").c_str()));
	EXPECT_TRUE(get(kfd, 1, 8, 100).empty()) << "a change that was not asked for";
	touch(d / "g");
	auto [ev, n] = one(d.fd());
	EXPECT_EQ(KEVENT_INODE_CREATE, ev.ret_data[0]);
	EXPECT_EQ((names{{KEVENT_INODE_CREATE, "g"}}), n);
}

TEST_P(Inode, NamesCarryTheEventBitOfEachChangeInOrder) {
	tmpdir d;
	touch(d / "old");
	add_armed(watch(d.fd(), KEVENT_INODE_CREATE | KEVENT_INODE_REMOVE | KEVENT_INODE_ATTRIB));
	touch(d / "a");
	ASSERT_EQ(0, ::chmod((d / "a").c_str(), 0600));
	ASSERT_EQ(0, ::unlink((d / "old").c_str()));
	auto [ev, n] = one(d.fd());
	EXPECT_EQ(KEVENT_INODE_CREATE | KEVENT_INODE_REMOVE | KEVENT_INODE_ATTRIB, ev.ret_data[0])
		<< describe(ev);
	EXPECT_EQ((names{{KEVENT_INODE_CREATE, "a"},
			 {KEVENT_INODE_ATTRIB, "a"},
			 {KEVENT_INODE_REMOVE, "old"}}),
		  n);
}

TEST_P(Inode, RetDataIsClearedBetweenDeliveries) {
	tmpdir d;
	add_armed(watch(d.fd(), KEVENT_INODE_CREATE | KEVENT_INODE_REMOVE));
	touch(d / "a");
	auto [ev1, n1] = one(d.fd());
	EXPECT_EQ(KEVENT_INODE_CREATE, ev1.ret_data[0]);
	ASSERT_EQ(0, ::unlink((d / "a").c_str()));
	auto [ev2, n2] = one(d.fd());
	EXPECT_EQ(KEVENT_INODE_REMOVE, ev2.ret_data[0]) << "bits of the last delivery stayed";
	EXPECT_EQ((names{{KEVENT_INODE_REMOVE, "a"}}), n2);
}

// ---- the same inode watched more than once ----------------------------------------------

TEST_P(Inode, TwoQueuesWatchingOneDirectoryBothSeeChanges) {
	tmpdir d;
	owned_queue b(kevent_init(nullptr, 0, GetParam().flags));
	ASSERT_GE(b.get(), 0);
	add_armed(kfd, watch(d.fd(), KEVENT_INODE_CREATE, 0, 1));
	add_armed(b.get(), watch(d.fd(), KEVENT_INODE_CREATE | KEVENT_INODE_REMOVE, 0, 2));
	touch(d / "a");
	ASSERT_EQ(0, ::unlink((d / "a").c_str()));
	auto [ea, na] = one(kfd, d.fd());
	EXPECT_EQ((names{{KEVENT_INODE_CREATE, "a"}}), na);
	auto [eb, nb] = one(b.get(), d.fd());
	EXPECT_EQ((names{{KEVENT_INODE_CREATE, "a"}, {KEVENT_INODE_REMOVE, "a"}}), nb);
	// Removing one leaves the other watching.
	ukevent r = watch(d.fd(), KEVENT_INODE_CREATE);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &r));
	touch(d / "c");
	auto [eb2, nb2] = one(b.get(), d.fd());
	EXPECT_EQ((names{{KEVENT_INODE_CREATE, "c"}}), nb2);
	EXPECT_TRUE(get(kfd, 1, 8, 50).empty());
	EXPECT_EQ(0, kevent_close(b.release()));
}

TEST_P(Inode, OneQueueTwoFdsOnOneDirectoryEachKeventSeesWhatItAskedFor) {
	tmpdir d;
	unique_fd second(open_dir(d.path()));
	add_armed(watch(d.fd(), KEVENT_INODE_CREATE, 0, 1));
	add_armed(watch(second.get(), KEVENT_INODE_CREATE | KEVENT_INODE_REMOVE, 0, 2));
	EXPECT_EQ(2u, queue_stats(kfd).registered);
	touch(d / "a");
	auto ev = get(kfd, 2, 8, 2000);
	ASSERT_EQ(2u, ev.size()) << "both kevents must see the change " << describe(ev);
	for (const auto &e : ev)
		EXPECT_EQ((names{{KEVENT_INODE_CREATE, "a"}}), all_names(kfd, e)) << describe(e);
	// REMOVE only reaches the kevent that asked for it.
	ASSERT_EQ(0, ::unlink((d / "a").c_str()));
	auto [e2, n2] = one(second.get());
	EXPECT_EQ(2u, cookie_of(e2));
	EXPECT_EQ((names{{KEVENT_INODE_REMOVE, "a"}}), n2);
	// The narrower kevent's mask was widened for the other, not replaced:
	// removing the wide one leaves the narrow one working, and vice versa.
	ukevent r = watch(second.get(), KEVENT_INODE_CREATE | KEVENT_INODE_REMOVE);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &r));
	touch(d / "b");
	auto [e3, n3] = one(d.fd());
	EXPECT_EQ(1u, cookie_of(e3));
	EXPECT_EQ((names{{KEVENT_INODE_CREATE, "b"}}), n3);
}

TEST_P(Inode, OneQueueTwoFdsRemovingTheFirstLeavesTheSecondWatching) {
	tmpdir d;
	unique_fd second(open_dir(d.path()));
	add_armed(watch(d.fd(), KEVENT_INODE_CREATE, 0, 1));
	add_armed(watch(second.get(), KEVENT_INODE_CREATE, 0, 2));
	ukevent r = watch(d.fd(), KEVENT_INODE_CREATE);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &r));
	touch(d / "a");
	auto [e, n] = one(second.get());
	EXPECT_EQ(2u, cookie_of(e));
	EXPECT_EQ((names{{KEVENT_INODE_CREATE, "a"}}), n);
}

TEST_P(Inode, RemoveThenAddAgainOnTheSameDirectoryKeepsWorking) {
	tmpdir d;
	for (int round = 0; round < 3; round++) {
		add_armed(watch(d.fd(), KEVENT_INODE_CREATE));
		ukevent r = watch(d.fd(), KEVENT_INODE_CREATE);
		ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &r));
	}
	add_armed(watch(d.fd(), KEVENT_INODE_CREATE, 0, 9));
	touch(d / "a");
	auto [e, n] = one(d.fd());
	EXPECT_EQ(9u, cookie_of(e));
	EXPECT_EQ((names{{KEVENT_INODE_CREATE, "a"}}), n);
	// The old watches' IN_IGNORED must not break the new kevent.
	EXPECT_TRUE(get(kfd, 1, 8, 50).empty());
	EXPECT_EQ(1u, queue_stats(kfd).registered);
}

// MODIFY replaces the event bits (docs/semantics.md): the new bits must be
// reported from then on.
TEST_P(Inode, ModifyToMoreBitsReportsTheNewBits) {
	tmpdir d;
	touch(d / "old");
	add_armed(watch(d.fd(), KEVENT_INODE_CREATE));
	ukevent m = watch(d.fd(), KEVENT_INODE_CREATE | KEVENT_INODE_REMOVE);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_MODIFY, 1, &m));
	EXPECT_EQ(KEVENT_RET_DONE, m.ret_flags) << describe(m);
	ASSERT_EQ(0, ::unlink((d / "old").c_str()));
	auto ev = get(kfd, 1, 8, 1000);
	ASSERT_EQ(1u, ev.size()) << "REMOVE added by MODIFY was never reported";
	EXPECT_EQ(KEVENT_INODE_REMOVE, ev[0].ret_data[0]) << describe(ev[0]);
	EXPECT_EQ((names{{KEVENT_INODE_REMOVE, "old"}}), all_names(kfd, ev[0]));
}

TEST_P(Inode, ModifyToFewerBitsStopsReportingTheOldOnes) {
	tmpdir d;
	add_armed(watch(d.fd(), KEVENT_INODE_CREATE | KEVENT_INODE_REMOVE));
	ukevent m = watch(d.fd(), KEVENT_INODE_REMOVE);
	ASSERT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_MODIFY, 1, &m));
	touch(d / "a");
	EXPECT_TRUE(get(kfd, 1, 8, 100).empty()) << "CREATE was taken away by MODIFY";
	ASSERT_EQ(0, ::unlink((d / "a").c_str()));
	auto ev = get(kfd, 1, 8, 2000);
	ASSERT_EQ(1u, ev.size());
	EXPECT_EQ(KEVENT_INODE_REMOVE, ev[0].ret_data[0]);
}

// ---- BROKEN -------------------------------------------------------------------------

// kevent_inode(7): the watched object deleted -> BROKEN. The program still
// holds the fd it registered (id.raw[0] is that fd), so this is the common
// case.
TEST_P(Inode, WatchedDirectoryRemovedWhileItsFdIsOpenIsBrokenOnce) {
	tmpdir d;
	add_armed(watch(d.fd(), KEVENT_INODE_CREATE | KEVENT_INODE_REMOVE, 0, 5));
	d.remove();
	auto ev = get(kfd, 1, 8, 1000);
	ASSERT_EQ(1u, ev.size()) << "rmdir of the watched directory was not reported";
	EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, ev[0].ret_flags) << describe(ev[0]);
	EXPECT_EQ(5u, cookie_of(ev[0]));
	EXPECT_TRUE(get(kfd, 1, 8, 100).empty());
	EXPECT_EQ(0u, queue_stats(kfd).registered);
}

TEST_P(Inode, WatchedFileUnlinkedWhileItsFdIsOpenIsBrokenOnce) {
	tmpdir d;
	touch(d / "file");
	unique_fd f(::open((d / "file").c_str(), O_RDONLY | O_CLOEXEC));
	ASSERT_GE(f.get(), 0);
	add_armed(watch(f.get(), KEVENT_INODE_MODIFY, 0, 6));
	ASSERT_EQ(0, ::unlink((d / "file").c_str()));
	auto ev = get(kfd, 1, 8, 1000);
	ASSERT_EQ(1u, ev.size()) << "unlink of the watched file was not reported";
	EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, ev[0].ret_flags) << describe(ev[0]);
	EXPECT_TRUE(get(kfd, 1, 8, 100).empty());
	EXPECT_EQ(0u, queue_stats(kfd).registered);
}

TEST_P(Inode, WatchedDirectoryRemovedAndItsFdClosedIsBrokenOnceWithEnoent) {
	tmpdir d;
	add_armed(watch(d.fd(), KEVENT_INODE_CREATE, 0, 5));
	d.remove();
	d.close_fd();
	auto ev = get(kfd, 1, 8, 2000);
	ASSERT_EQ(1u, ev.size());
	EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, ev[0].ret_flags) << describe(ev[0]);
	EXPECT_EQ(-ENOENT, err_of(ev[0])) << describe(ev[0]);
	EXPECT_TRUE(get(kfd, 1, 8, 100).empty());
	EXPECT_EQ(0u, queue_stats(kfd).registered);
}

// Two kevents on one deleted inode: each is delivered BROKEN once.
TEST_P(Inode, BrokenReachesEveryKeventOfTheInodeOnce) {
	tmpdir d;
	unique_fd second(open_dir(d.path()));
	add_armed(watch(d.fd(), KEVENT_INODE_CREATE, 0, 1));
	add_armed(watch(second.get(), KEVENT_INODE_REMOVE, 0, 2));
	d.remove();
	d.close_fd();
	second.reset();
	auto ev = get(kfd, 2, 8, 2000);
	ASSERT_EQ(2u, ev.size()) << describe(ev);
	for (const auto &e : ev)
		EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, e.ret_flags) << describe(e);
	EXPECT_TRUE(get(kfd, 1, 8, 100).empty());
	EXPECT_EQ(0u, queue_stats(kfd).registered);
}

TEST_P(Inode, AddOnARemovedDirectoryIsBrokenEnoent) {
	tmpdir d;
	d.remove();
	expect_add_error(watch(d.fd(), KEVENT_INODE_CREATE), ENOENT);
	EXPECT_EQ(0u, queue_stats(kfd).registered);
}

// ---- argument checks ------------------------------------------------------------------

TEST_P(Inode, SocketFdIsEinval) {
	int sv[2];
	ASSERT_EQ(0, ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	unique_fd a(sv[0]), b(sv[1]);
	expect_add_error(watch(a.get(), KEVENT_INODE_CREATE), EINVAL);
	EXPECT_EQ(0u, queue_stats(kfd).registered);
}

TEST_P(Inode, PipeFdIsEinval) {
	int p[2];
	ASSERT_EQ(0, ::pipe2(p, O_CLOEXEC));
	unique_fd r(p[0]), w(p[1]);
	expect_add_error(watch(r.get(), KEVENT_INODE_MODIFY), EINVAL);
}

TEST_P(Inode, ClosedFdIsEbadf) {
	int fd = open_dir("/");
	::close(fd);
	expect_add_error(watch(fd, KEVENT_INODE_CREATE), EBADF);
	expect_add_error(watch(-1, KEVENT_INODE_CREATE), EBADF);
	EXPECT_EQ(0u, queue_stats(kfd).registered);
}

TEST_P(Inode, BadEventBitsOrIdAreEinval) {
	tmpdir d;
	for (unsigned bits : {0u, KEVENT_INODE_OVERFLOW,
			      KEVENT_INODE_CREATE | KEVENT_INODE_OVERFLOW, 0x200u, 0x80000000u})
		expect_add_error(watch(d.fd(), bits), EINVAL);
	ukevent e = watch(d.fd(), KEVENT_INODE_CREATE);
	e.id.raw[1] = 1;
	expect_add_error(e, EINVAL);
	EXPECT_EQ(0u, queue_stats(kfd).registered);
}

// ---- OVERFLOW ----------------------------------------------------------------------

// The kernel drops events once an inotify instance holds
// fs.inotify.max_queued_events unread ones. The test makes it do so with the
// machine's own limit, by creating more files than that before anyone reads:
// lowering the limit instead would change it for every instance created
// meanwhile, by any process (ctest runs cases side by side), and two cases
// doing so at once could leave it lowered for good.
TEST_P(Inode, OverflowIsReportedWhenTheKernelDropsEvents) {
	constexpr const char *path = "/proc/sys/fs/inotify/max_queued_events";
	long limit = 0;
	{
		std::ifstream in(path);
		if (!(in >> limit) || limit <= 0)
			GTEST_SKIP() << "cannot read " << path;
	}
	if (limit > 200000)
		GTEST_SKIP() << path << " is " << limit
			     << ": too many files to create to make the kernel drop events";
	tmpdir d;
	add_armed(watch(d.fd(), KEVENT_INODE_CREATE));
	const long count = limit + 64;
	for (long i = 0; i < count; i++)
		touch(d / ("o" + std::to_string(i)));
	bool overflow = false;
	size_t names_seen = 0;
	for (;;) {
		auto ev = get(kfd, 1, 8, 300);
		if (ev.empty())
			break;
		for (const auto &e : ev) {
			overflow |= (e.ret_data[0] & KEVENT_INODE_OVERFLOW) != 0;
			names_seen += all_names(kfd, e).size();
		}
	}
	EXPECT_TRUE(overflow) << "the kernel dropped events and OVERFLOW was not reported";
	EXPECT_LT(names_seen, static_cast<size_t>(count))
		<< "the kernel cannot have queued them all";
	// After the overflow the kevent keeps working.
	touch(d / "after");
	auto [e, n] = one(d.fd());
	EXPECT_EQ((names{{KEVENT_INODE_CREATE, "after"}}), n);
}

KEVENT_INSTANTIATE_BACKENDS(Inode);

} // namespace
