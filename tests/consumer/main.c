// SPDX-License-Identifier: MIT
/*
 * The outside consumer, C side: open a queue, add a 1 ms one-shot timer, get
 * the event, close. Exit 0 and one line "ok: ..." on success.
 */
#include <kevent/kevent.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

int main(void) {
	int kfd = kevent_init(NULL, 0, KEVENT_INIT_AUTO);
	if (kfd < 0) {
		fprintf(stderr, "kevent_init: %s\n", strerror(errno));
		return 1;
	}
	struct ukevent uk;
	memset(&uk, 0, sizeof uk);
	uk.type = KEVENT_TIMER;
	uk.id.raw[1] = 1000000; /* 1 ms */
	uk.event = KEVENT_TIMER_FIRED;
	uk.req_flags = KEVENT_REQ_ONESHOT;
	uk.user[0] = 42;
	if (kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &uk) != 0) {
		fprintf(stderr, "kevent_ctl: not queued (%s)\n", strerror(errno));
		return 1;
	}
	struct ukevent ev;
	struct timespec timeout = {.tv_sec = 5};
	int n = kevent_get_events(kfd, 1, 1, &timeout, &ev, 0);
	if (n != 1 || ev.type != KEVENT_TIMER || ev.user[0] != 42 ||
	    !(ev.ret_flags & KEVENT_RET_DONE)) {
		fprintf(stderr, "kevent_get_events: %d (%s)\n", n, strerror(errno));
		return 1;
	}
	char line[256];
	kevent_ukevent_str(&ev, line, sizeof line);
	if (kevent_close(kfd) != 0) {
		fprintf(stderr, "kevent_close: %s\n", strerror(errno));
		return 1;
	}
	printf("ok: %s\n", line);
	return 0;
}
