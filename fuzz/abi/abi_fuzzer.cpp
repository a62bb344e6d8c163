// SPDX-License-Identifier: MIT
// abi_fuzzer — libFuzzer target: arbitrary arguments to every entry point.
#include "abi_harness.hpp"

#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	std::string failure = kevent_abi::run_abi(data, size);
	if (!failure.empty()) {
		std::fprintf(stderr, "abi: %s\n", failure.c_str());
		std::abort();
	}
	return 0;
}
