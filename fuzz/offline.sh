#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# offline.sh BUILD_DIR [OPERATIONS] [BACKEND] — the long differential run:
# fuzz the model against one backend (default uring; "epoll", or "" for
# both) until OPERATIONS operations (default 10 million) have run, then
# print the executions, operations and divergences of the whole run.
#
# The fuzzer runs in chunks of ten minutes (FUZZ_CHUNK_SECONDS), each
# printing its totals at exit; the corpus carries over in
# BUILD_DIR/corpus/differential. The last chunk may overshoot OPERATIONS.
# A divergence does not stop the run (KEVENT_DIFF_KEEP_GOING): it is
# counted, and the first inputs of each kind are kept in
# BUILD_DIR/divergences/ for
# `KEVENT_DIFF_TRACE=1 KEVENT_DIFF_BACKEND=... differential_fuzzer FILE`
# and -minimize_crash. A crash of another kind (ASan, a leak, a timeout)
# stops it. Exit status 0 only with no divergence and no crash.
set -euo pipefail
build=${1:?usage: offline.sh BUILD_DIR [OPERATIONS] [BACKEND]}
want=${2:-10000000}
backend=${3-uring}
src=$(cd "$(dirname "$0")" && pwd)
bin=$build/fuzz/differential_fuzzer
work=$build/corpus/differential
keep=$build/divergences/${backend:-all}
art=$build/artifacts/offline-${backend:-all}
mkdir -p "$work" "$keep" "$art"

execs=0 ops=0 divs=0 chunk=0 status=0
while [ "$ops" -lt "$want" ]; do
	chunk=$((chunk + 1))
	log=$build/offline-${backend:-all}-$chunk.log
	if ! KEVENT_DIFF_BACKEND=$backend KEVENT_DIFF_KEEP_GOING=$keep "$bin" -max_total_time="${FUZZ_CHUNK_SECONDS:-600}" \
		-timeout=10 -rss_limit_mb=2048 -max_len=600 -artifact_prefix="$art/" \
		"$work" "$src/corpus/differential" >"$log" 2>&1; then
		echo "offline: chunk $chunk crashed (log: $log)" >&2
		grep -E 'ERROR|SUMMARY|Test unit written' "$log" >&2 || tail -30 "$log" >&2
		status=1
	fi
	# "differential totals: NAME executions E operations O divergences D"
	while read -r _ _ _ _ e _ o _ d; do
		execs=$((execs + e)) ops=$((ops + o)) divs=$((divs + d))
	done < <(grep '^differential totals:' "$log")
	echo "offline: after chunk $chunk: executions $execs operations $ops divergences $divs"
	[ $status -eq 0 ] || break
done
echo "offline: ${backend:-epoll+uring}: executions $execs operations $ops divergences $divs" \
	"(inputs kept in $keep)"
[ "$divs" -eq 0 ] && exit $status
exit 1
