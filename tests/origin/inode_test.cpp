// SPDX-License-Identifier: MIT
// inode_test — the INODE origin: the common contract (origin_contract.hpp) and
// SPEC §8's INODE row (kevent_inode(7), kevent_inode_names(3)):
//   - CREATE and REMOVE of names in a watched directory, and the extensions
//     MODIFY, ATTRIB, MOVED_FROM/MOVED_TO, CLOSE_WRITE; ret_data[0] = the
//     bits that fired, ret_data[1] = the names handed to kevent_inode_names;
//   - every name of a 10,000-file burst is returned exactly once;
//   - the watched object deleted -> BROKEN, delivered once;
//   - OVERFLOW when the kernel dropped events;
//   - one directory watched by two queues, or twice by one queue through two
//     fds: each kevent sees what it asked for;
//   - a socket or pipe fd -> EINVAL, a closed fd -> EBADF.
#include "origin_contract.hpp"

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <utility>

namespace {

using namespace kevent_origin;
namespace fs = std::filesystem;

// ---- helpers --------------------------------------------------------------------

std::string make_tmpdir() {
	const char *base = std::getenv("TMPDIR");
	std::string tmpl = std::string(base && *base ? base : "/tmp") + "/kevent-inode-XXXXXX";
	char *p = ::mkdtemp(tmpl.data());
	EXPECT_NE(nullptr, p) << std::strerror(errno);
	return tmpl;
}

int open_dir(const std::string &path) {
	int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	EXPECT_GE(fd, 0) << path << ": " << std::strerror(errno);
	return fd;
}

void touch(const std::string &path) {
	int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	ASSERT_GE(fd, 0) << path << ": " << std::strerror(errno);
	::close(fd);
}

void append(const std::string &path, const char *text = "x") {
	int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
	ASSERT_GE(fd, 0) << path << ": " << std::strerror(errno);
	ASSERT_EQ(static_cast<ssize_t>(std::strlen(text)), ::write(fd, text, std::strlen(text)));
	::close(fd);
}

// A temporary directory, open, removed with everything in it at the end.
class tmpdir {
public:
	tmpdir() : path_(make_tmpdir()), fd_(open_dir(path_)) {}
	tmpdir(const tmpdir &) = delete;
	tmpdir &operator=(const tmpdir &) = delete;
	~tmpdir() {
		std::error_code ec;
		fs::remove_all(path_, ec);
	}
	const std::string &path() const { return path_; }
	std::string operator/(const std::string &name) const { return path_ + "/" + name; }
	int fd() const { return fd_.get(); }
	void close_fd() { fd_.reset(); }
	// Delete the directory and everything in it (the fd stays open).
	void remove() {
		std::error_code ec;
		fs::remove_all(path_, ec);
		EXPECT_FALSE(ec) << ec.message();
	}

private:
	std::string path_;
	unique_fd fd_;
};

uint64_t inode_id(int fd) {
	kevent_id id{};
	id.raw[0] = static_cast<uint32_t>(fd);
	id.raw[1] = 0;
	return id.raw_u64;
}

struct name_entry {
	uint32_t event;
	std::string name;
	bool operator==(const name_entry &) const = default;
};

std::ostream &operator<<(std::ostream &os, const name_entry &n) {
	return os << "{0x" << std::hex << n.event << std::dec << ",\"" << n.name << "\"}";
}

// Parses the records kevent_inode_names wrote into buf[0, bytes).
std::vector<name_entry> parse_names(const char *buf, int bytes) {
	std::vector<name_entry> out;
	for (int off = 0; off < bytes;) {
		auto *r = reinterpret_cast<const kevent_inode_name *>(buf + off);
		EXPECT_EQ(0, off % 8) << "records are 8-aligned";
		EXPECT_EQ(0u, r->len % 8) << "len includes the padding";
		EXPECT_GT(r->len, 0u);
		EXPECT_LE(std::strlen(r->name) + 1, r->len) << "name not NUL-terminated in len";
		out.push_back({r->event, std::string(r->name)});
		off += static_cast<int>(sizeof(kevent_inode_name) + r->len);
		EXPECT_LE(off, bytes);
	}
	return out;
}

// Every name the delivery `ev` handed over, read in one go.
std::vector<name_entry> all_names(int q, const ukevent &ev) {
	std::vector<name_entry> out;
	alignas(8) static char buf[256 * 1024];
	for (;;) {
		int n = kevent_inode_names(q, &ev, buf, sizeof buf);
		EXPECT_GE(n, 0) << std::strerror(errno);
		if (n <= 0)
			return out;
		auto v = parse_names(buf, n);
		out.insert(out.end(), v.begin(), v.end());
	}
}

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

// ---- SPEC §8, the INODE row ----------------------------------------------------

class Inode : public QueueTest {
protected:
	static ukevent watch(int fd, unsigned bits, unsigned req = 0, uint64_t cookie = 0) {
		return make(KEVENT_INODE, inode_id(fd), bits, req, cookie);
	}
	void add_armed(int q, ukevent e) {
		ASSERT_EQ(0, kevent_ctl(q, KEVENT_CTL_ADD, 1, &e)) << describe(e);
	}
	void add_armed(ukevent e) { add_armed(kfd, e); }
	void expect_add_error(ukevent e, int err) {
		ASSERT_EQ(1, add(e)) << describe(e);
		EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, e.ret_flags) << describe(e);
		EXPECT_EQ(-err, err_of(e)) << describe(e) << " " << std::strerror(-err_of(e));
	}
	// The single delivery for the kevent on `fd`, with its names.
	std::pair<ukevent, std::vector<name_entry>> one(int q, int fd) {
		auto ev = get(q, 1, 8, 2000);
		EXPECT_EQ(1u, ev.size()) << describe(ev);
		if (ev.empty())
			return {};
		EXPECT_EQ(inode_id(fd), ev[0].id.raw_u64) << describe(ev[0]);
		EXPECT_EQ(0u, ev[0].ret_flags) << describe(ev[0]);
		auto names = all_names(q, ev[0]);
		EXPECT_EQ(ev[0].ret_data[1], names.size())
			<< "ret_data[1] must count the names handed over: " << describe(ev[0]);
		return {ev[0], names};
	}
	std::pair<ukevent, std::vector<name_entry>> one(int fd) { return one(kfd, fd); }
};

