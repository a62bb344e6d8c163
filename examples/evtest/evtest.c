// SPDX-License-Identifier: MIT
/*
 * evtest — watch timers and file descriptors on one kevent queue and print
 * every delivered ukevent, in the spirit of Polyakov's evtest.c from the 2006
 * patches. Plain C11 over kevent.h.
 *
 *   evtest --timer 500ms --count 5
 *   evtest --fd 0
 *   evtest --timer 1s --timer 250ms --fd 0 --level --count 20
 *
 * Options (may repeat; the mode options apply to every watch):
 *   --timer INTERVAL  a KEVENT_TIMER; INTERVAL is a number with ns, us, ms or
 *                     s (default s)
 *   --fd N            watch fd N for input: KEVENT_SOCKET RECV on a socket,
 *                     KEVENT_PIPE RECV on a pipe/FIFO, KEVENT_POLL POLLIN else
 *   --poll            watch every --fd with KEVENT_POLL POLLIN
 *   --count N         stop after N events (default: run until nothing is
 *                     watched or SIGINT)
 *   --timeout MS      kevent_get_events timeout per call (default: none)
 *   --oneshot --et --level --last-check   request flags
 *   --no-read         do not read the data that made an fd ready
 *   --stats           print kevent_get_stats at exit
 *   --backend B       auto (default), epoll or uring: the kevent backend
 *
 * By default evtest reads (FIONREAD bytes) from an fd when it is reported,
 * so that an interactive --fd 0 shows one event per line typed; the default
 * mode reports new activity, not data left unread (try --no-read, then
 * --level). A watch ends at BROKEN or at end of file.
 */
#define _GNU_SOURCE
#include <kevent/kevent.h>

#include "example_args.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_WATCHES 64

static volatile sig_atomic_t stop_requested;
static int kfd_for_signal = -1;

static void on_sigint(int sig) {
	(void)sig;
	stop_requested = 1;
	/* kevent_ctl(READY, 0) is async-signal-safe: wake the waiting call. */
	if (kfd_for_signal >= 0)
		kevent_ctl(kfd_for_signal, KEVENT_CTL_READY, 0, NULL);
}

static const char *type_name(uint32_t type) {
	static const char *const names[KEVENT_MAX] = {"SOCKET",      "INODE",   "TIMER", "POLL",
						      "NAIO",        "AIO",     "PIPE",  "SIGNAL",
						      "POSIX_TIMER", "UNOTIFY", "PROC"};
	return type < KEVENT_MAX ? names[type] : "?";
}

static void flags_str(char *buf, size_t size, uint32_t flags, const char *const *names,
		      unsigned n) {
	buf[0] = '\0';
	size_t used = 0;
	for (unsigned i = 0; i < n; ++i) {
		if (!(flags & (1u << i)))
			continue;
		int w = snprintf(buf + used, size - used, "%s%s", used ? "|" : "", names[i]);
		if (w < 0 || (size_t)w >= size - used)
			return;
		used += (size_t)w;
		flags &= ~(1u << i);
	}
	if (flags)
		snprintf(buf + used, size - used, "%s0x%x", used ? "|" : "", flags);
	if (!buf[0])
		snprintf(buf, size, "0");
}

static void print_ukevent(const char *what, const struct ukevent *uk) {
	static const char *const req_names[] = {"ONESHOT",      "WAKEUP_ALL", "ET",   "LAST_CHECK",
						"ALWAYS_QUEUE", "READY",      "LEVEL"};
	static const char *const ret_names[] = {"BROKEN", "DONE", "COPY_FAILED"};
	char req[128], ret[64];
	flags_str(req, sizeof req, uk->req_flags, req_names, 7);
	flags_str(ret, sizeof ret, uk->ret_flags, ret_names, 3);
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	printf("%ld.%06ld %s: id=[%" PRIu32 ",%" PRIu32 "] type=%s event=0x%" PRIx32,
	       (long)now.tv_sec, now.tv_nsec / 1000, what, uk->id.raw[0], uk->id.raw[1],
	       type_name(uk->type), uk->event);
	printf(" req_flags=%s ret_flags=%s", req, ret);
	printf(" ret_data=[%" PRIu32 ",%" PRId32 "] user=[%" PRIu32 ",%" PRIu32 "]",
	       uk->ret_data[0], (int32_t)uk->ret_data[1], uk->user[0], uk->user[1]);
	if ((uk->ret_flags & KEVENT_RET_BROKEN) && (int32_t)uk->ret_data[1] < 0)
		printf(" (%s)", strerror(-(int32_t)uk->ret_data[1]));
	printf("\n");
}

