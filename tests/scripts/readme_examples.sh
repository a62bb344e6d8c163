#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# readme_examples.sh SOURCE_DIR BUILD_DIR — README.md's C and C++ examples,
# its two CMake projects and its pkg-config commands, exactly as written
# (tests/consumer/readme.sh), against `cmake --install BUILD_DIR` into a
# temporary prefix: no -std flag, CXX_STANDARD or library added, so the
# C++20 requirement must travel with kevent::kevent and kevent::static must
# link from a C-only project. scripts/check-deb does the same against the
# Debian packages. Exit 77 (skipped) without pkg-config, or in a sanitizer
# build (its library needs the sanitizer runtime in every program).
set -uo pipefail
src=${1:?usage: readme_examples.sh SOURCE_DIR BUILD_DIR}
build=${2:?usage: readme_examples.sh SOURCE_DIR BUILD_DIR}
for tool in pkg-config readelf cc c++ cmake; do
	if ! command -v "$tool" >/dev/null; then
		echo "SKIP: $tool is not installed (scripts/install-deps installs it)"
		exit 77
	fi
done
if grep -q '^KEVENT_SANITIZE:STRING=..*' "$build/CMakeCache.txt" 2>/dev/null; then
	echo "SKIP: sanitizer build; the default build checks README.md's examples"
	exit 77
fi
# shellcheck source=../consumer/consume.sh
. "$src/tests/consumer/consume.sh"
work=$(mktemp -d -t kevent-readme.XXXXXX)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >"$work/install.log" 2>&1 || {
	cat "$work/install.log"
	echo "FAIL: cmake --install failed"
	exit 1
}
so=$(find "$work/prefix" -name libkevent.so.0 -print -quit)
[ -n "$so" ] || {
	echo "FAIL: no libkevent.so.0 installed"
	exit 1
}
consume_readme "$src" "$work/prefix" "$(dirname "$so")" "$work/readme" || exit 1
echo "ok: README.md's examples build as written and print what it says"
