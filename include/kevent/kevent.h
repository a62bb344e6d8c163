// SPDX-License-Identifier: MIT
/*
 * kevent.h — the C ABI of libkevent.
 *
 * libkevent is a userspace implementation of kevent, the generic event
 * handling mechanism proposed for Linux in 2006: one queue reports sockets,
 * any pollable fd, pipes, timers, user events, signals, file-system
 * changes, process exits and asynchronous I/O completions. kevent(7) is the
 * overview; every call has its page in section 3.
 *
 * This header is the only binary interface of the library. It compiles as
 * C11 and as C++20. The layout of every struct below is part of the ABI.
 *
 * Every call behaves like a system-call wrapper: on failure it returns -1 and
 * sets errno; it never aborts and never throws.
 *
 * Thread safety: every call may be made from any thread at any time on the
 * same queue. kevent_ctl(KEVENT_CTL_READY, 0, NULL) is also safe from a
 * signal handler.
 */
#ifndef KEVENT_KEVENT_H
#define KEVENT_KEVENT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define KEVENT_API __attribute__((visibility("default")))
#else
#define KEVENT_API
#endif

/* ---- data structures (kevent.7) ---------------------------------------- */

/* What to watch: an fd, a signal number, a timer interval, a user value. */
struct kevent_id {
	union {
		uint32_t raw[2];
		uint64_t raw_u64;
	};
};

/* One event request / one delivered event: 40 bytes, 8-aligned. */
struct ukevent {
	struct kevent_id id;  /*  0 what to watch                              */
	uint32_t type;        /*  8 origin: KEVENT_SOCKET ...                  */
	uint32_t event;       /* 12 requested event bits (per origin)          */
	uint32_t req_flags;   /* 16 KEVENT_REQ_*                               */
	uint32_t ret_flags;   /* 20 KEVENT_RET_* (set by the library)          */
	uint32_t ret_data[2]; /* 24 origin's result; [1] = -errno on error    */
	union {               /* 32 cookie, returned untouched                */
		uint32_t user[2];
		void *ptr;
	};
};

/* ---- origins (ukevent.type) ------------------------------------------- */
#define KEVENT_SOCKET 0
#define KEVENT_INODE 1
#define KEVENT_TIMER 2
#define KEVENT_POLL 3
#define KEVENT_NAIO 4
#define KEVENT_AIO 5
#define KEVENT_PIPE 6
#define KEVENT_SIGNAL 7
#define KEVENT_POSIX_TIMER 8 /* reserved: ADD fails with ENOSYS */
#define KEVENT_UNOTIFY 9
#define KEVENT_PROC 10
#define KEVENT_MAX 11

/* ---- request flags (ukevent.req_flags) -------------------------------- */
#define KEVENT_REQ_ONESHOT 0x1u
#define KEVENT_REQ_WAKEUP_ALL 0x2u
#define KEVENT_REQ_ET 0x4u
#define KEVENT_REQ_LAST_CHECK 0x8u
#define KEVENT_REQ_ALWAYS_QUEUE 0x10u
#define KEVENT_REQ_READY 0x20u
#define KEVENT_REQ_LEVEL 0x40u
/* libkevent: not delivered while set; what happens meanwhile is collected
 * and delivered once a MODIFY clears it (kevent_ctl(3)). */
#define KEVENT_REQ_DISABLED 0x80u
#define KEVENT_REQ_MASK 0xffu

/* ---- return flags (ukevent.ret_flags) --------------------------------- */
#define KEVENT_RET_BROKEN 0x1u
#define KEVENT_RET_DONE 0x2u
#define KEVENT_RET_COPY_FAILED 0x4u

/* ---- kevent_ctl commands ---------------------------------------------- */
#define KEVENT_CTL_ADD 0u
#define KEVENT_CTL_REMOVE 1u
#define KEVENT_CTL_MODIFY 2u
#define KEVENT_CTL_READY 3u

/* Largest num accepted by kevent_ctl. */
#define KEVENT_CTL_MAX 65536u

/* ---- event bits (ukevent.event) --------------------------------------- */
#define KEVENT_SOCKET_RECV 0x1u
#define KEVENT_SOCKET_ACCEPT 0x2u
#define KEVENT_SOCKET_SEND 0x4u

