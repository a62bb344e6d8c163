// SPDX-License-Identifier: MIT
/*
 * ring_buffer — a single consumer of a kevent ring that harvests events with
 * kevent_wait(3) and releases them with kevent_commit(3) only:
 * no kevent_get_events, no copy into a buffer.
 *
 *   ring_buffer [--count N] [--backend auto|epoll|uring]
 *                           stop after N events (default 12)
 *
 * The queue watches a periodic timer (every 50 ms) and one end of a
 * socketpair; every third tick the program writes to the other end, so a
 * KEVENT_SOCKET RECV event follows. Every entry that appears in the ring is
 * printed with its slot number, then the whole batch is released.
 *
 * The index arithmetic, which kevent::ring_view does for C++:
 *   - the ring has SIZE slots; the library fills from ring_kidx, the
 *     consumer reads from its own uidx, and counts `avail` entries itself
 *     (kevent_wait returns how many it moved: when ring_kidx comes back to
 *     uidx the ring is full, not empty);
 *   - kevent_wait's old_uidx is the consumer's uidx: if another thread
 *     committed in between, the call returns 0 at once and moves nothing;
 *   - kevent_commit(new_uidx, over): over is the number of times uidx has
 *     wrapped; releasing a full ring takes two commits, because a commit to
 *     the current uidx releases nothing.
 */
#define _GNU_SOURCE
#include <kevent/kevent.h>

#include "example_args.h"

#include <errno.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SIZE 8

/* The ring lives in our memory: a header and SIZE entries. */
static struct {
	alignas(8) struct kevent_ring hdr;
	struct ukevent slots[SIZE];
} ring_mem;

static void die(const char *what) {
	perror(what);
	exit(1);
}

/* Releases `n` entries from uidx: new_uidx and over computed here. */
static void commit(int kfd, unsigned *uidx, unsigned *over, unsigned n) {
	if (n == SIZE) { /* full: two commits, the first stops one short */
		if (kevent_commit(kfd, (*uidx + SIZE - 1) % SIZE, *over) < 0)
			die("kevent_commit");
		if (*uidx + SIZE - 1 >= SIZE)
			(*over)++; /* that commit wrapped */
		*uidx = (*uidx + SIZE - 1) % SIZE;
		n = 1;
	}
	unsigned next = (*uidx + n) % SIZE;
	if (kevent_commit(kfd, next, *over) < 0)
		die("kevent_commit");
	if (next < *uidx)
		(*over)++; /* that commit wrapped */
	*uidx = next;
}

static const char usage[] = "usage: ring_buffer [--count N] [--backend " EXAMPLE_BACKEND_HELP "]\n"
			    "  one consumer of a kevent ring: a 50 ms timer and a socket, every "
			    "entry\n"
			    "  read in place with kevent_wait(3), released with kevent_commit(3)\n"
			    "  --count N    stop after N events (default 12)\n"
			    "  --backend B  kevent backend (default auto)\n";

int main(int argc, char **argv) {
	long count = 12;
	unsigned backend = KEVENT_INIT_AUTO;
	example_count_and_backend(argc, argv, "ring_buffer", usage, &count, &backend);
	struct kevent_ring *ring = &ring_mem.hdr;
	int kfd = kevent_init(ring, SIZE, backend);
	if (kfd < 0)
		die("kevent_init");

	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
		die("socketpair");
	struct ukevent add[2];
	memset(add, 0, sizeof add);
	add[0].type = KEVENT_TIMER;
	add[0].id.raw[0] = 0;        /* seconds */
	add[0].id.raw[1] = 50000000; /* nanoseconds: every 50 ms */
	add[0].event = KEVENT_TIMER_FIRED;
	add[0].user[0] = 1;
	add[1].type = KEVENT_SOCKET;
	add[1].id.raw[0] = (uint32_t)sv[0];
	add[1].event = KEVENT_SOCKET_RECV;
	add[1].user[0] = 2;
	if (kevent_ctl(kfd, KEVENT_CTL_ADD, 2, add) != 0)
		die("kevent_ctl(ADD)");

	unsigned uidx = 0, over = 0;
	long seen = 0, ticks = 0;
	while (seen < count) {
		struct timespec timeout = {2, 0};
		int n = kevent_wait(kfd, SIZE, uidx, &timeout, 0);
		if (n < 0)
			die("kevent_wait");
		if (n == 0) {
			printf("(no event for 2 s)\n");
			continue;
		}
		printf("kevent_wait moved %d, ring_kidx %u, ring_over %u\n", n,
		       __atomic_load_n(&ring->ring_kidx, __ATOMIC_ACQUIRE),
		       __atomic_load_n(&ring->ring_over, __ATOMIC_ACQUIRE));
		for (int i = 0; i < n; i++) {
			unsigned s = (uidx + (unsigned)i) % SIZE;
			const struct ukevent *ev = &ring->event[s];
			char line[256];
			kevent_ukevent_str(ev, line, sizeof line);
			printf("  slot %u: %s\n", s, line);
			if (ev->type == KEVENT_TIMER && ++ticks % 3 == 0 &&
			    write(sv[1], "x", 1) != 1)
				die("write");
			if (ev->type == KEVENT_SOCKET) {
				char buf[64];
				while (read(sv[0], buf, sizeof buf) > 0)
					;
			}
		}
		commit(kfd, &uidx, &over, (unsigned)n);
		seen += n;
	}
	printf("%ld events; uidx %u, wrapped %u times\n", seen, uidx, over);
	close(sv[0]);
	close(sv[1]);
	return kevent_close(kfd) == 0 ? 0 : 1;
}
