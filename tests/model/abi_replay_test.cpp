// SPDX-License-Identifier: MIT
// abi_replay_test — every kevent_* entry point with the arguments of the ABI
// fuzzer's committed corpus (fuzz/corpus/abi): documented errnos only, no
// leak (fuzz/abi, built with gcc).
#include "abi/abi_harness.hpp"
#include "corpus.hpp"

#include <gtest/gtest.h>

TEST(AbiReplay, CorpusGetsDocumentedErrnosOnly) {
	auto inputs = kevent_test::corpus("abi");
	ASSERT_FALSE(inputs.empty()) << "no corpus in " << KEVENT_FUZZ_CORPUS;
	for (const auto &in : inputs)
		EXPECT_EQ("", kevent_abi::run_abi(in.bytes.data(), in.bytes.size())) << in.name;
}
