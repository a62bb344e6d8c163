// differential_fuzzer — libFuzzer target: the model against every backend.
// A difference prints the operation and what differed, then aborts, so that
// libFuzzer keeps the input (crash-*) for tests/regress.
#include "differential.hpp"

#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	std::string failure = kevent_diff::run_differential(data, size);
	if (!failure.empty()) {
		std::fprintf(stderr, "differential: %s\n", failure.c_str());
		std::abort();
	}
	return 0;
}
