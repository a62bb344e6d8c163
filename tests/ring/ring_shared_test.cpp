// SPDX-License-Identifier: MIT
// ring_shared_test.cpp — the shared ring (KEVENT_INIT_SHARED_RING,
// kevent_ring_fd(3)): read-only everywhere but in the library, visible to
// another process, and its pages come only as it fills
// (kevent_ring_fd(3) "THE MEMORY A RING REALLY COSTS").
#include "ring_fixture.hpp"

#include <fcntl.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

namespace {

using namespace kevent_ring_test;

// ---- the shared ring ----------------------------------------------------------

TEST_P(RingTest, RingFdRules) {
	EXPECT_ERRNO(EINVAL, kevent_ring_fd(kfd)); // no ring
	EXPECT_ERRNO(EBADF, kevent_ring_fd(-1));
	use_ring(4);
	EXPECT_ERRNO(EINVAL, kevent_ring_fd(kfd)); // a ring in caller memory
}

TEST_P(RingTest, SharedRingIsReadOnlyElsewhere) {
	ASSERT_NO_FATAL_FAILURE(use_shared_ring(8));
	int fd = kevent_ring_fd(kfd);
	ASSERT_GE(fd, 0);
	int fd2 = kevent_ring_fd(kfd);
	ASSERT_GE(fd2, 0);
	EXPECT_NE(fd, fd2); // a new descriptor each time
	EXPECT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd2);

	errno = 0;
	void *w = mmap(nullptr, shared_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	EXPECT_EQ(MAP_FAILED, w);
	EXPECT_EQ(EPERM, errno) << std::strerror(errno);
	if (w != MAP_FAILED)
		munmap(w, shared_len);
	errno = 0;
	EXPECT_EQ(-1, mprotect(shared_map, shared_len, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno) << std::strerror(errno);
	char c = 1;
	EXPECT_ERRNO(EPERM, int(write(fd, &c, 1)));
	EXPECT_ERRNO(EPERM, ftruncate(fd, 1));
	EXPECT_ERRNO(EPERM, ftruncate(fd, off_t(shared_len) * 2));

	add_users(5);
	for (unsigned i = 0; i < 3; i++)
		ready(i + 1, i);
	ASSERT_EQ(3, rwait(8, 0, 0));
	EXPECT_EQ(3u, kidx()); // seen through our read-only mapping
	EXPECT_EQ(2u, slot(2).ret_data[0]);

	// Another process maps it read-only and sees what kevent_wait put
	// there, then what a later kevent_wait adds. It makes no kevent call
	// (kevent_init(3): a child must not use an inherited queue).
	int go[2], ack[2];
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(ack));
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		close(go[1]);
		close(ack[0]);
		void *p = mmap(nullptr, shared_len, PROT_READ, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			_exit(10);
		auto *r = static_cast<const kevent_ring *>(p);
		if (load(r->ring_kidx) != 3)
			_exit(11);
		for (unsigned i = 0; i < 3; i++)
			if (r->event[i].ret_data[0] != i || r->event[i].id.raw_u64 != i + 1)
				_exit(12);
		void *q = mmap(nullptr, shared_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (q != MAP_FAILED || errno != EPERM)
			_exit(13);
		if (mprotect(p, shared_len, PROT_READ | PROT_WRITE) == 0)
			_exit(14);
		char b = 'c';
		if (write(ack[1], &b, 1) != 1 || read(go[0], &b, 1) != 1)
			_exit(15);
		if (load(r->ring_kidx) != 5 || load(r->ring_over) != 0)
			_exit(16);
		for (unsigned i = 3; i < 5; i++)
			if (r->event[i].ret_data[0] != i)
				_exit(17);
		_exit(0);
	}
	close(go[0]);
	close(ack[1]);
	char b;
	ASSERT_EQ(1, read(ack[0], &b, 1)); // the child has checked the first batch
	close(ack[0]);
	ready(4, 3);
	ready(5, 4);
	ASSERT_EQ(2, rwait(8, 0, 0));
	ASSERT_EQ(1, write(go[1], "g", 1));
	close(go[1]);
	int status = 0;
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) << "10 mmap, 11 kidx, 12 entries, 13 writable map "
					     "not EPERM, 14 mprotect, 15 pipe, 16/17 second batch";
	close(fd);
}

// Pages of the memfd in memory (mincore on a read-only mapping reports the
// file's page-cache pages), and the Rss of the library's writable mapping.
size_t resident_pages(void *p, size_t len) {
	size_t page = size_t(sysconf(_SC_PAGESIZE));
	std::vector<unsigned char> v((len + page - 1) / page);
	if (mincore(p, len, v.data()) < 0)
		return SIZE_MAX;
	return size_t(std::count_if(v.begin(), v.end(), [](unsigned char c) { return c & 1; }));
}

long library_mapping_rss_kb(const void *ours) {
	std::ifstream in("/proc/self/smaps");
	std::string line;
	bool in_it = false;
	while (std::getline(in, line)) {
		unsigned long lo, hi;
		char perms[8];
		if (std::sscanf(line.c_str(), "%lx-%lx %7s", &lo, &hi, perms) == 3 &&
		    line.find("kevent-ring") != std::string::npos) {
			in_it = perms[1] == 'w' && lo != reinterpret_cast<uintptr_t>(ours);
			continue;
		}
		if (in_it && line.rfind("Rss:", 0) == 0)
			return std::stol(line.substr(4));
	}
	return -1;
}

TEST_P(RingTest, SharedRingPagesComeOnlyAsItFills) {
	constexpr unsigned n = 1000000;
	constexpr unsigned users = 1000;
	ASSERT_NO_FATAL_FAILURE(use_shared_ring(n));
	add_users(users);
	std::vector<ukevent> rd;
	for (unsigned i = 1; i <= users; i++)
		rd.push_back(make(KEVENT_UNOTIFY, i, 0));
	size_t page = size_t(sysconf(_SC_PAGESIZE));
	std::printf("ring of %u entries: %zu bytes of address space (%zu pages of %zu)\n", n,
		    shared_len, (shared_len + page - 1) / page, page);
	size_t first = resident_pages(shared_map, shared_len);
	std::printf("%9u entries filled: %6zu pages resident (mincore), library mapping Rss %ld "
		    "kB\n",
		    0u, first, library_mapping_rss_kb(shared_map));
	EXPECT_LE(first, 1u);
	uint64_t filled = 0;
	for (uint64_t mark : {10000ull, 100000ull, 1000000ull}) {
		while (filled < mark) {
			ASSERT_EQ(int(users), kevent_ctl(kfd, KEVENT_CTL_READY, users, rd.data()));
			ASSERT_EQ(int(users), rwait(users, 0, 0)) << std::strerror(errno);
			filled += users;
		}
		size_t pages = resident_pages(shared_map, shared_len);
		size_t want = (ring_bytes(unsigned(mark)) + page - 1) / page;
		std::printf("%9llu entries filled: %6zu pages resident (mincore), library mapping "
			    "Rss "
			    "%ld kB; expected %zu pages\n",
			    (unsigned long long)mark, pages, library_mapping_rss_kb(shared_map),
			    want);
		EXPECT_GE(pages, want);
		EXPECT_LE(pages, want + 1);
	}
	EXPECT_EQ(0u, kidx()); // full
}

KEVENT_INSTANTIATE_BACKENDS(RingTest);

} // namespace
