#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# examples_cli.sh SOURCE_DIR BUILD_DIR — every example explains itself:
#   - --help prints a usage on stdout and exits 0 at once (echo --help once
#     started listening, watch --help said "No such file");
#   - an unknown option exits 2 and names it on stderr; a bad value names the
#     value (evtest --timer banana);
#   - --backend epoll and --backend uring run the queue on that backend and
#     evtest's statistics say which; KEVENT_BACKEND=io_uring is accepted.
# Exit 77 (skipped) when the examples are not built.
set -uo pipefail
src=${1:?usage: examples_cli.sh SOURCE_DIR BUILD_DIR}
build=${2:?usage: examples_cli.sh SOURCE_DIR BUILD_DIR}
ex="$build/examples"
names=$(find "$src/examples" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort)
for n in $names; do
	if [ ! -x "$ex/$n" ]; then
		echo "SKIP: $ex/$n is not built (KEVENT_BUILD_EXAMPLES=OFF?)"
		exit 77
	fi
done
fail=0
bad() {
	echo "FAIL: $*"
	fail=1
}
tmp=$(mktemp -d -t kevent-examples.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# run NAME ARGS...: sets rc, out (stdout), err (stderr); 10 s at most.
run() {
	local n=$1
	shift
	timeout 10 "$ex/$n" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}

for n in $names; do
	run "$n" --help
	[ "$rc" -eq 0 ] && grep -q "^usage: $n" <<<"$out" || bad "$n --help: exit $rc, stdout: $out $err"
	run "$n" --no-such-option
	[ "$rc" -eq 2 ] && grep -q "^$n: .*'--no-such-option'" <<<"$err" && grep -q '^usage:' <<<"$err" ||
		bad "$n --no-such-option: exit $rc, stderr: $err"
	[ "$n" = evload ] && continue # plain epoll on purpose: no backend
	run "$n" --backend banana
	[ "$rc" -eq 2 ] && grep -q "unknown backend 'banana'" <<<"$err" ||
		bad "$n --backend banana: exit $rc, stderr: $err"
	grep -q -- '--backend' <<<"$(run "$n" --help && echo "$out")" || bad "$n --help does not mention --backend"
done

run evtest --timer banana
[ "$rc" -eq 2 ] && grep -q "^evtest: --timer: 'banana' is not an interval" <<<"$err" ||
	bad "evtest --timer banana: exit $rc, stderr: $err"
run evload -p 0
[ "$rc" -eq 2 ] && grep -q "'0' is not a number from 1 to 65535" <<<"$err" || bad "evload -p 0: exit $rc, stderr: $err"
run echo 99999
[ "$rc" -eq 2 ] && grep -q "'99999' is not a number" <<<"$err" || bad "echo 99999: exit $rc, stderr: $err"

# Each backend, chosen by option and by KEVENT_BACKEND (io_uring spelled
# the kernel's way too). io_uring may be unavailable here: then it must be
# refused with ENOSYS's message, not run on epoll.
for b in epoll uring; do
	run evtest --backend "$b" --timer 1ms --count 2 --stats
	if [ "$b" = uring ] && [ "$rc" -ne 0 ] && grep -q 'Function not implemented' <<<"$err"; then
		echo "note: io_uring is unavailable here; --backend uring is refused with ENOSYS"
		continue
	fi
	[ "$rc" -eq 0 ] && grep -q "^stats: backend=$b " <<<"$out" || bad "evtest --backend $b: exit $rc: $out $err"
	if [ "$b" = uring ]; then
		out=$(KEVENT_BACKEND=io_uring timeout 10 "$ex/evtest" --timer 1ms --count 1 --stats 2>&1)
		grep -q '^stats: backend=uring ' <<<"$out" || bad "KEVENT_BACKEND=io_uring evtest: $out"
	fi
	run ring_buffer --backend "$b" --count 3
	[ "$rc" -eq 0 ] || bad "ring_buffer --backend $b: exit $rc: $err"
	run ring_watch --backend "$b" --count 3
	[ "$rc" -eq 0 ] && grep -q '^watcher: as intended' <<<"$out" || bad "ring_watch --backend $b: exit $rc: $out $err"
done

[ "$fail" -eq 0 ] && echo "ok: $(wc -w <<<"$names") examples: --help, bad arguments, --backend"
exit "$fail"
