#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Model-checks tests/ring/ring.pml (the ring of kevent_wait(3) and the
# multi-consumer protocol of kevent::ring_consumers) with spin:
#   spin -a ring.pml && cc -O2 -DSAFETY -o pan pan.c && ./pan -m100000
# in a temporary directory. Fails on "errors: N" with N > 0 or on an invalid
# end state ("pan: invalid end state (at depth ...)"; the "invalid end states +"
# line of pan's header only says the check was on). Then checks that each
# situation the model is meant to cover is reachable (-DREACH=k turns "k
# never happens" into an assertion, which pan must refute). Prints the states
# explored. Exit 77 when spin or a C compiler is missing.
#   ring_model.sh SOURCE_DIR [BUILD_DIR]
set -euo pipefail
src=${1:?usage: ring_model.sh SOURCE_DIR [BUILD_DIR]}
model="$src/tests/ring/ring.pml"

if ! command -v spin >/dev/null; then
	echo "SKIP: spin is not installed (scripts/install-deps installs the Debian package spin)"
	exit 77
fi
cc=${CC:-cc}
if ! command -v "$cc" >/dev/null; then
	echo "SKIP: no C compiler ($cc) to build pan"
	exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$model" "$tmp/ring.pml"
cd "$tmp"

# verify [spin options...]: builds and runs pan; prints its output.
verify() {
	spin "$@" -a ring.pml >spin.out 2>&1 || {
		cat spin.out
		return 2
	}
	"$cc" -O2 -w -DSAFETY -DMEMLIM=2048 -o pan pan.c
	./pan -m100000 2>&1
}

out=$(verify) || {
	echo "FAIL: spin/pan did not run"
	echo "$out"
	exit 1
}
errors=$(grep -oE 'errors: [0-9]+' <<<"$out" | awk '{print $2}' | tail -1)
states=$(grep -E 'states, stored' <<<"$out" | awk '{print $1}')
depth=$(grep -oE 'depth reached [0-9]+' <<<"$out" | awk '{print $3}')
echo "ring.pml: ${states:-?} states stored, depth ${depth:-?}, errors: ${errors:-?}"
grep -E 'transitions|elapsed time|total actual memory' <<<"$out" | sed 's/^/    /'
fail=0
if [ -z "$errors" ] || [ "$errors" -gt 0 ]; then
	echo "FAIL: pan reported errors"
	fail=1
fi
if grep -qE 'invalid end state \(|assertion violated|max search depth too small|out of memory' <<<"$out"; then
	echo "FAIL:"
	grep -E 'pan:|invalid end state \(|assertion violated|max search depth too small|out of memory' <<<"$out" | sed 's/^/    /'
	fail=1
fi
if [ "$fail" -ne 0 ]; then
	[ -f ring.pml.trail ] && spin -t -p ring.pml | tail -40
	exit 1
fi

# Each situation must be reachable, or the model proves less than it claims.
names=("" "stale old_uidx" "full ring" "whole-ring two-step commit" "wrapping commit"
	"wait blocked on a full ring" "timeout / forced wake-up")
for k in 1 2 3 4 5 6; do
	out=$(verify -DREACH=$k) || true
	if ! grep -q 'errors: 1' <<<"$out"; then
		echo "FAIL: the model never reaches: ${names[$k]}"
		fail=1
	else
		echo "    reachable: ${names[$k]}"
	fi
done
[ "$fail" -eq 0 ] && echo "ok: no assertion violation, no invalid end state"
exit "$fail"