#define KEVENT_PIPE_RECV 0x1u
#define KEVENT_PIPE_SEND 0x4u

#define KEVENT_NAIO_RECV 0x1u
#define KEVENT_NAIO_ACCEPT 0x2u
#define KEVENT_NAIO_SEND 0x4u
#define KEVENT_NAIO_CONNECT 0x8u   /* libkevent: kevent_aio_connect(3)  */
#define KEVENT_NAIO_SENDFILE 0x10u /* libkevent: kevent_aio_sendfile(3) */

/*
 * Asynchronous I/O (kevent_aio_read(3) ...). The completion kevent has the
 * type KEVENT_AIO (files) or KEVENT_NAIO (sockets), id.raw_u64 = the id the
 * call returned, event = the operation, user = the cookie, ret_flags = DONE
 * (it is ONESHOT); ret_data[0] = bytes transferred (accept: the new fd), or
 * BROKEN with -errno in ret_data[1].
 */
#define KEVENT_AIO_READ 0x1u
#define KEVENT_AIO_WRITE 0x2u
#define KEVENT_AIO_FSYNC 0x4u
#define KEVENT_AIO_FSYNC_DATASYNC 0x1u /* kevent_aio_fsync flags: fdatasync */

/*
 * Inodes. id.raw[0] = fd of a directory or file. CREATE and REMOVE are the
 * patches' events; the rest are libkevent's extensions. ret_data[0] = the
 * bits that fired, ret_data[1] = how many names this delivery handed to
 * kevent_inode_names(3). The watched object deleted (or its file system
 * unmounted) -> BROKEN. OVERFLOW is never requested: it is reported to every
 * inode kevent of the queue when the kernel dropped events (rescan).
 */
#define KEVENT_INODE_CREATE 0x1u
#define KEVENT_INODE_REMOVE 0x2u
#define KEVENT_INODE_MODIFY 0x4u
#define KEVENT_INODE_ATTRIB 0x8u
#define KEVENT_INODE_MOVED_FROM 0x10u
#define KEVENT_INODE_MOVED_TO 0x20u
#define KEVENT_INODE_CLOSE_WRITE 0x40u
#define KEVENT_INODE_OVERFLOW 0x80u
#define KEVENT_INODE_MOVE_SELF 0x100u /* the watched object itself was renamed */

/*
 * Two structs end in a flexible array member (C99). C++ has none: g++ and
 * clang++ accept it as an extension with the same layout and warn under
 * -Wpedantic, so the warning is silenced for these two definitions only.
 */
#if defined(__cplusplus) && defined(__GNUC__)
#define KEVENT_FLEX_PUSH_ \
	_Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wpedantic\"")
#define KEVENT_FLEX_POP_ _Pragma("GCC diagnostic pop")
#else
#define KEVENT_FLEX_PUSH_
#define KEVENT_FLEX_POP_
#endif

/* One name returned by kevent_inode_names(3); records are 8-aligned. */
KEVENT_FLEX_PUSH_
struct kevent_inode_name {
	uint32_t event; /* the KEVENT_INODE_* bit of this change                */
	uint32_t len;   /* bytes of name[], NUL and padding included            */
	char name[];    /* NUL-terminated; "" for the watched object itself     */
};
KEVENT_FLEX_POP_

/*
 * Timers. id.raw[0] = seconds, id.raw[1] = nanoseconds of the interval.
 * The low bit of event is KEVENT_TIMER_FIRED (the only bit delivered); the
 * high bits choose the clock and an absolute first expiry (the patches were
 * criticised for having neither):
 *   KEVENT_TIMER_REALTIME / KEVENT_TIMER_BOOTTIME  clock (monotonic default)
 *   KEVENT_TIMER_ABSTIME  the first expiry is the absolute time
 *                         { ret_data[0] seconds, ret_data[1] nanoseconds }
 *                         on the chosen clock, given at ADD; the interval in
 *                         id then repeats it (interval 0 requires ONESHOT).
 *   KEVENT_TIMER_NAMED    id.raw_u64 is a name chosen by the caller (the key),
 *                         and the interval is { ret_data[0] seconds,
 *                         ret_data[1] nanoseconds } of the ADD entry: any
 *                         number of timers of one period in one queue. With
 *                         ABSTIME, ret_data is the first expiry and there is
 *                         no interval (ONESHOT required).
 */
