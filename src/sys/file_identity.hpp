// file_identity — is this descriptor number still the file we were given?
//
// The kernel tells no one when a number is closed and reused. Two checks:
// same_file() compares open files (kcmp(2), exact); inode_of() gives the
// (st_dev, st_ino) pair used to notice that a watched fd number now names
// another object (sockets and pipes have one inode each).
#pragma once

#include <sys/types.h>

namespace kevent::sys {

struct inode_id {
	dev_t dev = 0;
	ino_t ino = 0;
	mode_t mode = 0;
	bool operator==(const inode_id &o) const { return dev == o.dev && ino == o.ino; }
};

// 0 or -errno (EBADF when fd is not open).
int inode_of(int fd, inode_id &out);

enum class same_file_result { same, different, not_open };

// Does `fd` refer to the same open file as our own reference `ours`?
same_file_result same_file(int fd, int ours);

} // namespace kevent::sys
