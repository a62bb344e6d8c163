// SPDX-License-Identifier: MIT
// differential — run one decoded program on the model and on a real queue
// of each backend, in lockstep, and report the first difference in what
// either returns or delivers (return values, every field of every entry
// written back or delivered, the registered/ready/delivered/broken
// counters), or a leak after the queue is closed.
//
// Shared by the libFuzzer target (differential_fuzzer.cpp, clang) and the
// corpus replay in the normal test suite (tests/model, gcc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace kevent_diff {

struct backend_choice {
	unsigned flags;
	const char *name;
};

// Every backend the library may offer (epoll, uring); the model follows
// each one's documented rules. One that kevent_init refuses here (ENOSYS,
// EINVAL, EOPNOTSUPP) is skipped quietly.
std::vector<backend_choice> all_backends();
// The ones a run compares: all, or the one named by KEVENT_DIFF_BACKEND
// (epoll or uring) — how the fuzzer is pointed at one backend.
std::vector<backend_choice> backends();

// "" when the backends agree with the model, else what differed and the
// operation that showed it. `ran` (optional) counts the backends that ran.
std::string run_differential(const uint8_t *data, size_t size, unsigned *ran = nullptr);

// The same on one backend; `ran` false if this machine does not offer it.
std::string run_differential_on(const backend_choice &b, const uint8_t *data, size_t size,
				bool &ran);

// What this process ran on each backend (all_backends() order): programs,
// operations executed, and programs that diverged from the model.
struct backend_totals {
	const char *name;
	uint64_t programs, operations, divergences;
};
std::vector<backend_totals> totals();

} // namespace kevent_diff