#define KEVENT_TIMER_FIRED 0x1u
#define KEVENT_TIMER_REALTIME 0x100u
#define KEVENT_TIMER_BOOTTIME 0x200u
#define KEVENT_TIMER_ABSTIME 0x400u
#define KEVENT_TIMER_NAMED 0x800u

/*
 * Signals. id.raw[0] = signal number; KEVENT_SIGNAL_NOMASK in id.raw_u64: the
 * queue consumes the signal (no handler runs, no default action). ret_data[0]
 * = deliveries coalesced. See kevent_signal(7).
 */
#define KEVENT_SIGNAL_DELIVERY 0x1u
#define KEVENT_SIGNAL_NOMASK (1ull << 63) /* modifier in id.raw_u64 */

/*
 * Processes. id.raw[0] = pid. ret_data[0] = wait status as waitpid(2) stores
 * it (children only; 0 for another process). A child is not reaped unless
 * KEVENT_PROC_REAP is in event.
 */
#define KEVENT_PROC_EXIT 0x1u
#define KEVENT_PROC_REAP 0x100u

/* ---- kevent_get_events flags ------------------------------------------ */
#define KEVENT_FLAGS_ABSTIME 0x1u /* timeout is absolute CLOCK_MONOTONIC */
/* A signal handler that runs while the call waits, before any event is
 * collected, ends it with -1/EINTR (as epoll_wait(2)); without this flag the
 * call goes on waiting. See kevent_get_events(3). */
#define KEVENT_FLAGS_EINTR 0x2u
/* The call asks the kernel even when the queue's ready list holds events,
 * so it returns every event ready when it looks, up to max_nr, as
 * epoll_wait(2) does, instead of the fairness rule's list-only shortcut.
 * See kevent_get_events(3), "Fairness". */
#define KEVENT_FLAGS_ALL_READY 0x4u

/* ---- kevent_init flags: backend choice ---------------------------------- */
#define KEVENT_INIT_AUTO 0x0u  /* the best backend that works here      */
#define KEVENT_INIT_EPOLL 0x1u /* epoll(7)                              */
#define KEVENT_INIT_URING 0x2u /* io_uring(7); ENOSYS where unavailable  */
#define KEVENT_INIT_BACKEND_MASK 0xfu
/* Place the ring in a sealed memfd: kevent_init(NULL, size, ...|SHARED_RING),
 * then kevent_ring_fd(kfd) gives a descriptor any process may mmap read-only. */
#define KEVENT_INIT_SHARED_RING 0x10u
/* Accepted and without effect: no call but kevent_close(3) checks that kfd
 * still names the queue any more (kevent_init(3)), so every queue is as fast
 * as this flag once made it. */
#define KEVENT_INIT_NO_FD_CHECK 0x20u

/* Backend identifiers reported by kevent_get_stats. */
#define KEVENT_BACKEND_EPOLL 1u
#define KEVENT_BACKEND_URING 2u

/* ---- the ring (kevent_init(3), kevent_wait(3)) ------------------------ */
KEVENT_FLEX_PUSH_
struct kevent_ring {
	uint32_t ring_kidx;
	uint32_t ring_over;
	struct ukevent event[];
};
KEVENT_FLEX_POP_
#undef KEVENT_FLEX_PUSH_
#undef KEVENT_FLEX_POP_

/* ---- statistics (kevent_get_stats(3)) --------------------------------- */
/*
 * Filled by kevent_get_stats(). Fields are only ever appended; the caller
 * passes sizeof(struct kevent_stats) and receives as much as both know.
 * registered_by_type has room for KEVENT_STATS_TYPES origins, more than
 * KEVENT_MAX: a new origin takes a slot already there, and no field after
 * it moves (entries from KEVENT_MAX on read 0).
 */
