// SPDX-License-Identifier: MIT
/*
 * echo — a TCP echo server on asynchronous socket I/O (kevent_aio_*(3)):
 * no readiness, no read/write calls of its own. An accept is always in
 * flight; each connection has a recv in flight, and when it completes, a
 * send of what came, then the next recv.
 *
 *   echo [--backend auto|epoll|uring] [PORT]   (default port 7007; 0 picks one)
 *
 * Try it from bash, without any other tool:
 *   exec 3<>/dev/tcp/127.0.0.1/7007; echo hello >&3; head -n 1 <&3
 *
 * On the io_uring backend the operations go to the kernel with the next
 * wait: one io_uring_enter per batch of completions. SIGINT or SIGTERM
 * ends it, printing the queue's statistics.
 */
#include <kevent/kevent.h>

#include "example_args.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct conn {
	int fd;
	size_t have; /* bytes received, being sent back */
	char buf[16384];
};

static volatile sig_atomic_t stop;
static int kfd = -1;

static void on_signal(int sig) {
	int saved = errno; /* the interrupted code's errno */
	(void)sig;
	stop = 1;
	kevent_ctl(kfd, KEVENT_CTL_READY, 0, NULL); /* end the wait */
	errno = saved;
}

static uint64_t cookie_of(const struct ukevent *ev) {
	return ev->user[0] | (uint64_t)ev->user[1] << 32;
}

static int start_recv(struct conn *c) {
	return kevent_aio_recv(kfd, c->fd, c->buf, sizeof c->buf, 0, (uint64_t)(uintptr_t)c) > 0
		       ? 0
		       : -1;
}

static void drop(struct conn *c) {
	close(c->fd);
	free(c);
}

static int listen_on(unsigned port) {
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(l, 512) < 0 ||
	    getsockname(l, (struct sockaddr *)&sa, &len) < 0) {
		perror("listen");
		exit(1);
	}
	printf("echo: listening on 127.0.0.1:%u\n", ntohs(sa.sin_port));
	fflush(stdout);
	return l;
}

static const char usage[] = "usage: echo [--backend " EXAMPLE_BACKEND_HELP "] [PORT]\n"
			    "  a TCP echo server on 127.0.0.1:PORT (default 7007; 0 picks a free "
			    "port)\n"
			    "  on asynchronous socket I/O only (kevent_aio_accept/recv/send)\n"
			    "  --backend B  kevent backend (default auto: epoll)\n"
			    "  try it from bash: exec 3<>/dev/tcp/127.0.0.1/7007; echo hello >&3; "
			    "head -n 1 <&3\n";

int main(int argc, char **argv) {
	unsigned flags = KEVENT_INIT_AUTO;
	long port = 7007;
	int have_port = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			example_help(usage);
		else if (!strcmp(a, "-b") || !strcmp(a, "--backend"))
			flags = example_backend(example_value(argc, argv, &i, "echo", usage),
						"echo", usage);
		else if (a[0] != '-' && !have_port && (have_port = 1))
			port = example_number(a, 0, 65535, "PORT", "echo", usage);
		else
			example_bad_arg("echo", usage, "unexpected argument '%s'", a);
	}
	kfd = kevent_init(NULL, 0, flags);
	if (kfd < 0) {
		perror("kevent_init");
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	int l = listen_on((unsigned)port);
	/* The listener's accept carries cookie 0; connections their pointer. */
	if (kevent_aio_accept(kfd, l, SOCK_CLOEXEC, 0) < 0) {
		perror("kevent_aio_accept");
		return 1;
	}
	struct ukevent ev[256];
	unsigned long conns = 0, echoed = 0;
	while (!stop) {
		int n = kevent_get_events(kfd, 1, 256, NULL, ev, 0);
		if (n < 0) {
			perror("kevent_get_events");
			break;
		}
		for (int i = 0; i < n; i++) {
			int broken = (ev[i].ret_flags & KEVENT_RET_BROKEN) != 0;
			struct conn *c = (struct conn *)(uintptr_t)cookie_of(&ev[i]);
			if (!c) { /* a connection: serve it, accept the next */
				if (!broken) {
					c = calloc(1, sizeof *c);
					if (!c) {
						close((int)ev[i].ret_data[0]);
					} else {
						c->fd = (int)ev[i].ret_data[0];
						conns++;
						if (start_recv(c) < 0)
							drop(c);
					}
				}
				kevent_aio_accept(kfd, l, SOCK_CLOEXEC, 0);
			} else if (ev[i].event == KEVENT_NAIO_RECV) {
				if (broken || ev[i].ret_data[0] == 0) {
					drop(c); /* error or end of stream */
					continue;
				}
				c->have = ev[i].ret_data[0];
				if (kevent_aio_send(kfd, c->fd, c->buf, c->have, 0,
						    (uint64_t)(uintptr_t)c) < 0)
					drop(c);
			} else { /* KEVENT_NAIO_SEND */
				/* A short send on a stream socket: send the rest. */
				size_t sent = broken ? 0 : ev[i].ret_data[0];
				if (broken) {
					drop(c);
				} else if (sent < c->have) {
					memmove(c->buf, c->buf + sent, c->have - sent);
					c->have -= sent;
					if (kevent_aio_send(kfd, c->fd, c->buf, c->have, 0,
							    (uint64_t)(uintptr_t)c) < 0)
						drop(c);
				} else {
					echoed++;
					if (start_recv(c) < 0)
						drop(c);
				}
			}
		}
	}
	struct kevent_stats st;
	memset(&st, 0, sizeof st);
	kevent_get_stats(kfd, &st, sizeof st);
	fprintf(stderr, "echo: %lu connections, %lu messages, backend %s, %llu backend calls\n",
		conns, echoed, example_backend_name(st.backend),
		(unsigned long long)st.backend_calls);
	kevent_close(kfd); /* cancels the operations still in flight */
	close(l);
	return 0;
}
