#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every kevent_* function exported by libkevent.so has man/man3/<name>.3,
# every page under man/ lints without a warning (mandoc -T lint -W warning,
# or groff -man -ww -z when mandoc is missing), and every kevent page a page
# refers to exists.
#   man_pages.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=${1:?usage: man_pages.sh SOURCE_DIR BUILD_DIR}
build=${2:?usage: man_pages.sh SOURCE_DIR BUILD_DIR}
man="$src/man"
fail=0

if command -v mandoc >/dev/null; then
	lint() { mandoc -T lint -W warning "$1" 2>&1; }
elif command -v groff >/dev/null; then
	lint() { groff -t -man -ww -z "$1" 2>&1; }
else
	echo "SKIP: neither mandoc nor groff is installed (scripts/install-deps installs mandoc)"
	exit 77
fi
if ! command -v nm >/dev/null; then
	echo "SKIP: nm (binutils) is not installed"
	exit 77
fi

lib=$(find "$build" -name libkevent.so \( -type f -o -type l \) -print -quit)
if [ -z "$lib" ]; then
	echo "FAIL: no libkevent.so under $build"
	exit 1
fi

# 1. One page per exported call.
syms=$(nm -D --defined-only "$lib" | awk '
	NF >= 3 && $2 != "A" { name = $3; sub(/@.*/, "", name); print name }' |
	grep '^kevent_' | sort -u || true)
for s in $syms; do
	if [ ! -f "$man/man3/$s.3" ]; then
		echo "FAIL: $s is exported by $lib but man/man3/$s.3 does not exist"
		fail=1
	fi
done

# 2. Lint every page.
shopt -s nullglob
pages=("$man"/man3/*.3 "$man"/man7/*.7)
if [ ${#pages[@]} -eq 0 ]; then
	echo "FAIL: no man pages under $man"
	exit 1
fi
for p in "${pages[@]}"; do
	out=$(lint "$p") || true
	if [ -n "$out" ]; then
		echo "FAIL: ${p#"$src"/}:"
		sed 's/^/    /' <<<"$out"
		fail=1
	fi
done

# 3. Cross references to kevent pages: ".BR kevent_foo (3)" must exist.
for p in "${pages[@]}"; do
	refs=$(grep -oE '^\.BR? kevent[_a-z0-9]* \([37]\)' "$p" |
		sed -E 's/^\.BR? ([^ ]+) \(([37])\)/\1.\2/' | sort -u || true)
	for r in $refs; do
		if [ ! -f "$man/man${r##*.}/$r" ]; then
			echo "FAIL: ${p#"$src"/} refers to $r, which does not exist"
			fail=1
		fi
	done
done

[ "$fail" -eq 0 ] && echo "ok: ${#pages[@]} pages, $(wc -w <<<"$syms") exported calls documented"
exit "$fail"
