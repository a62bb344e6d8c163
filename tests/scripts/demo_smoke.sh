#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# demo_smoke.sh SOURCE_DIR BUILD_DIR — evserver answers evload for 1 s with
# no failed request, then exits 0 on SIGTERM with its statistics printed.
# Exit 77 (skipped) when the examples are not built.
set -u
src=${1:?usage: demo_smoke.sh SOURCE_DIR BUILD_DIR}
build=${2:?usage: demo_smoke.sh SOURCE_DIR BUILD_DIR}
: "$src"

server="$build/examples/evserver"
load="$build/examples/evload"
for p in "$server" "$load"; do
	if [ ! -x "$p" ]; then
		echo "skipped: $p is not built (KEVENT_BUILD_EXAMPLES=OFF?)"
		exit 77
	fi
done

fail() { echo "demo_smoke: FAIL: $*"; ls -la "$slog" "$llog"; echo "--- server log:"; cat "$slog"; echo "--- load log:"; cat "$llog"; exit 1; }

slog=$(mktemp -t smoke-server.XXXXXX)
llog=$(mktemp -t smoke-load.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -f "$slog" "$llog"' EXIT

"$server" --port 0 --stats >"$slog" 2>&1 &
pid=$!
port=
for _ in $(seq 1 100); do
	port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$slog")
	[ -n "$port" ] && break
	kill -0 "$pid" 2>/dev/null || fail "evserver exited during start-up"
	sleep 0.05
done
[ -n "$port" ] || fail "evserver did not print 'listening on 127.0.0.1:PORT'"

"$load" -c 8 -d 1 -n 200000 -p "$port" >"$llog" 2>&1
load_rc=$?

kill -TERM "$pid" || fail "evserver died during the load"
# Poll for the exit (a zombie still answers kill -0, so read its state), then
# reap it. No watchdog subshell: one killed before it reset the EXIT trap
# would run it and delete the logs under us.
exited=
for _ in $(seq 1 100); do
	state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo gone)
	if [ "$state" = Z ] || [ "$state" = gone ]; then
		exited=1
		break
	fi
	sleep 0.05
done
[ -n "$exited" ] || fail "evserver did not exit within 5 s of SIGTERM"
wait "$pid"
server_rc=$?
pid=

[ "$load_rc" -eq 0 ] || fail "evload exited $load_rc"
ok=$(sed -n 's/^requests: \([0-9][0-9]*\) ok.*/\1/p' "$llog")
[ -n "$ok" ] && [ "$ok" -gt 0 ] || fail "no successful request"
grep -q '^requests/s: ' "$llog" || fail "evload printed no rate"
grep -q '^latency: p50=' "$llog" || fail "evload printed no percentiles"
[ "$server_rc" -eq 0 ] || fail "evserver exited $server_rc"
served=$(sed -n 's/.* requests=\([0-9][0-9]*\) .*/\1/p' "$slog")
[ -n "$served" ] && [ "$served" -ge "$ok" ] || fail "server counted $served requests, client $ok"
grep -q '^kevent stats: ' "$slog" || fail "evserver printed no kevent statistics"
echo "demo_smoke: $ok requests in 1 s; server exited 0"
cat "$llog"
