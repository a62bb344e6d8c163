#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# demo.sh BUILD_DIR [SECONDS] — run evserver on 127.0.0.1 (ephemeral port),
# drive it for SECONDS (default 5) with 100 keep-alive connections — wrk
# -t1 -c100 if installed, else evload -c 100 — and print requests/s, latency
# percentiles and the server's kevent statistics. The server is stopped with
# SIGTERM and must exit 0. Exits non-zero if any step failed.
set -u

build=${1:?usage: demo.sh BUILD_DIR [SECONDS]}
secs=${2:-5}
conns=100

fail() { echo "demo: FAILED: $*" >&2; exit 1; }

find_prog() { # the built example, wherever the generator put it
	local p="$build/examples/$1"
	[ -x "$p" ] && { echo "$p"; return; }
	find "$build" -type f -name "$1" -perm -u+x 2>/dev/null | head -n 1
}

server=$(find_prog evserver)
[ -n "$server" ] || fail "no evserver under $build (build it first: cmake --build $build --target evserver evload)"

log=$(mktemp -t evserver.XXXXXX)
pid=
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null; fi
	rm -f "$log"
}
trap cleanup EXIT

"$server" --port 0 --stats >"$log" 2>&1 &
pid=$!

port=
for _ in $(seq 1 100); do
	port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$log")
	[ -n "$port" ] && break
	kill -0 "$pid" 2>/dev/null || { cat "$log"; fail "evserver exited during start-up"; }
	sleep 0.05
done
[ -n "$port" ] || { cat "$log"; fail "evserver did not report its port"; }
echo "demo: evserver (pid $pid) listening on 127.0.0.1:$port"

load_rc=0
if command -v wrk >/dev/null 2>&1; then
	echo "demo: wrk -t1 -c$conns -d${secs}s --latency http://127.0.0.1:$port/"
	out=$(wrk -t1 -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:$port/" 2>&1) || load_rc=$?
	echo "$out"
	if ! echo "$out" | grep -q '^Requests/sec:'; then
		echo "demo: wrk printed no rate" >&2
		load_rc=1
	fi
	if echo "$out" | grep -q 'Non-2xx\|Socket errors'; then
		echo "demo: wrk reports errors" >&2
		load_rc=1
	fi
else
	load=$(find_prog evload)
	[ -n "$load" ] || fail "neither wrk nor evload found"
	echo "demo: wrk not installed; evload -c $conns -d $secs -p $port"
	"$load" -c "$conns" -d "$secs" -p "$port" || load_rc=$?
fi

kill -TERM "$pid" 2>/dev/null || fail "evserver died during the load"
# Poll for the exit (a zombie still answers kill -0, so read its state), then
# reap it. No watchdog subshell: one killed before it reset the EXIT trap
# would run cleanup and delete the log under us.
exited=
for _ in $(seq 1 100); do
	state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo gone)
	if [ "$state" = Z ] || [ "$state" = gone ]; then
		exited=1
		break
	fi
	sleep 0.05
done
if [ -z "$exited" ]; then
	cat "$log"
	fail "evserver did not stop within 5 s of SIGTERM"
fi
wait "$pid"
server_rc=$?
pid=
echo "demo: server output:"
sed 's/^/    /' "$log"

[ "$load_rc" -eq 0 ] || fail "load generator exited $load_rc"
[ "$server_rc" -eq 0 ] || fail "evserver exited $server_rc"
grep -q '^kevent stats:' "$log" || fail "evserver printed no statistics"
echo "demo: OK"
