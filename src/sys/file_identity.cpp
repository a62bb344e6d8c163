// SPDX-License-Identifier: MIT
#include "sys/file_identity.hpp"

#include <cerrno>
#include <sys/stat.h>

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

} // namespace kevent::sys