/* "500ms" -> seconds + nanoseconds. */
static int parse_interval(const char *s, uint32_t *sec, uint32_t *nsec) {
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -1;
	double scale = 1e9;
	if (*end == '\0' || strcmp(end, "s") == 0)
		scale = 1e9;
	else if (strcmp(end, "ms") == 0)
		scale = 1e6;
	else if (strcmp(end, "us") == 0)
		scale = 1e3;
	else if (strcmp(end, "ns") == 0)
		scale = 1;
	else
		return -1;
	double ns = v * scale;
	if (ns >= 4294967296.0 * 1e9)
		return -1;
	uint64_t total = (uint64_t)(ns + 0.5);
	*sec = (uint32_t)(total / 1000000000u);
	*nsec = (uint32_t)(total % 1000000000u);
	return 0;
}

static const char usage[] = "usage: evtest [--timer INTERVAL]... [--fd N]... [--count N] "
			    "[--timeout MS]\n"
			    "              [--poll] [--oneshot] [--et] [--level] [--last-check] "
			    "[--no-read]\n"
			    "              [--stats] [--backend " EXAMPLE_BACKEND_HELP "]\n"
			    "  INTERVAL: a number with s (the default), ms, us or ns: 500ms, 1.5s\n"
			    "  e.g. evtest --timer 500ms --count 5;  evtest --fd 0\n";

