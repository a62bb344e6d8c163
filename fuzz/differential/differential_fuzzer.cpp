// SPDX-License-Identifier: MIT
// differential_fuzzer — libFuzzer target: the model against every backend
// (KEVENT_DIFF_BACKEND=epoll|uring: one of them).
//
// A difference prints the operation and what differed, then aborts, so that
// libFuzzer keeps the input (crash-*) for tests/regress. With
// KEVENT_DIFF_KEEP_GOING=DIR (the long offline run, fuzz/offline.sh) it is
// counted instead, the first inputs of each kind of difference are written
// to DIR, and the run goes on. At exit the process prints, per backend, the
// programs run, the operations executed and the divergences.
#include "differential.hpp"

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <unistd.h>

namespace {

struct print_totals {
	~print_totals() {
		for (const kevent_diff::backend_totals &t : kevent_diff::totals())
			if (t.programs)
				std::fprintf(stderr,
					     "differential totals: %s executions %" PRIu64
					     " operations %" PRIu64 " divergences %" PRIu64 "\n",
					     t.name, t.programs, t.operations, t.divergences);
	}
} at_exit;

// "[uring] op 7 (get_events ...): what" -> "[uring] get_events: what", with
// numbers dropped: a coarse kind of difference, so that one bug hit a
// million times does not write a million files.
std::string kind_of(const std::string &failure) {
	std::string k;
	size_t open = failure.find(" (");
	size_t close = failure.find("): ");
	if (open != std::string::npos && close != std::string::npos) {
		std::string op = failure.substr(open + 2, failure.find(' ', open + 2) - open - 2);
		k = failure.substr(0, failure.find(" op ")) + " " + op + ": " +
		    failure.substr(close + 3);
	} else {
		k = failure;
	}
	std::string out;
	for (char c : k.substr(0, 60))
		if (c < '0' || c > '9')
			out += c;
	return out;
}

void keep(const char *dir, const std::string &failure, const uint8_t *data, size_t size) {
	static std::map<std::string, unsigned> seen;
	unsigned &n = seen[kind_of(failure)];
	if (n++ >= 3)
		return;
	static unsigned files;
	// The pid keeps the files of successive runs (offline.sh's chunks) apart.
	std::string path = std::string(dir) + "/divergence-" + std::to_string(getpid()) + "-" +
			   std::to_string(files++);
	if (FILE *f = std::fopen(path.c_str(), "wb")) {
		std::fwrite(data, 1, size, f);
		std::fclose(f);
	}
	std::fprintf(stderr, "differential: %s (kept as %s)\n", failure.c_str(), path.c_str());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	std::string failure = kevent_diff::run_differential(data, size);
	if (failure.empty())
		return 0;
	if (const char *dir = std::getenv("KEVENT_DIFF_KEEP_GOING"); dir && *dir) {
		keep(dir, failure, data, size);
		return 0;
	}
	std::fprintf(stderr, "differential: %s\n", failure.c_str());
	std::abort();
}
