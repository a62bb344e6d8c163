// SPDX-License-Identifier: MIT
// watch — print what changes in a directory, name by name.
//
//   watch [--count N] [--backend auto|epoll|uring] DIR
//
// The C++ example: one kevent::queue, one INODE kevent built with
// kevent::inode_event, the names read with kevent_inode_names(3) after each
// delivery. Stops after N changes (default: never) or when DIR is deleted.
#include <kevent/kevent.hpp>

#include "example_args.h"

#include <array>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <string_view>
#include <unistd.h>

namespace {

const char *kind(uint32_t bit) {
	switch (bit) {
	case KEVENT_INODE_CREATE:
		return "created";
	case KEVENT_INODE_REMOVE:
		return "removed";
	case KEVENT_INODE_MODIFY:
		return "modified";
	case KEVENT_INODE_ATTRIB:
		return "attributes";
	case KEVENT_INODE_MOVED_FROM:
		return "moved away";
	case KEVENT_INODE_MOVED_TO:
		return "moved here";
	case KEVENT_INODE_CLOSE_WRITE:
		return "written";
	default:
		return "changed";
	}
}

// Print every name the delivery `ev` handed over; returns how many.
long print_names(int kfd, const ukevent &ev) {
	alignas(8) std::array<char, 4096> buf;
	long printed = 0;
	for (;;) {
		int n = kevent_inode_names(kfd, &ev, buf.data(), buf.size());
		if (n <= 0)
			return printed;
		for (int off = 0; off < n;) {
			auto *rec = reinterpret_cast<const kevent_inode_name *>(buf.data() + off);
			std::printf("%-10s %s\n", kind(rec->event), rec->name[0] ? rec->name : ".");
			printed++;
			off += static_cast<int>(sizeof *rec + rec->len);
		}
	}
}

} // namespace

const char usage[] = "usage: watch [--count N] [--backend " EXAMPLE_BACKEND_HELP "] DIR\n"
		     "  print every name created, removed, moved or written in DIR\n"
		     "  --count N    stop after N changes (default: until DIR is deleted)\n"
		     "  --backend B  kevent backend (default auto)\n";

int main(int argc, char **argv) {
	long limit = -1;
	unsigned backend = KEVENT_INIT_AUTO;
	const char *dir = nullptr;
	for (int i = 1; i < argc; i++) {
		std::string_view a = argv[i];
		if (a == "-h" || a == "--help")
			example_help(usage);
		else if (a == "--count")
			limit = example_number(example_value(argc, argv, &i, "watch", usage), 1,
					       LONG_MAX, "--count", "watch", usage);
		else if (a == "--backend")
			backend = example_backend(example_value(argc, argv, &i, "watch", usage),
						  "watch", usage);
		else if (a.starts_with("-") || dir)
			example_bad_arg("watch", usage, "unexpected argument '%s'", argv[i]);
		else
			dir = argv[i];
	}
	if (!dir)
		example_bad_arg("watch", usage, "which directory? (watch /tmp)");
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		std::fprintf(stderr, "watch: %s: %s\n", dir, std::strerror(errno));
		return 1;
	}
	try {
		kevent::queue q(static_cast<kevent::backend>(backend));
		namespace in = kevent::inode;
		ukevent watch = kevent::inode_event(dfd, in::create | in::remove | in::moved_from |
								 in::moved_to | in::close_write);
		q.add(watch);
		std::printf("watching %s\n", dir);
		std::fflush(stdout);
		std::array<ukevent, 16> buf;
		long seen = 0;
		while (limit < 0 || seen < limit) {
			for (const ukevent &ev : q.get_events(buf, 1, std::nullopt)) {
				if (kevent::broken(ev)) {
					std::printf("%s is gone\n", dir);
					return 0;
				}
				if (ev.ret_data[0] & KEVENT_INODE_OVERFLOW)
					std::printf("(events were lost: rescan)\n");
				seen += print_names(q.fd(), ev);
			}
			std::fflush(stdout);
		}
	} catch (const std::system_error &e) {
		std::fprintf(stderr, "watch: %s\n", e.what());
		return 1;
	}
	close(dfd);
	return 0;
}
