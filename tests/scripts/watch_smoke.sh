#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The watch example prints the names created in and removed from a directory,
# and notices the directory going away.
# Arguments: source dir, build dir.
set -euo pipefail
bin="$2/examples/watch"
[ -x "$bin" ] || { echo "skip: $bin not built"; exit 77; }
dir=$(mktemp -d)
out=$(mktemp)
trap 'rm -rf "$dir" "$out"' EXIT
"$bin" "$dir" >"$out" &
pid=$!
for _ in $(seq 50); do grep -q watching "$out" && break; sleep 0.1; done
touch "$dir/first"
rm "$dir/first"
sleep 0.3
rmdir "$dir"
# The watcher stops by itself when the directory is gone.
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then
	kill "$pid"
	echo "FAIL: watch did not notice the directory going away"
	cat "$out"
	exit 1
fi
wait "$pid"
grep -q '^created *first$' "$out" || { echo "FAIL: no 'created first'"; cat "$out"; exit 1; }
grep -q '^removed *first$' "$out" || { echo "FAIL: no 'removed first'"; cat "$out"; exit 1; }
grep -q 'is gone$' "$out" || { echo "FAIL: no 'is gone'"; cat "$out"; exit 1; }
echo "watch: ok"
