// SPDX-License-Identifier: MIT
// file_identity — which object does a descriptor number name?
//
// The kernel tells no one when a number is closed and reused. inode_of()
// gives the (st_dev, st_ino) pair used to notice that a watched fd number now
// names another object (sockets and pipes have one inode each), and the file
// type for the origins' kind checks.
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

} // namespace kevent::sys
