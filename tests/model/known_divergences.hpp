// SPDX-License-Identifier: MIT
// known_divergences — committed corpus inputs on which a backend still
// differs from the model because of an open library bug (not a model gap:
// the model follows the documents). The replay test expects each listed
// input to diverge on that backend, and fails once it no longer does, so
// that the fix removes its line and the input becomes a plain regression
// seed. An input diverging that is not listed fails as always.
#pragma once

#include <array>
#include <cstring>

namespace kevent_test {

struct known_divergence {
	const char *backend; // kevent_diff::backend_choice::name
	const char *input;   // file name in fuzz/corpus/differential
	const char *bug;     // what is wrong, and where it is reported
};

// None open. (The io_uring backend armed polls by fd number until the
// fixed-file table; its reproducers are plain seeds now:
// regress-uring-rearm-by-number-*.)
inline constexpr std::array<known_divergence, 0> known_divergences{};

inline const known_divergence *known_divergence_of(const char *backend, const char *input) {
	for (const known_divergence &k : known_divergences)
		if (std::strcmp(k.backend, backend) == 0 && std::strcmp(k.input, input) == 0)
			return &k;
	return nullptr;
}

} // namespace kevent_test
