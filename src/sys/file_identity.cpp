#include "sys/file_identity.hpp"

#include <atomic>
#include <cerrno>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace kevent::sys {

int inode_of(int fd, inode_id &out) {
	struct stat st {};
	if (fstat(fd, &st) < 0)
		return -errno;
	out.dev = st.st_dev;
	out.ino = st.st_ino;
	out.mode = st.st_mode;
	return 0;
}

namespace {
// kcmp(2) needs CONFIG_KCMP and may be refused by a seccomp filter; then we
// fall back to comparing the file's inode and open flags, which cannot tell
// two epoll files apart (they share one anonymous inode) — documented in
// kevent_init(3).
std::atomic<bool> kcmp_works{true};
} // namespace

same_file_result same_file(int fd, int ours) {
	if (kcmp_works.load(std::memory_order_relaxed)) {
		pid_t self = getpid();
		long r = syscall(SYS_kcmp, self, self, KCMP_FILE, fd, ours);
		if (r == 0)
			return same_file_result::same;
		if (r > 0)
			return same_file_result::different;
		if (errno == EBADF)
			return same_file_result::not_open;
		kcmp_works.store(false, std::memory_order_relaxed);
	}
	inode_id a, b;
	if (inode_of(fd, a) < 0)
		return same_file_result::not_open;
	if (inode_of(ours, b) < 0 || !(a == b))
		return same_file_result::different;
	return fcntl(fd, F_GETFL) == fcntl(ours, F_GETFL) ? same_file_result::same
							  : same_file_result::different;
}

} // namespace kevent::sys