using names = std::vector<name_entry>;

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

// SPEC §8: "a user must be able to learn which name changed", tested with a
// burst of 10,000 files created before anyone looks.
TEST_P(Inode, TenThousandFilesInABurstEveryNameIsReturnedExactlyOnce) {
	constexpr int count = 10000;
	tmpdir d;
	add_armed(watch(d.fd(), KEVENT_INODE_CREATE));
	for (int i = 0; i < count; i++) {
		int fd = ::open((d / ("file-" + std::to_string(i))).c_str(),
				O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		ASSERT_GE(fd, 0) << i << ": " << std::strerror(errno);
		::close(fd);
	}
	std::map<std::string, int> seen;
	size_t deliveries = 0, handed = 0;
	for (;;) {
		auto ev = get(kfd, 1, 8, 300);
		if (ev.empty())
			break;
		for (const auto &e : ev) {
			deliveries++;
			EXPECT_EQ(0u, e.ret_flags) << describe(e);
			EXPECT_EQ(0u, e.ret_data[0] & KEVENT_INODE_OVERFLOW) << describe(e);
			handed += e.ret_data[1];
			for (const auto &n : all_names(kfd, e)) {
				EXPECT_EQ(KEVENT_INODE_CREATE, n.event) << n;
				seen[n.name]++;
			}
		}
	}
	EXPECT_GE(deliveries, 1u);
	EXPECT_EQ(static_cast<size_t>(count), handed) << "sum of ret_data[1]";
	EXPECT_EQ(static_cast<size_t>(count), seen.size());
	int twice = 0, missing = 0;
	for (int i = 0; i < count; i++) {
		auto it = seen.find("file-" + std::to_string(i));
		if (it == seen.end())
			missing++;
		else if (it->second != 1)
			twice++;
	}
	EXPECT_EQ(0, missing) << "names never returned";
	EXPECT_EQ(0, twice) << "names returned more than once";
}

// ---- kevent_inode_names(3) ---------------------------------------------------------

TEST_P(Inode, NamesWithABufferTooSmallForOneRecordIsEinvalAndKeepsThem) {
	tmpdir d;
	add_armed(watch(d.fd(), KEVENT_INODE_CREATE));
	touch(d / "a-rather-long-name-for-a-small-buffer");
	auto ev = get(kfd, 1, 8, 2000);
	ASSERT_EQ(1u, ev.size());
	alignas(8) char small[16];
	errno = 0;
	EXPECT_EQ(-1, kevent_inode_names(kfd, &ev[0], small, sizeof small));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, kevent_inode_names(kfd, &ev[0], small, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ((names{{KEVENT_INODE_CREATE, "a-rather-long-name-for-a-small-buffer"}}),
		  all_names(kfd, ev[0]))
		<< "a failed call must not consume the name";
}

TEST_P(Inode, NamesWithABufferForTwoRecordsReturnsTwoAndKeepsTheRest) {
	tmpdir d;
	add_armed(watch(d.fd(), KEVENT_INODE_CREATE));
	for (int i = 0; i < 5; i++)
		touch(d / ("n" + std::to_string(i))); // "nK\0" + padding: 8 bytes of name
	auto ev = get(kfd, 1, 8, 2000);
	ASSERT_EQ(1u, ev.size());
	ASSERT_EQ(5u, ev[0].ret_data[1]) << describe(ev[0]);
	constexpr unsigned rec = sizeof(kevent_inode_name) + 8;
	alignas(8) char buf[2 * rec + rec / 2]; // room for two, not three
	int n = kevent_inode_names(kfd, &ev[0], buf, sizeof buf);
	ASSERT_EQ(static_cast<int>(2 * rec), n) << std::strerror(errno);
	EXPECT_EQ((names{{KEVENT_INODE_CREATE, "n0"}, {KEVENT_INODE_CREATE, "n1"}}),
		  parse_names(buf, n));
	EXPECT_EQ((names{{KEVENT_INODE_CREATE, "n2"},
			 {KEVENT_INODE_CREATE, "n3"},
			 {KEVENT_INODE_CREATE, "n4"}}),
		  all_names(kfd, ev[0]));
	EXPECT_EQ(0, kevent_inode_names(kfd, &ev[0], buf, sizeof buf)) << "all read";
}

TEST_P(Inode, NamesArgumentChecks) {
	tmpdir d;
	add_armed(watch(d.fd(), KEVENT_INODE_CREATE));
	touch(d / "a");
	auto ev = get(kfd, 1, 8, 2000);
	ASSERT_EQ(1u, ev.size());
	alignas(8) char buf[256];
	errno = 0;
	EXPECT_EQ(-1, kevent_inode_names(kfd, nullptr, buf, sizeof buf));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, kevent_inode_names(kfd, &ev[0], nullptr, sizeof buf));
	EXPECT_EQ(EINVAL, errno);
	ukevent wrong = ev[0];
	wrong.type = KEVENT_SOCKET;
	errno = 0;
	EXPECT_EQ(-1, kevent_inode_names(kfd, &wrong, buf, sizeof buf));
	EXPECT_EQ(EINVAL, errno);
	unique_fd not_kevent(::open("/dev/null", O_RDONLY | O_CLOEXEC));
	errno = 0;
	EXPECT_EQ(-1, kevent_inode_names(not_kevent.get(), &ev[0], buf, sizeof buf));
	EXPECT_EQ(EINVAL, errno);
	int closed = not_kevent.release();
	::close(closed);
	errno = 0;
	EXPECT_EQ(-1, kevent_inode_names(closed, &ev[0], buf, sizeof buf));
	EXPECT_EQ(EBADF, errno);
	// Still there after all that.
	EXPECT_EQ((names{{KEVENT_INODE_CREATE, "a"}}), all_names(kfd, ev[0]));
}

TEST_P(Inode, NamesOfAnUnknownKeventAreNone) {
	tmpdir d;
	alignas(8) char buf[256];
	ukevent e = watch(d.fd(), KEVENT_INODE_CREATE);
	EXPECT_EQ(0, kevent_inode_names(kfd, &e, buf, sizeof buf)) << std::strerror(errno);
	add_armed(e);
	EXPECT_EQ(0, kevent_inode_names(kfd, &e, buf, sizeof buf)) << "nothing delivered yet";
}

TEST_P(Inode, NamesAreOnlyHandedOverAtDelivery) {
	tmpdir d;
	ukevent e = watch(d.fd(), KEVENT_INODE_CREATE);
	add_armed(e);
	touch(d / "a");
	alignas(8) char buf[256];
	// Not delivered yet: the names wait with the kevent, not for the reader.
	EXPECT_EQ(0, kevent_inode_names(kfd, &e, buf, sizeof buf));
	auto [ev, n] = one(d.fd());
	EXPECT_EQ((names{{KEVENT_INODE_CREATE, "a"}}), n);
}

TEST_P(Inode, NamesStayReadableAfterAOneshotDelivery) {
	tmpdir d;
	add_armed(watch(d.fd(), KEVENT_INODE_CREATE, KEVENT_REQ_ONESHOT));
	touch(d / "a");
	touch(d / "b");
	auto ev = get(kfd, 1, 8, 2000);
	ASSERT_EQ(1u, ev.size());
	EXPECT_EQ(KEVENT_RET_DONE, ev[0].ret_flags);
	EXPECT_EQ(0u, queue_stats(kfd).registered);
	EXPECT_EQ((names{{KEVENT_INODE_CREATE, "a"}, {KEVENT_INODE_CREATE, "b"}}),
		  all_names(kfd, ev[0]));
}

TEST_P(Inode, NamesLeftUnreadAreDroppedWhenTheSameIdIsAddedAgain) {
	tmpdir d;
	add_armed(watch(d.fd(), KEVENT_INODE_CREATE, KEVENT_REQ_ONESHOT));
	touch(d / "a");
	auto ev = get(kfd, 1, 8, 2000);
	ASSERT_EQ(1u, ev.size());
	add_armed(watch(d.fd(), KEVENT_INODE_CREATE));
	alignas(8) char buf[256];
	EXPECT_EQ(0, kevent_inode_names(kfd, &ev[0], buf, sizeof buf)) << "a new kevent with the "
									  "same id starts afresh";
}

TEST_P(Inode, NamesAccumulateOverDeliveriesUntilRead) {
	tmpdir d;
	add_armed(watch(d.fd(), KEVENT_INODE_CREATE));
	touch(d / "a");
	auto ev1 = get(kfd, 1, 8, 2000);
	ASSERT_EQ(1u, ev1.size());
	touch(d / "b");
	auto ev2 = get(kfd, 1, 8, 2000);
	ASSERT_EQ(1u, ev2.size());
	EXPECT_EQ(1u, ev2[0].ret_data[1]) << "ret_data[1] counts this delivery's names";
	EXPECT_EQ((names{{KEVENT_INODE_CREATE, "a"}, {KEVENT_INODE_CREATE, "b"}}),
		  all_names(kfd, ev2[0]));
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

// SPEC §5/§8: "watched inode deleted -> BROKEN". The program still holds the
// fd it registered (id.raw[0] is that fd), so this is the common case.
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
			      KEVENT_INODE_CREATE | KEVENT_INODE_OVERFLOW, 0x100u, 0x80000000u})
		expect_add_error(watch(d.fd(), bits), EINVAL);
	ukevent e = watch(d.fd(), KEVENT_INODE_CREATE);
	e.id.raw[1] = 1;
	expect_add_error(e, EINVAL);
	EXPECT_EQ(0u, queue_stats(kfd).registered);
}

