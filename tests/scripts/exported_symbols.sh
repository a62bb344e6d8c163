#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# libkevent.so exports kevent_* and nothing else (README.md "Linking": the
# version script src/kevent.map and -fvisibility=hidden). The version node
# itself (KEVENT_0, an absolute symbol) is not a symbol anyone can call and is
# ignored.
#   exported_symbols.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
build=${2:?usage: exported_symbols.sh SOURCE_DIR BUILD_DIR}

if ! command -v nm >/dev/null; then
	echo "SKIP: nm (binutils) is not installed"
	exit 77
fi
lib=$(find "$build" -name libkevent.so \( -type f -o -type l \) -print -quit)
if [ -z "$lib" ]; then
	echo "FAIL: no libkevent.so under $build"
	exit 1
fi

# nm prints "ADDRESS TYPE NAME[@@VERSION]"; version nodes have type A.
syms=$(nm -D --defined-only "$lib" | awk '
	NF >= 3 && !($2 == "A" && $3 ~ /^(KEVENT|GLIBC)_[0-9A-Za-z_.]*$/) {
		name = $3; sub(/@.*/, "", name); print name
	}' | sort -u)
if [ -z "$syms" ]; then
	echo "FAIL: $lib exports nothing"
	exit 1
fi
# sigaction, signal and bsd_signal: the signal chain (src/origin/
# signal_chain.cpp, kevent_signal(7)), in the C library's version node.
bad=$(grep -v '^kevent_' <<<"$syms" | grep -vxE 'sigaction|signal|bsd_signal' || true)
if [ -n "$bad" ]; then
	echo "FAIL: $lib exports symbols outside kevent_*:"
	sed 's/^/    /' <<<"$bad"
	exit 1
fi
echo "ok: $lib exports $(wc -l <<<"$syms") symbols, kevent_* and the signal chain"
