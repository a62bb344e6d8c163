// SPDX-License-Identifier: MIT
// inode_fixture.hpp — what the INODE suites (inode_test.cpp,
// inode_names_test.cpp) share: temporary directories, the id of a watched
// fd, the records of kevent_inode_names(3) parsed, and the fixture Inode, whose
// one() takes the single delivery for a watched fd together with its names.
#pragma once

#include "origin_support.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <ostream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace kevent_inode_test {

using namespace kevent_origin;
namespace fs = std::filesystem;

inline std::string make_tmpdir() {
	const char *base = std::getenv("TMPDIR");
	std::string tmpl = std::string(base && *base ? base : "/tmp") + "/kevent-inode-XXXXXX";
	char *p = ::mkdtemp(tmpl.data());
	EXPECT_NE(nullptr, p) << std::strerror(errno);
	return tmpl;
}

inline int open_dir(const std::string &path) {
	int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	EXPECT_GE(fd, 0) << path << ": " << std::strerror(errno);
	return fd;
}

inline void touch(const std::string &path) {
	int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	ASSERT_GE(fd, 0) << path << ": " << std::strerror(errno);
	::close(fd);
}

inline void append(const std::string &path, const char *text = "x") {
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

inline uint64_t inode_id(int fd) {
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

inline std::ostream &operator<<(std::ostream &os, const name_entry &n) {
	return os << "{0x" << std::hex << n.event << std::dec << ",\"" << n.name << "\"}";
}

// Parses the records kevent_inode_names wrote into buf[0, bytes).
inline std::vector<name_entry> parse_names(const char *buf, int bytes) {
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
inline std::vector<name_entry> all_names(int q, const ukevent &ev) {
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

} // namespace kevent_inode_test
