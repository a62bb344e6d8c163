/* SPDX-License-Identifier: MIT */
/*
 * <sys/event.h> — BSD kqueue on libkevent (libkevent-kqueue; kqueue(3)
 * describes kqueue() and kevent(); docs/kqueue.md).
 *
 * Found as <sys/event.h> through `pkg-config --cflags kevent-kqueue`, which
 * names this header's own folder: it never shadows a system header.
 *
 * Source-compatible with libkqueue's <sys/event.h>: the same struct kevent
 * layout (ident, filter, flags, fflags, data, udata: 32 bytes on LP64), the
 * same names, FreeBSD's filter numbers and flag values. Timer units follow
 * FreeBSD (NOTE_SECONDS 1, NOTE_MSECONDS 2, NOTE_USECONDS 4, NOTE_NSECONDS 8,
 * NOTE_ABSTIME 0x10).
 *
 * C++: the BSD function kevent() and struct kevent cannot share the global
 * scope with libkevent's C++ namespace `kevent` (<kevent/kevent.hpp>). So in
 * C++ the identifier `kevent` is a macro for `kqueue_kevent`: `struct
 * kevent` and `kevent(...)` in the program's text still compile (the
 * function keeps the link name `kevent`), and the C++ headers of libkevent
 * set the macro aside while they declare namespace kevent, which such a
 * program reaches as `libkevent::` (a namespace alias in kevent.hpp).
 */
#ifndef _SYS_EVENT_H_
#define _SYS_EVENT_H_

#include <stdint.h>
#include <sys/types.h>

struct timespec;

#ifdef __cplusplus
#define kevent kqueue_kevent
extern "C" {
#endif

/* This is libkevent's kqueue (libkqueue defines LIBKQUEUE to 1). */
#define LIBKEVENT_KQUEUE 1

#define EVFILT_READ (-1)
#define EVFILT_WRITE (-2)
#define EVFILT_AIO (-3) /* refused: EINVAL */
#define EVFILT_VNODE (-4)
#define EVFILT_PROC (-5)
#define EVFILT_SIGNAL (-6)
#define EVFILT_TIMER (-7)
#define EVFILT_PROCDESC (-8) /* refused: EINVAL */
#define EVFILT_FS (-9)       /* refused: EINVAL */
#define EVFILT_LIO (-10)     /* refused: EINVAL */
#define EVFILT_USER (-11)
#define EVFILT_SENDFILE (-12) /* refused: EINVAL */
#define EVFILT_EMPTY (-13)    /* refused: EINVAL */
#define EVFILT_SYSCOUNT 13

struct kevent {
	uintptr_t ident; /* identifier for this event */
	short filter;    /* filter for event */
	unsigned short flags;
	unsigned int fflags;
	intptr_t data;
	void *udata; /* opaque user data identifier */
};

#define EV_SET(kevp_, a, b, c, d, e, f)                \
	do {                                           \
		struct kevent *ev_set_kevp_ = (kevp_); \
		ev_set_kevp_->ident = (a);             \
		ev_set_kevp_->filter = (b);            \
		ev_set_kevp_->flags = (c);             \
		ev_set_kevp_->fflags = (d);            \
		ev_set_kevp_->data = (e);              \
		ev_set_kevp_->udata = (f);             \
	} while (0)

/* actions */
#define EV_ADD 0x0001          /* add event to kq (implies enable) */
#define EV_DELETE 0x0002       /* delete event from kq */
#define EV_ENABLE 0x0004       /* enable event */
#define EV_DISABLE 0x0008      /* disable event (not reported) */
#define EV_FORCEONESHOT 0x0100 /* refused: EINVAL */
#define EV_KEEPUDATA 0x0200    /* do not replace udata */

/* flags */
#define EV_ONESHOT 0x0010  /* only report one occurrence */
#define EV_CLEAR 0x0020    /* clear event state after reporting */
#define EV_RECEIPT 0x0040  /* force EV_ERROR on success, data=0 */
#define EV_DISPATCH 0x0080 /* disable event after reporting */

#define EV_SYSFLAGS 0xF000 /* reserved by system */
#define EV_DROP 0x1000     /* note should be dropped */
#define EV_FLAG1 0x2000    /* filter-specific flag */

/* returned values */
#define EV_EOF 0x8000   /* EOF detected */
#define EV_ERROR 0x4000 /* error, data contains errno */

/* EVFILT_USER: the top two bits of fflags say how the low 24 apply. */
#define NOTE_FFNOP 0x00000000
#define NOTE_FFAND 0x40000000
#define NOTE_FFOR 0x80000000
#define NOTE_FFCOPY 0xc0000000
#define NOTE_FFCTRLMASK 0xc0000000
#define NOTE_FFLAGSMASK 0x00ffffff
#define NOTE_TRIGGER 0x01000000 /* trigger the event */

/* EVFILT_READ, EVFILT_WRITE */
#define NOTE_LOWAT 0x0001 /* READ: data is a low-water mark; WRITE: refused, EINVAL */

/* EVFILT_VNODE */
#define NOTE_DELETE 0x0001 /* vnode was removed */
#define NOTE_WRITE 0x0002  /* data contents changed */
#define NOTE_EXTEND 0x0004 /* size increased */
#define NOTE_ATTRIB 0x0008 /* attributes changed */
#define NOTE_LINK 0x0010   /* link count changed */
#define NOTE_RENAME 0x0020 /* vnode was renamed */
#define NOTE_REVOKE 0x0040 /* accepted, not seen on Linux (kqueue(3)) */

/* EVFILT_PROC */
#define NOTE_EXIT 0x80000000 /* process exited */
#define NOTE_FORK 0x40000000 /* refused: EINVAL */
#define NOTE_EXEC 0x20000000 /* refused: EINVAL */
#define NOTE_PCTRLMASK 0xf0000000
#define NOTE_PDATAMASK 0x000fffff
#define NOTE_TRACK 0x00000001 /* refused: EINVAL */
#define NOTE_TRACKERR 0x00000002
#define NOTE_CHILD 0x00000004

/* EVFILT_TIMER: the unit of data (milliseconds when none is given) */
#define NOTE_SECONDS 0x00000001
#define NOTE_MSECONDS 0x00000002
#define NOTE_USECONDS 0x00000004
#define NOTE_NSECONDS 0x00000008
#define NOTE_ABSTIME 0x00000010 /* data is an absolute CLOCK_REALTIME time */

int kqueue(void);
int kqueue1(int flags);
#ifdef __cplusplus
/* The link name stays `kevent` (see above). A function named like a struct
 * is what C does (stat); g++'s -Wshadow says so, and is told not to here. */
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#endif
int kevent(int kq, const struct kevent *changelist, int nchanges, struct kevent *eventlist,
	   int nevents, const struct timespec *timeout) __asm__("kevent");
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
#else
int kevent(int kq, const struct kevent *changelist, int nchanges, struct kevent *eventlist,
	   int nevents, const struct timespec *timeout);
#endif

#ifdef __cplusplus
}
#endif

#endif /* !_SYS_EVENT_H_ */
