// SPDX-License-Identifier: MIT
/*
 * example_args.h — what every example does with its command line, in one
 * place: --help prints the usage and exits 0; a bad argument says what is
 * wrong with it, then the usage, and exits 2; --backend names a backend the
 * way KEVENT_BACKEND does. Header-only, C11 and C++20.
 */
#ifndef KEVENT_EXAMPLE_ARGS_H
#define KEVENT_EXAMPLE_ARGS_H

#include <kevent/kevent.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXAMPLE_BACKEND_HELP "auto|epoll|uring"

/* "PROG: <what is wrong>", then USAGE, on stderr; exit 2. */
__attribute__((noreturn, format(printf, 3, 4))) static inline void
example_bad_arg(const char *prog, const char *usage, const char *fmt, ...) {
	va_list ap;
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s", usage);
	exit(2);
}

/* USAGE on stdout, exit 0: what --help does. */
__attribute__((noreturn)) static inline void example_help(const char *usage) {
	fputs(usage, stdout);
	exit(0);
}

/* The value of option OPT at argv[*i + 1], or a bad-argument exit. */
static inline const char *example_value(int argc, char **argv, int *i, const char *prog,
					const char *usage) {
	if (*i + 1 >= argc)
		example_bad_arg(prog, usage, "%s needs a value", argv[*i]);
	return argv[++*i];
}

/* --backend NAME: kevent_init's backend flag, as KEVENT_BACKEND spells it
 * (io_uring, the kernel's name, is accepted too). */
static inline unsigned example_backend(const char *name, const char *prog, const char *usage) {
	if (strcmp(name, "auto") == 0)
		return KEVENT_INIT_AUTO;
	if (strcmp(name, "epoll") == 0)
		return KEVENT_INIT_EPOLL;
	if (strcmp(name, "uring") == 0 || strcmp(name, "io_uring") == 0)
		return KEVENT_INIT_URING;
	example_bad_arg(prog, usage, "unknown backend '%s' (" EXAMPLE_BACKEND_HELP ")", name);
}

/* A whole decimal number in [MIN, MAX] for option OPT. */
static inline long example_number(const char *s, long min, long max, const char *opt,
				  const char *prog, const char *usage) {
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		example_bad_arg(prog, usage, "%s: '%s' is not a number from %ld to %ld", opt, s,
				min, max);
	return v;
}

/* The whole command line of a program that takes only --count N (1 to
 * 1000000) and --backend B: what the two ring examples take. */
static inline void example_count_and_backend(int argc, char **argv, const char *prog,
					     const char *usage, long *count, unsigned *backend) {
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			example_help(usage);
		else if (!strcmp(argv[i], "--count"))
			*count = example_number(example_value(argc, argv, &i, prog, usage), 1,
						1000000, "--count", prog, usage);
		else if (!strcmp(argv[i], "--backend"))
			*backend = example_backend(example_value(argc, argv, &i, prog, usage), prog,
						   usage);
		else
			example_bad_arg(prog, usage, "unexpected argument '%s'", argv[i]);
	}
}

/* The backend a queue uses (kevent_get_stats), by name. */
static inline const char *example_backend_name(unsigned backend) {
	switch (backend) {
	case KEVENT_BACKEND_EPOLL:
		return "epoll";
	case KEVENT_BACKEND_URING:
		return "uring";
	default:
		return "unknown";
	}
}

#endif /* KEVENT_EXAMPLE_ARGS_H */