int main(int argc, char **argv) {
	struct ukevent watches[MAX_WATCHES];
	unsigned nwatch = 0, fds = 0;
	unsigned long count = 0;
	long timeout_ms = -1;
	int force_poll = 0, do_read = 1, want_stats = 0;
	uint32_t req_flags = 0;

	unsigned backend = KEVENT_INIT_AUTO;
	memset(watches, 0, sizeof watches);
	for (int i = 1; i < argc; ++i) {
		const char *a = argv[i];
		if (!strcmp(a, "--timer") || !strcmp(a, "--fd")) {
			const char *v = example_value(argc, argv, &i, "evtest", usage);
			if (nwatch == MAX_WATCHES)
				example_bad_arg("evtest", usage, "at most %d watches", MAX_WATCHES);
			struct ukevent *uk = &watches[nwatch];
			if (!strcmp(a, "--timer")) {
				if (parse_interval(v, &uk->id.raw[0], &uk->id.raw[1]) < 0)
					example_bad_arg("evtest", usage,
							"--timer: '%s' is not an interval (500ms, "
							"2s ...)",
							v);
				uk->type = KEVENT_TIMER;
				uk->event = KEVENT_TIMER_FIRED;
			} else {
				uk->id.raw[0] = (uint32_t)example_number(v, 0, INT32_MAX, "--fd",
									 "evtest", usage);
				uk->type = KEVENT_POLL; /* origin chosen below, after --poll */
				++fds;
			}
			uk->user[0] = nwatch++;
		} else if (!strcmp(a, "--count")) {
			count = (unsigned long)example_number(
				example_value(argc, argv, &i, "evtest", usage), 0, LONG_MAX,
				"--count", "evtest", usage);
		} else if (!strcmp(a, "--timeout")) {
			timeout_ms = example_number(example_value(argc, argv, &i, "evtest", usage),
						    -1, LONG_MAX, "--timeout", "evtest", usage);
		} else if (!strcmp(a, "--backend")) {
			backend = example_backend(example_value(argc, argv, &i, "evtest", usage),
						  "evtest", usage);
		} else if (!strcmp(a, "--poll")) {
			force_poll = 1;
		} else if (!strcmp(a, "--oneshot")) {
			req_flags |= KEVENT_REQ_ONESHOT;
		} else if (!strcmp(a, "--et")) {
			req_flags |= KEVENT_REQ_ET;
		} else if (!strcmp(a, "--level")) {
			req_flags |= KEVENT_REQ_LEVEL;
		} else if (!strcmp(a, "--last-check")) {
			req_flags |= KEVENT_REQ_LAST_CHECK;
		} else if (!strcmp(a, "--no-read")) {
			do_read = 0;
		} else if (!strcmp(a, "--stats")) {
			want_stats = 1;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			example_help(usage);
		} else {
			example_bad_arg("evtest", usage, "unknown option '%s'", a);
		}
	}
	if (nwatch == 0)
		example_bad_arg("evtest", usage, "nothing to watch: give --timer or --fd");
	(void)fds;

	for (unsigned i = 0; i < nwatch; ++i) {
		struct ukevent *uk = &watches[i];
		uk->req_flags = req_flags;
		if (uk->type == KEVENT_TIMER)
			continue;
		struct stat st;
		int fd = (int)uk->id.raw[0];
		if (fstat(fd, &st) < 0) {
			fprintf(stderr, "evtest: fd %d: %s\n", fd, strerror(errno));
			return 1;
		}
		if (!force_poll && S_ISSOCK(st.st_mode)) {
			uk->type = KEVENT_SOCKET;
			uk->event = KEVENT_SOCKET_RECV;
		} else if (!force_poll && S_ISFIFO(st.st_mode)) {
			uk->type = KEVENT_PIPE;
			uk->event = KEVENT_PIPE_RECV;
		} else {
			uk->type = KEVENT_POLL;
			uk->event = POLLIN;
		}
	}

	int kfd = kevent_init(NULL, 0, backend);
	if (kfd < 0) {
		fprintf(stderr, "evtest: kevent_init: %s\n", strerror(errno));
		return 1;
	}
	kfd_for_signal = kfd;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	struct ukevent ctl[MAX_WATCHES];
	memcpy(ctl, watches, sizeof(struct ukevent) * nwatch);
	int back = kevent_ctl(kfd, KEVENT_CTL_ADD, nwatch, ctl);
	if (back < 0) {
		fprintf(stderr, "evtest: kevent_ctl(ADD): %s\n", strerror(errno));
		kevent_close(kfd);
		return 1;
	}
	for (unsigned i = 0; i < nwatch; ++i)
		print_ukevent("add", &watches[i]);
	/* Entries copied back by ADD: failed ones, and ones ready at ADD (these
	 * are delivered here, and no longer registered). */
	unsigned live = nwatch;
	unsigned long seen = 0;
	for (int i = 0; i < back; ++i) {
		print_ukevent(ctl[i].ret_flags & KEVENT_RET_BROKEN ? "add failed" : "ready at add",
			      &ctl[i]);
		--live;
		if (!(ctl[i].ret_flags & KEVENT_RET_BROKEN))
			++seen;
	}

	int rc = 0;
	struct ukevent buf[MAX_WATCHES];
	while (!stop_requested && live > 0 && (count == 0 || seen < count)) {
		struct timespec ts = {timeout_ms / 1000, (timeout_ms % 1000) * 1000000L};
		int n = kevent_get_events(kfd, 1, MAX_WATCHES, timeout_ms < 0 ? NULL : &ts, buf, 0);
		if (n < 0) {
			fprintf(stderr, "evtest: kevent_get_events: %s\n", strerror(errno));
			rc = 1;
			break;
		}
		if (n == 0) {
			if (!stop_requested)
				printf("(no event)\n");
			continue;
		}
		for (int i = 0; i < n; ++i) {
			struct ukevent *uk = &buf[i];
			print_ukevent("event", uk);
			++seen;
			int gone = (uk->ret_flags & KEVENT_RET_DONE) != 0;
			/* A BROKEN pipe/socket may still hold data (ret_data[0] has RECV). */
			int has_data = !(uk->ret_flags & KEVENT_RET_BROKEN) || uk->ret_data[0] != 0;
			if (uk->type != KEVENT_TIMER && do_read && has_data) {
				int fd = (int)uk->id.raw[0];
				int avail = 0;
				if (ioctl(fd, FIONREAD, &avail) == 0) {
					char data[4096];
					size_t want = avail > 0 ? (size_t)avail : 1;
					if (want > sizeof data)
						want = sizeof data;
					ssize_t r = read(fd, data, want);
					if (r > 0) {
						printf("    read %zd bytes\n", r);
					} else if (r == 0) {
						printf("    end of file: removing the watch\n");
						if (!gone) {
							struct ukevent rm = *uk;
							kevent_ctl(kfd, KEVENT_CTL_REMOVE, 1, &rm);
						}
						gone = 1;
					}
				}
			}
			if (gone)
				--live;
			if (count && seen >= count)
				break;
		}
		fflush(stdout);
	}

	if (want_stats) {
		struct kevent_stats st;
		memset(&st, 0, sizeof st);
		if (kevent_get_stats(kfd, &st, sizeof st) == 0) {
			printf("stats: backend=%s registered=%" PRIu64 " ready=%" PRIu64,
			       example_backend_name(st.backend), st.registered, st.ready);
			printf(" added=%" PRIu64 " removed=%" PRIu64 " delivered=%" PRIu64,
			       st.added, st.removed, st.delivered);
			printf(" broken=%" PRIu64 " wakeups=%" PRIu64 " backend_calls=%" PRIu64
			       "\n",
			       st.broken, st.wakeups, st.backend_calls);
		}
	}
	kfd_for_signal = -1;
	kevent_close(kfd);
	return rc;
}