// ---- OVERFLOW ----------------------------------------------------------------------

// Lowers fs.inotify.max_queued_events for the inotify instances created
// while it lives (the kernel reads it at inotify_init), restores it after.
class queued_events_limit {
public:
	static constexpr const char *path = "/proc/sys/fs/inotify/max_queued_events";
	explicit queued_events_limit(int value) {
		std::ifstream in(path);
		if (!(in >> old_))
			return;
		std::ofstream out(path);
		out << value << std::flush;
		ok_ = static_cast<bool>(out);
		if (ok_) {
			std::ifstream check(path);
			int now = -1;
			check >> now;
			ok_ = now == value;
		}
	}
	~queued_events_limit() { restore(); }
	void restore() {
		if (old_ > 0) {
			std::ofstream out(path);
			out << old_ << std::flush;
			old_ = 0;
		}
	}
	bool ok() const { return ok_; }

private:
	int old_ = 0;
	bool ok_ = false;
};

TEST_P(Inode, OverflowIsReportedWhenTheKernelDropsEvents) {
	tmpdir d;
	{
		queued_events_limit limit(16);
		if (!limit.ok())
			GTEST_SKIP() << "cannot lower " << queued_events_limit::path
				     << " (not root, or a read-only /proc/sys): no way to make the "
					"kernel drop events";
		// The queue's inotify instance is created by its first inode kevent,
		// so with the limit lowered.
		add_armed(watch(d.fd(), KEVENT_INODE_CREATE));
	}
	for (int i = 0; i < 200; i++)
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
	EXPECT_LT(names_seen, 200u) << "the kernel cannot have queued them all";
	// After the overflow the kevent keeps working.
	touch(d / "after");
	auto [e, n] = one(d.fd());
	EXPECT_EQ((names{{KEVENT_INODE_CREATE, "after"}}), n);
}

KEVENT_INSTANTIATE_BACKENDS(Inode);

} // namespace
