// differential_replay_test — the reference model (fuzz/model) against every
// backend on each input of the differential fuzzer's committed corpus
// (fuzz/corpus/differential): the fuzzer's harness, built with gcc.
#include "corpus.hpp"
#include "differential/differential.hpp"

#include <gtest/gtest.h>

TEST(DifferentialReplay, CorpusAgreesWithTheModel) {
	auto inputs = kevent_test::corpus("differential");
	ASSERT_FALSE(inputs.empty()) << "no corpus in " << KEVENT_FUZZ_CORPUS;
	unsigned backends_run = 0;
	for (const auto &in : inputs) {
		unsigned ran = 0;
		EXPECT_EQ("", kevent_diff::run_differential(in.bytes.data(), in.bytes.size(), &ran))
			<< in.name;
		backends_run = std::max(backends_run, ran);
	}
	EXPECT_GE(backends_run, 1u) << "no backend ran";
}