#define KEVENT_STATS_TYPES 16
struct kevent_stats {
	uint32_t size;       /* bytes written by the library                    */
	uint32_t backend;    /* KEVENT_BACKEND_* (0 for the process-wide view)   */
	uint64_t queues;     /* open queues (1 for a queue; all for kfd == -1)   */
	uint64_t registered; /* live registrations                 */
	uint64_t registered_by_type[KEVENT_STATS_TYPES]; /* by ukevent.type */
	uint64_t ready;                                  /* on the ready list now              */
	uint64_t inflight_io;                            /* asynchronous I/O not yet completed */
	uint64_t added;                                  /* totals since kevent_init           */
	uint64_t removed;
	uint64_t delivered;
	uint64_t broken;
	uint64_t wakeups;       /* waiters woken                      */
	uint64_t backend_calls; /* syscalls made on behalf of the queue */
};

/*
 * kevent_get_stats(kfd, stats, sizeof *stats): the counters of one queue, or
 * with kfd == -1 the sums over every open queue of the process (the
 * teardown check of the tests: after kevent_close, registered and
 * inflight_io are 0).
 */

/* ---- calls -------------------------------------------------------------- */
KEVENT_API int kevent_init(struct kevent_ring *ring, unsigned ring_size, unsigned flags);
KEVENT_API int kevent_ctl(int kfd, unsigned cmd, unsigned num, struct ukevent *arg);
KEVENT_API int kevent_get_events(int kfd, unsigned min_nr, unsigned max_nr,
				 const struct timespec *timeout, struct ukevent *buf,
				 unsigned flags);
KEVENT_API int kevent_wait(int kfd, unsigned num, unsigned old_uidx, const struct timespec *timeout,
			   unsigned flags);
KEVENT_API int kevent_commit(int kfd, unsigned new_uidx, unsigned over);
KEVENT_API int kevent_ring_fd(int kfd);
KEVENT_API int kevent_close(int kfd);
KEVENT_API int kevent_get_stats(int kfd, struct kevent_stats *stats, unsigned size);
KEVENT_API int kevent_inode_names(int kfd, const struct ukevent *ev, void *buf, unsigned size);
/*
 * kevent_ukevent_str(ev, buf, size): ev as one line of text for debugging
 * ("SOCKET fd=5 RECV|SEND req=ONESHOT ret=BROKEN|DONE data=[0x1,-32 (Broken
 * pipe)] cookie=0x7"). snprintf semantics: returns the length it needed, and
 * NUL-terminates buf whenever size > 0. See kevent_ukevent_str(3).
 */
KEVENT_API int kevent_ukevent_str(const struct ukevent *ev, char *buf, size_t size);

/*
 * Asynchronous I/O. Each call starts one operation and returns its id (> 0),
 * or -1 with errno. The buffer belongs to the library until the completion
 * kevent is delivered, or until a KEVENT_CTL_REMOVE of (type, id) — which
 * cancels the operation and returns once the kernel no longer touches it —
 * or kevent_close. off == -1: the file position (read/write). See
 * kevent_aio_read(3), the page of all eight calls.
 */
struct sockaddr;
KEVENT_API int64_t kevent_aio_read(int kfd, int fd, void *buf, size_t len, int64_t off,
				   uint64_t cookie);
KEVENT_API int64_t kevent_aio_write(int kfd, int fd, const void *buf, size_t len, int64_t off,
				    uint64_t cookie);
KEVENT_API int64_t kevent_aio_fsync(int kfd, int fd, unsigned flags, uint64_t cookie);
KEVENT_API int64_t kevent_aio_recv(int kfd, int fd, void *buf, size_t len, int flags,
				   uint64_t cookie);
KEVENT_API int64_t kevent_aio_send(int kfd, int fd, const void *buf, size_t len, int flags,
				   uint64_t cookie);
KEVENT_API int64_t kevent_aio_accept(int kfd, int fd, int flags, uint64_t cookie);
KEVENT_API int64_t kevent_aio_connect(int kfd, int fd, const struct sockaddr *addr,
				      unsigned addrlen, uint64_t cookie);
KEVENT_API int64_t kevent_aio_sendfile(int kfd, int out_fd, int in_fd, int64_t off, size_t len,
				       uint64_t cookie);

#ifdef __cplusplus
}
#endif

#endif /* KEVENT_KEVENT_H */
