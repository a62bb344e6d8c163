// SPDX-License-Identifier: MIT
// differential_replay_test — the reference model (fuzz/model) against each
// backend, on every input of the differential fuzzer's committed corpus
// (fuzz/corpus/differential): the fuzzer's harness, built with gcc. The
// model follows each backend's documented rules (docs/semantics.md, "io_uring
// backend"), so every input replays on epoll and on io_uring.
#include "corpus.hpp"
#include "differential/differential.hpp"
#include "known_divergences.hpp"

#include <gtest/gtest.h>

#include <ostream>

namespace kevent_diff {
// So that the test names read ".../uring", not a hex dump of the struct.
void PrintTo(const backend_choice &b, std::ostream *os) { *os << b.name; }
} // namespace kevent_diff

namespace {

class DifferentialReplay : public ::testing::TestWithParam<kevent_diff::backend_choice> {};

TEST_P(DifferentialReplay, CorpusAgreesWithTheModel) {
	const kevent_diff::backend_choice &b = GetParam();
	auto inputs = kevent_test::corpus("differential");
	ASSERT_FALSE(inputs.empty()) << "no corpus in " << KEVENT_FUZZ_CORPUS;
	for (const auto &in : inputs) {
		bool ran = false;
		std::string d =
			kevent_diff::run_differential_on(b, in.bytes.data(), in.bytes.size(), ran);
		if (!ran)
			GTEST_SKIP() << b.name << " is not offered here";
		if (const auto *k = kevent_test::known_divergence_of(b.name, in.name.c_str())) {
			EXPECT_NE("", d) << in.name << " agrees with the model now: remove it from "
					 << "tests/model/known_divergences.hpp (" << k->bug << ")";
			if (!d.empty())
				std::printf("known divergence (%s): %s: %s\n", k->bug,
					    in.name.c_str(), d.c_str());
			continue;
		}
		EXPECT_EQ("", d) << in.name;
	}
}

// Every listed input is in the corpus (a renamed file must not leave a
// line that can never fail).
TEST(DifferentialReplayKnown, EveryKnownDivergenceIsInTheCorpus) {
	auto inputs = kevent_test::corpus("differential");
	for (const auto &k : kevent_test::known_divergences) {
		bool found = false;
		for (const auto &in : inputs)
			found |= in.name == k.input;
		EXPECT_TRUE(found) << k.input;
	}
}

std::string backend_name(const ::testing::TestParamInfo<kevent_diff::backend_choice> &p) {
	return p.param.name;
}

INSTANTIATE_TEST_SUITE_P(Backends, DifferentialReplay,
			 ::testing::ValuesIn(kevent_diff::all_backends()), backend_name);

} // namespace
