// SPDX-License-Identifier: MIT
/*
 * ring_watch — two processes and one shared ring (KEVENT_INIT_SHARED_RING,
 * kevent_ring_fd(3)).
 *
 *   ring_watch [--count N] [--backend auto|epoll|uring]
 *                           stop after N events (default 10)
 *
 * The parent runs a queue whose ring the library places in a sealed memfd,
 * with a periodic timer (every 30 ms). It harvests with kevent_wait and
 * releases with kevent_commit. The child maps the ring read-only from the
 * descriptor kevent_ring_fd gave (inherited across fork; it makes no kevent
 * call, see kevent_init(3) on fork) and prints every entry that appears, by
 * watching ring_kidx. A writable mapping is refused to it (EPERM): it says
 * so first, as the proof that the watcher cannot corrupt the ring.
 *
 * A read-only watcher cannot hold the producer back, and ring_kidx alone
 * cannot tell "nothing new" from "a whole lap new". So here the parent
 * releases a batch only after the child has said (on a pipe) that it has
 * seen it, and asks kevent_wait for at most SIZE - 1 events, so the ring is
 * never full in front of the watcher.
 */
#define _GNU_SOURCE
#include <kevent/kevent.h>

#include "example_args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SIZE 8

static void die(const char *what) {
	perror(what);
	exit(1);
}

static unsigned load(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }

static size_t ring_bytes(void) {
	return sizeof(struct kevent_ring) + SIZE * sizeof(struct ukevent);
}

/* The child: a read-only watcher. */
static int watch(int ring_fd, int ack_fd, long count) {
	void *p = mmap(NULL, ring_bytes(), PROT_READ | PROT_WRITE, MAP_SHARED, ring_fd, 0);
	if (p != MAP_FAILED) {
		fprintf(stderr, "watcher: a writable mapping was allowed!\n");
		return 1;
	}
	/* Expected: the memfd is sealed against writes (F_SEAL_FUTURE_WRITE). */
	printf("watcher: as intended, the ring cannot be mapped writable (%s); mapping it "
	       "read-only\n",
	       strerror(errno));
	p = mmap(NULL, ring_bytes(), PROT_READ, MAP_SHARED, ring_fd, 0);
	if (p == MAP_FAILED)
		die("watcher: mmap");
	const struct kevent_ring *ring = p;
	unsigned long long seen = 0; /* entries seen so far (a virtual position) */
	while ((long)seen < count) {
		unsigned kidx = load(&ring->ring_kidx);
		unsigned fresh = (kidx + SIZE - (unsigned)(seen % SIZE)) % SIZE;
		if (fresh == 0) {
			usleep(1000);
			continue;
		}
		for (unsigned i = 0; i < fresh; i++, seen++) {
			char line[256];
			kevent_ukevent_str(&ring->event[seen % SIZE], line, sizeof line);
			printf("watcher: slot %llu: %s\n", seen % SIZE, line);
		}
		fflush(stdout);
		if (write(ack_fd, &seen, sizeof seen) != sizeof seen)
			die("watcher: write");
	}
	munmap(p, ring_bytes());
	return 0;
}

static const char usage[] = "usage: ring_watch [--count N] [--backend " EXAMPLE_BACKEND_HELP "]\n"
			    "  a kevent ring shared with a child process "
			    "(KEVENT_INIT_SHARED_RING,\n"
			    "  kevent_ring_fd(3)): the parent harvests a 30 ms timer, the child "
			    "maps the\n"
			    "  ring read-only and prints every entry\n"
			    "  --count N    stop after N events (default 10)\n"
			    "  --backend B  kevent backend (default auto)\n";

int main(int argc, char **argv) {
	long count = 10;
	unsigned backend = KEVENT_INIT_AUTO;
	example_count_and_backend(argc, argv, "ring_watch", usage, &count, &backend);
	int kfd = kevent_init(NULL, SIZE, backend | KEVENT_INIT_SHARED_RING);
	if (kfd < 0)
		die("kevent_init");
	int ring_fd = kevent_ring_fd(kfd);
	if (ring_fd < 0)
		die("kevent_ring_fd");
	int ack[2];
	if (pipe(ack) < 0)
		die("pipe");
	setvbuf(stdout, NULL, _IOLBF, 0);

	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(ack[0]);
		_exit(watch(ring_fd, ack[1], count));
	}
	close(ack[1]);
	close(ring_fd); /* the parent reads its ring through the child's eyes only */

	struct ukevent tm;
	memset(&tm, 0, sizeof tm);
	tm.type = KEVENT_TIMER;
	tm.id.raw[1] = 30000000; /* every 30 ms */
	tm.event = KEVENT_TIMER_FIRED;
	if (kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &tm) != 0)
		die("kevent_ctl(ADD)");

	unsigned long long produced = 0, acked = 0;
	unsigned uidx = 0, over = 0;
	while ((long)produced < count) {
		unsigned want = SIZE - 1;
		if ((long)(produced + want) > count)
			want = (unsigned)(count - (long)produced);
		int n = kevent_wait(kfd, want, uidx, NULL, 0);
		if (n < 0)
			die("kevent_wait");
		produced += (unsigned)n;
		printf("producer: kevent_wait moved %d (ring_kidx now %llu)\n", n, produced % SIZE);
		while (acked < produced)
			if (read(ack[0], &acked, sizeof acked) != sizeof acked)
				die("read ack");
		unsigned next = (uidx + (unsigned)n) % SIZE; /* n < SIZE: one commit */
		if (n > 0 && kevent_commit(kfd, next, over) < 0)
			die("kevent_commit");
		if (n > 0 && next < uidx)
			over++;
		uidx = next;
	}
	int status = 0;
	waitpid(pid, &status, 0);
	printf("producer: %llu events, ring wrapped %u times; watcher exit %d\n", produced, over,
	       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	kevent_close(kfd);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
