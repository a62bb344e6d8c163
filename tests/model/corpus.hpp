// SPDX-License-Identifier: MIT
// corpus — the committed seed corpora of the fuzz targets (fuzz/corpus/<target>),
// replayed by the normal test suite so that `make test` runs the model and
// both harnesses (built with gcc) on every input the fuzzers started from or
// were found to need.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace kevent_test {

struct corpus_input {
	std::string name;
	std::vector<uint8_t> bytes;
};

inline std::vector<corpus_input> corpus(const char *target) {
	std::vector<corpus_input> out;
	std::filesystem::path dir = std::filesystem::path(KEVENT_FUZZ_CORPUS) / target;
	for (const auto &f : std::filesystem::directory_iterator(dir)) {
		std::ifstream in(f.path(), std::ios::binary);
		out.push_back({f.path().filename().string(),
			       std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {})});
	}
	std::sort(out.begin(), out.end(),
		  [](const corpus_input &a, const corpus_input &b) { return a.name < b.name; });
	return out;
}

} // namespace kevent_test
