// watch — print what changes in a directory, name by name.
//
//   watch DIR [--count N]
//
// The C++ example: one kevent::queue, one INODE kevent built with
// kevent::inode_event, the names read with kevent_inode_names(3) after each
// delivery. Stops after N changes (default: never) or when DIR is deleted.
#include <kevent/kevent.hpp>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
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

int main(int argc, char **argv) {
	if (argc < 2) {
		std::fprintf(stderr, "usage: %s DIR [--count N]\n", argv[0]);
		return 2;
	}
	long limit = -1;
	if (argc >= 4 && std::strcmp(argv[2], "--count") == 0)
		limit = std::strtol(argv[3], nullptr, 10);
	int dfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		std::perror(argv[1]);
		return 1;
	}
	try {
		kevent::queue q;
		namespace in = kevent::inode;
		ukevent watch = kevent::inode_event(dfd, in::create | in::remove | in::moved_from |
								 in::moved_to | in::close_write);
		q.add(watch);
		std::printf("watching %s\n", argv[1]);
		std::fflush(stdout);
		std::array<ukevent, 16> buf;
		long seen = 0;
		while (limit < 0 || seen < limit) {
			for (const ukevent &ev : q.get_events(buf, 1, std::nullopt)) {
				if (kevent::broken(ev)) {
					std::printf("%s is gone\n", argv[1]);
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
