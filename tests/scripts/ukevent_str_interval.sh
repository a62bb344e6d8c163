#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ukevent_str_interval.sh SOURCE_DIR BUILD_DIR — kevent_ukevent_str(3) prints
# a TIMER whose id.raw[1] is 1000000000 or more (an interval ADD refuses) as
# invalid, "interval=0s+1000000000ns(invalid)", never as the valid-looking
# "interval=0.1000000000s" it once printed; a valid one stays S.NNNNNNNNNs.
# Exit 77 (skipped) without a C compiler.
set -uo pipefail
src=${1:?usage: ukevent_str_interval.sh SOURCE_DIR BUILD_DIR}
build=${2:?usage: ukevent_str_interval.sh SOURCE_DIR BUILD_DIR}
command -v cc >/dev/null || {
	echo "SKIP: no cc"
	exit 77
}
lib=$(find "$build/src" -name libkevent.so -print -quit)
[ -n "$lib" ] || {
	echo "FAIL: no libkevent.so under $build/src"
	exit 1
}
tmp=$(mktemp -d -t kevent-str.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/t.c" <<'C'
#include <kevent/kevent.h>
#include <stdio.h>
#include <string.h>
int main(void) {
	struct ukevent uk;
	char line[256];
	memset(&uk, 0, sizeof uk);
	uk.type = KEVENT_TIMER;
	uk.event = KEVENT_TIMER_FIRED;
	uk.id.raw[1] = 1000000000u;
	kevent_ukevent_str(&uk, line, sizeof line);
	puts(line);
	uk.id.raw[0] = 2;
	uk.id.raw[1] = 999999999u;
	kevent_ukevent_str(&uk, line, sizeof line);
	puts(line);
	return 0;
}
C
# The sanitizer builds' library needs its runtime: link the way it was built.
flags=$(sed -n 's/^KEVENT_SANITIZE:STRING=\(..*\)/-fsanitize=\1/p' "$build/CMakeCache.txt" 2>/dev/null)
[ "$flags" = "-fsanitize=address" ] && flags="-fsanitize=address,undefined"
# shellcheck disable=SC2086
cc -std=c11 $flags -I"$src/include" -o "$tmp/t" "$tmp/t.c" "$lib" -Wl,-rpath,"$(dirname "$lib")" ||
	exit 1
out=$("$tmp/t") || {
	echo "FAIL: the program exited $?: $out"
	exit 1
}
first=$(sed -n 1p <<<"$out")
second=$(sed -n 2p <<<"$out")
case "$first" in
"TIMER interval=0s+1000000000ns(invalid) FIRED "*) ;;
*)
	echo "FAIL: raw[1] = 1000000000 printed as: $first"
	exit 1
	;;
esac
case "$second" in
"TIMER interval=2.999999999s FIRED "*) ;;
*)
	echo "FAIL: a valid interval printed as: $second"
	exit 1
	;;
esac
echo "ok: $first"
