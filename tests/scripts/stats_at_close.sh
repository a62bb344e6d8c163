#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# stats_at_close.sh SOURCE_DIR BUILD_DIR — KEVENT_STATS_AT_CLOSE=1 makes
# kevent_close print the queue's statistics to stderr, one key=value line
# (kevent_close(3)); unset, empty or 0, nothing is printed. Driven through
# the evtest example: a periodic 1 ms timer, 3 events, then exit (kevent_close
# with the timer still registered).
# Exit 77 (skipped) when the examples are not built.
set -uo pipefail
build=${2:?usage: stats_at_close.sh SOURCE_DIR BUILD_DIR}
evtest="$build/examples/evtest"
if [ ! -x "$evtest" ]; then
	echo "SKIP: $evtest is not built (KEVENT_BUILD_EXAMPLES=OFF?)"
	exit 77
fi
fail() {
	echo "FAIL: $*"
	exit 1
}

run() { # VALUE-or-"unset" -> evtest's stderr
	if [ "$1" = unset ]; then
		env -u KEVENT_STATS_AT_CLOSE "$evtest" --timer 1ms --count 3 2>&1 >/dev/null
	else
		KEVENT_STATS_AT_CLOSE=$1 "$evtest" --timer 1ms --count 3 2>&1 >/dev/null
	fi
}

err=$(run 1) || fail "evtest exited $?: $err"
line=$(grep '^kevent stats at close: ' <<<"$err") || fail "no statistics line on stderr: '$err'"
[ "$(wc -l <<<"$line")" -eq 1 ] || fail "more than one line: $line"
echo "$line"
# key=value pairs only, after the prefix.
rest=${line#kevent stats at close: }
for kv in $rest; do
	[[ "$kv" =~ ^[a-z_.]+=[a-z0-9]+$ ]] || fail "'$kv' is not key=value"
done
val() { sed -n "s/.* $1=\\([^ ]*\\).*/\\1/p" <<<" $rest"; }
[[ "$(val kfd)" =~ ^[0-9]+$ ]] || fail "no kfd"
# AUTO: epoll (KEVENT_BACKEND may say otherwise).
[[ "$(val backend)" =~ ^(epoll|uring)$ ]] || fail "backend=$(val backend)"
[ "$(val registered)" = 1 ] || fail "registered=$(val registered), the periodic timer is still there"
[ "$(val registered.timer)" = 1 ] || fail "registered.timer=$(val registered.timer)"
[ "$(val added)" = 1 ] || fail "added=$(val added)"
[ "$(val delivered)" -ge 3 ] || fail "delivered=$(val delivered), evtest took 3 events"
for k in ready inflight_io removed broken wakeups backend_calls; do
	[[ "$(val $k)" =~ ^[0-9]+$ ]] || fail "no $k"
done

for v in unset "" 0; do
	err=$(run "$v") || fail "evtest exited $? with KEVENT_STATS_AT_CLOSE=$v: $err"
	! grep -q 'kevent stats at close' <<<"$err" ||
		fail "statistics printed with KEVENT_STATS_AT_CLOSE '$v'"
done
echo "ok: one key=value line with KEVENT_STATS_AT_CLOSE=1; none when unset, empty or 0"
