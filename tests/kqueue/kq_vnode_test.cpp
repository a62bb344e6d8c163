// SPDX-License-Identifier: MIT
// EVFILT_VNODE (kqueue(3), docs/kqueue.md): each NOTE on a file and on a
// directory, the knote following the file through a rename, a delete while
// the file is open, EV_CLEAR against none (FreeBSD reports collected fflags
// until cleared), EV_DELETE, EV_ONESHOT, EV_DISABLE, udata, a closed
// descriptor, two kqueues on one file, bad input.
#include "kq_test.hpp"

#include <filesystem>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>

using namespace kq_test;
using KqVnode = KqTest;

namespace {

constexpr unsigned all_notes = NOTE_DELETE | NOTE_WRITE | NOTE_EXTEND | NOTE_ATTRIB | NOTE_LINK |
			       NOTE_RENAME | NOTE_REVOKE;

// A temporary directory, removed with what is in it.
struct tmpdir {
	std::string path;
	tmpdir() {
		char t[] = "/tmp/kq_vnode.XXXXXX";
		char *p = mkdtemp(t);
		EXPECT_NE(nullptr, p) << std::strerror(errno);
		path = p ? p : "";
	}
	~tmpdir() {
		std::error_code ec;
		std::filesystem::remove_all(path, ec);
	}
	std::string operator/(const std::string &name) const { return path + "/" + name; }
};

int open_file(const std::string &p, int flags = O_RDWR) {
	int fd = open(p.c_str(), flags | O_CREAT | O_CLOEXEC, 0644);
	EXPECT_GE(fd, 0) << p << ": " << std::strerror(errno);
	return fd;
}

int open_dir(const std::string &p) {
	int fd = open(p.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	EXPECT_GE(fd, 0) << p << ": " << std::strerror(errno);
	return fd;
}

void put(int fd, const char *s = "x") { ASSERT_EQ(ssize_t(strlen(s)), write(fd, s, strlen(s))); }

// The fflags reported for ident: the first event (waiting up to 5 s), OR
// what a second look without waiting adds. 0: none. Other idents fail.
unsigned notes(int kq, uintptr_t ident, long ms = 5000) {
	unsigned f = 0;
	struct kevent ev[8];
	for (long t : {ms, 0L}) {
		int n = wait(kq, ev, 8, t);
		EXPECT_GE(n, 0) << std::strerror(errno);
		for (int i = 0; i < n; i++) {
			EXPECT_EQ(ident, ev[i].ident);
			EXPECT_EQ(EVFILT_VNODE, ev[i].filter);
			f |= ev[i].fflags;
		}
		if (n <= 0)
			break;
	}
	return f;
}

// No event within a short wait (the kernel reports inotify events at the
// system call, so a missing event is not a late one).
void expect_none(int kq) {
	struct kevent ev[4];
	int n = wait(kq, ev, 4, 50);
	EXPECT_EQ(0, n) << "unexpected: ident " << (n > 0 ? ev[0].ident : 0) << " fflags 0x"
			<< std::hex << (n > 0 ? ev[0].fflags : 0);
}

} // namespace

// ---- a file ------------------------------------------------------------------------

TEST_P(KqVnode, FileWriteInPlaceIsWriteAndAppendIsAlsoExtend) {
	tmpdir d;
	int fd = open_file(d / "f");
	put(fd, "abc");
	ASSERT_EQ(0, change(kq, fd, EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_WRITE | NOTE_EXTEND));
	ASSERT_EQ(1, pwrite(fd, "z", 1, 0));
	EXPECT_EQ(unsigned(NOTE_WRITE), notes(kq, fd)) << "no growth: no NOTE_EXTEND";
	put(fd, "more");
	EXPECT_EQ(unsigned(NOTE_WRITE | NOTE_EXTEND), notes(kq, fd));
	close(fd);
}

TEST_P(KqVnode, FileAttribAndOnlyWhatWasAsked) {
	tmpdir d;
	int fd = open_file(d / "f");
	ASSERT_EQ(0, change(kq, fd, EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_ATTRIB));
	put(fd);
	expect_none(kq);
	ASSERT_EQ(0, fchmod(fd, 0600));
	EXPECT_EQ(unsigned(NOTE_ATTRIB), notes(kq, fd));
	close(fd);
}

TEST_P(KqVnode, FileLinkAndUnlinkOfASecondNameIsLink) {
	tmpdir d;
	int fd = open_file(d / "f");
	ASSERT_EQ(0, change(kq, fd, EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_LINK | NOTE_DELETE));
	ASSERT_EQ(0, link((d / "f").c_str(), (d / "g").c_str()));
	EXPECT_EQ(unsigned(NOTE_LINK), notes(kq, fd));
	ASSERT_EQ(0, unlink((d / "f").c_str()));
	EXPECT_EQ(unsigned(NOTE_LINK), notes(kq, fd)) << "a name is left: no NOTE_DELETE";
	close(fd);
}

TEST_P(KqVnode, FileRenamedIsRenameAndTheKnoteFollowsTheFile) {
	tmpdir a, b;
	int fd = open_file(a / "f", O_RDONLY);
	ASSERT_EQ(0, change(kq, fd, EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_RENAME | NOTE_WRITE));
	ASSERT_EQ(0, rename((a / "f").c_str(), (b / "g").c_str()));
	EXPECT_EQ(unsigned(NOTE_RENAME), notes(kq, fd));
	// A new file under the old name is not the watched one.
	int other = open_file(a / "f", O_WRONLY);
	put(other);
	expect_none(kq);
	int w = open_file(b / "g", O_WRONLY);
	put(w);
	EXPECT_EQ(unsigned(NOTE_WRITE), notes(kq, fd)) << "a write after the rename";
	close(w);
	close(other);
	close(fd);
}

TEST_P(KqVnode, FileDeletedWhileOpenIsDeleteAndTheKnoteStaysUntilDeleted) {
	tmpdir d;
	int fd = open_file(d / "f");
	ASSERT_EQ(0, change(kq, fd, EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_DELETE | NOTE_WRITE, 0,
			    (void *)3));
	ASSERT_EQ(0, unlink((d / "f").c_str()));
	struct kevent ev[2];
	ASSERT_EQ(1, wait(kq, ev, 2, 5000));
	EXPECT_EQ(unsigned(NOTE_DELETE), ev[0].fflags);
	EXPECT_EQ((void *)3, ev[0].udata);
	EXPECT_EQ(0, ev[0].flags & EV_EOF);
	put(fd); // documented: nothing is reported after NOTE_DELETE
	expect_none(kq);
	EXPECT_EQ(0, change(kq, fd, EVFILT_VNODE, EV_DELETE));
	EXPECT_EQ(-1, change(kq, fd, EVFILT_VNODE, EV_DELETE));
	EXPECT_EQ(ENOENT, errno);
	close(fd);
}

TEST_P(KqVnode, FileReplacedByARenameIsDelete) {
	tmpdir d;
	int fd = open_file(d / "f");
	int other = open_file(d / "g");
	ASSERT_EQ(0, change(kq, fd, EVFILT_VNODE, EV_ADD | EV_CLEAR, all_notes));
	ASSERT_EQ(0, rename((d / "g").c_str(), (d / "f").c_str()));
	EXPECT_EQ(unsigned(NOTE_DELETE), notes(kq, fd) & NOTE_DELETE);
	close(other);
	close(fd);
}

// ---- a directory -------------------------------------------------------------------

TEST_P(KqVnode, DirectoryEntriesChangedIsWrite) {
	tmpdir d;
	int fd = open_dir(d.path);
	ASSERT_EQ(0, change(kq, fd, EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_WRITE));
	int f = open_file(d / "a");
	EXPECT_EQ(unsigned(NOTE_WRITE), notes(kq, fd)) << "a name created";
	put(f);
	expect_none(kq); // a write to a file in it is not a change of the directory
	ASSERT_EQ(0, rename((d / "a").c_str(), (d / "b").c_str()));
	EXPECT_EQ(unsigned(NOTE_WRITE), notes(kq, fd)) << "a name renamed";
	ASSERT_EQ(0, unlink((d / "b").c_str()));
	EXPECT_EQ(unsigned(NOTE_WRITE), notes(kq, fd)) << "a name removed";
	close(f);
	close(fd);
}

TEST_P(KqVnode, DirectorySubdirectoryMadeOrRemovedIsLink) {
	tmpdir d;
	int fd = open_dir(d.path);
	ASSERT_EQ(0, change(kq, fd, EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_LINK));
	close(open_file(d / "file"));
	expect_none(kq); // a file created: the directory's link count is the same
	ASSERT_EQ(0, mkdir((d / "sub").c_str(), 0755));
	EXPECT_EQ(unsigned(NOTE_LINK), notes(kq, fd));
	ASSERT_EQ(0, rmdir((d / "sub").c_str()));
	EXPECT_EQ(unsigned(NOTE_LINK), notes(kq, fd));
	close(fd);
}

TEST_P(KqVnode, DirectoryAttribRenameDelete) {
	tmpdir d;
	ASSERT_EQ(0, mkdir((d / "sub").c_str(), 0755));
	int fd = open_dir(d / "sub");
	ASSERT_EQ(0, change(kq, fd, EVFILT_VNODE, EV_ADD | EV_CLEAR, all_notes));
	ASSERT_EQ(0, fchmod(fd, 0700));
	EXPECT_EQ(unsigned(NOTE_ATTRIB), notes(kq, fd));
	ASSERT_EQ(0, rename((d / "sub").c_str(), (d / "moved").c_str()));
	EXPECT_EQ(unsigned(NOTE_RENAME), notes(kq, fd));
	ASSERT_EQ(0, rmdir((d / "moved").c_str()));
	EXPECT_EQ(unsigned(NOTE_DELETE), notes(kq, fd) & NOTE_DELETE);
	close(fd);
}

// ---- flags -------------------------------------------------------------------------

TEST_P(KqVnode, WithoutClearCollectedFflagsAreReportedAgainWithClearOnce) {
	tmpdir d;
	int a = open_file(d / "a"), b = open_file(d / "b");
	ASSERT_EQ(0, change(kq, a, EVFILT_VNODE, EV_ADD, NOTE_WRITE));
	ASSERT_EQ(0, change(kq, b, EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_WRITE));
	put(a);
	put(b);
	struct kevent ev[4];
	ASSERT_EQ(2, wait(kq, ev, 4, 5000)) << "both, if the second report came in time";
	auto v = poll_events(kq);
	ASSERT_EQ(1u, v.size()) << "FreeBSD: fflags stay until EV_CLEAR clears them";
	EXPECT_EQ(uintptr_t(a), v[0].ident);
	EXPECT_EQ(unsigned(NOTE_WRITE), v[0].fflags);
	close(a);
	close(b);
}

TEST_P(KqVnode, OneshotIsDeliveredOnceThenGone) {
	tmpdir d;
	int fd = open_file(d / "f");
	ASSERT_EQ(0, change(kq, fd, EVFILT_VNODE, EV_ADD | EV_ONESHOT, NOTE_WRITE));
	put(fd);
	EXPECT_EQ(unsigned(NOTE_WRITE), notes(kq, fd));
	put(fd);
	expect_none(kq);
	EXPECT_EQ(-1, change(kq, fd, EVFILT_VNODE, EV_DELETE));
	EXPECT_EQ(ENOENT, errno);
	close(fd);
}

TEST_P(KqVnode, DeleteDrainsAndStops) {
	tmpdir d;
	int fd = open_file(d / "f");
	ASSERT_EQ(0, change(kq, fd, EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_WRITE));
	put(fd);
	ASSERT_EQ(0, change(kq, fd, EVFILT_VNODE, EV_DELETE));
	put(fd);
	expect_none(kq);
	close(fd);
}

TEST_P(KqVnode, DisabledCollectsAndEnabledReports) {
	tmpdir d;
	int fd = open_file(d / "f");
	ASSERT_EQ(0, change(kq, fd, EVFILT_VNODE, EV_ADD | EV_CLEAR | EV_DISABLE, NOTE_WRITE));
	put(fd);
	expect_none(kq);
	// FreeBSD: every change but a delete sets the requested fflags.
	ASSERT_EQ(0, change(kq, fd, EVFILT_VNODE, EV_ENABLE, NOTE_WRITE));
	EXPECT_EQ(unsigned(NOTE_WRITE), notes(kq, fd));
	close(fd);
}

TEST_P(KqVnode, UdataKeptAndReplacedAndFflagsReplaced) {
	tmpdir d;
	int fd = open_file(d / "f");
	ASSERT_EQ(0, change(kq, fd, EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_WRITE, 0, (void *)1));
	put(fd);
	struct kevent ev[2];
	ASSERT_EQ(1, wait(kq, ev, 2, 5000));
	EXPECT_EQ((void *)1, ev[0].udata);
	ASSERT_EQ(0, change(kq, fd, EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_ATTRIB, 0, (void *)2));
	put(fd);
	expect_none(kq); // NOTE_WRITE no longer asked
	ASSERT_EQ(0, fchmod(fd, 0600));
	ASSERT_EQ(1, wait(kq, ev, 2, 5000));
	EXPECT_EQ(unsigned(NOTE_ATTRIB), ev[0].fflags);
	EXPECT_EQ((void *)2, ev[0].udata);
	close(fd);
}

TEST_P(KqVnode, ClosedDescriptorDropsTheKnote) {
	tmpdir d;
	int fd = open_file(d / "f");
	int w = open_file(d / "f", O_WRONLY);
	ASSERT_EQ(0, change(kq, fd, EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_WRITE));
	close(fd);
	put(w);
	expect_none(kq);
	EXPECT_EQ(-1, change(kq, fd, EVFILT_VNODE, EV_DELETE));
	EXPECT_EQ(EBADF, errno);
	close(w);
}

TEST_P(KqVnode, TwoKqueuesOnOneFileAreIndependent) {
	tmpdir d;
	int fd = open_file(d / "f");
	int kq2 = kqueue();
	ASSERT_GE(kq2, 0);
	ASSERT_EQ(0, change(kq, fd, EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_WRITE));
	ASSERT_EQ(0, change(kq2, fd, EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_WRITE | NOTE_ATTRIB));
	put(fd);
	EXPECT_EQ(unsigned(NOTE_WRITE), notes(kq, fd));
	EXPECT_EQ(unsigned(NOTE_WRITE), notes(kq2, fd));
	ASSERT_EQ(0, change(kq, fd, EVFILT_VNODE, EV_DELETE));
	ASSERT_EQ(0, fchmod(fd, 0600));
	EXPECT_EQ(unsigned(NOTE_ATTRIB), notes(kq2, fd));
	expect_none(kq);
	close(kq2);
	close(fd);
}

TEST_P(KqVnode, BadInputIsRefused) {
	tmpdir d;
	int fd = open_file(d / "f");
	EXPECT_EQ(-1, change(kq, fd, EVFILT_VNODE, EV_ADD, 0x100));
	EXPECT_EQ(EINVAL, errno);
	int sv[2];
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	EXPECT_EQ(-1, change(kq, sv[0], EVFILT_VNODE, EV_ADD, NOTE_WRITE));
	EXPECT_EQ(EINVAL, errno);
	close(sv[0]);
	close(sv[1]);
	EXPECT_EQ(-1, change(kq, sv[0], EVFILT_VNODE, EV_ADD, NOTE_WRITE));
	EXPECT_EQ(EBADF, errno);
	ASSERT_EQ(0, change(kq, fd, EVFILT_VNODE, EV_ADD, NOTE_WRITE));
	EXPECT_EQ(-1, change(kq, fd, EVFILT_VNODE, EV_ADD, NOTE_WRITE | 0x8000));
	EXPECT_EQ(EINVAL, errno);
	put(fd);
	EXPECT_EQ(unsigned(NOTE_WRITE), notes(kq, fd)) << "the refused change changed nothing";
	close(fd);
}

KQ_INSTANTIATE(KqVnode);
