#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run.sh BUILD_DIR [SECONDS] — run every libFuzzer run for SECONDS (default
# 60) each, one after the other (the machine has two cores, shared): the
# differential target once per backend (KEVENT_DIFF_BACKEND=epoll, then
# uring: each run spends its minute on one backend), then the ABI target.
#
# Each run starts from the committed seeds (fuzz/corpus/<target>) and writes
# what it finds to BUILD_DIR/corpus/<target>, so the tree is not touched;
# crashes go to BUILD_DIR/artifacts/<target>[-<backend>]/. A crash, a leak, a
# timeout (a call that blocked) or a model difference fails the run; the
# lines that say how many executions (and, differential, operations) each
# run made are printed.
set -euo pipefail
build=${1:?usage: run.sh BUILD_DIR [SECONDS]}
seconds=${2:-60}
src=$(cd "$(dirname "$0")" && pwd)

status=0
for run in differential:epoll differential:uring abi; do
	target=${run%%:*}
	backend=${run#*:}
	[ "$backend" = "$run" ] && backend=
	name=$target${backend:+-$backend}
	bin=$build/fuzz/${target}_fuzzer
	work=$build/corpus/$target
	art=$build/artifacts/$name
	mkdir -p "$work" "$art"
	log=$build/$name.log
	echo "fuzz: $name for ${seconds}s (log: $log)"
	# -timeout: no single input may take 10 s (nothing here may block);
	# -rss_limit_mb: a ring or a batch that grows without bound is a bug;
	# -max_len: room for 64 operations (an entry takes 6 bytes).
	if ! KEVENT_DIFF_BACKEND=$backend "$bin" -max_total_time="$seconds" -timeout=10 \
		-rss_limit_mb=2048 -max_len=600 -print_final_stats=1 -artifact_prefix="$art/" \
		"$work" "$src/corpus/$target" >"$log" 2>&1; then
		status=1
		echo "fuzz: $name FAILED" >&2
		grep -E '^(differential|abi):|ERROR|SUMMARY|Test unit written' "$log" >&2 || tail -30 "$log" >&2
	fi
	grep -E '^stat::number_of_executed_units|^stat::new_units_added|^differential totals' "$log" |
		sed "s/^/fuzz: $name /" || true
	echo "fuzz: $name corpus: $(ls "$work" | wc -l) inputs"
done
exit $status
