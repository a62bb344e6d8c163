// known_divergences — committed corpus inputs on which a backend still
// differs from the model because of an open library bug (not a model gap:
// the model follows the documents). The replay test expects each listed
// input to diverge on that backend, and fails once it no longer does, so
// that the fix removes its line and the input becomes a plain regression
// seed. An input diverging that is not listed fails as always.
#pragma once

#include <cstring>

namespace kevent_test {

struct known_divergence {
	const char *backend; // kevent_diff::backend_choice::name
	const char *input;   // file name in fuzz/corpus/differential
	const char *bug;     // what is wrong, and where it is reported
};

// io_uring arms a watch's poll by fd *number*, resolved when the SQE is
// submitted: the level poll's re-arm after each report, and a re-arm that
// a REMOVE or ADD queued for the next wait. If the number was closed or
// reused in between, the watch ends up on no file (an -EBADF completion) or
// on the new file, and the old file — which docs/semantics.md ("io_uring
// backend") says stays open until the kevent is removed — is released: its
// hang-up is never reported, and the new file's events reach the old
// registration.
inline constexpr const char *uring_rearm_by_number = "io_uring re-arms a poll by fd number (issue "
						     "14, beyond the list: found by the "
						     "differential fuzzer)";

inline constexpr known_divergence known_divergences[] = {
	{"uring", "seed-011", uring_rearm_by_number},
	{"uring", "seed-018", uring_rearm_by_number},
	{"uring", "seed-038", uring_rearm_by_number},
	{"uring", "seed-075", uring_rearm_by_number},
	{"uring", "seed-079", uring_rearm_by_number},
	{"uring", "seed-090", uring_rearm_by_number},
	{"uring", "seed-098", uring_rearm_by_number},
	{"uring", "regress-uring-rearm-by-number-level", uring_rearm_by_number},
	{"uring", "regress-uring-rearm-by-number-lazy", uring_rearm_by_number},
};

inline const known_divergence *known_divergence_of(const char *backend, const char *input) {
	for (const known_divergence &k : known_divergences)
		if (std::strcmp(k.backend, backend) == 0 && std::strcmp(k.input, input) == 0)
			return &k;
	return nullptr;
}

} // namespace kevent_test
