#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# spdx.sh SOURCE_DIR BUILD_DIR — every tracked source file under the paths of
# scripts/spdx.scope starts with its SPDX-License-Identifier line (the
# project is MIT-licensed: LICENSE). scripts/spdx adds missing lines.
# Exit 77 (skipped) outside a git checkout, where "tracked" means nothing.
set -uo pipefail
src=${1:?usage: spdx.sh SOURCE_DIR BUILD_DIR}
cd "$src" || exit 1
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	echo "SKIP: $src is not a git checkout"
	exit 77
fi
[ -f LICENSE ] && grep -q '^MIT License$' LICENSE || {
	echo "FAIL: no MIT LICENSE file"
	exit 1
}
mapfile -t scope < <(grep -v -e '^#' -e '^[[:space:]]*$' scripts/spdx.scope)
[ ${#scope[@]} -gt 0 ] || {
	echo "FAIL: scripts/spdx.scope names no path"
	exit 1
}
n=$(scripts/spdx --list "${scope[@]}" | wc -l)
[ "$n" -gt 0 ] || {
	echo "FAIL: scripts/spdx finds no source file under ${scope[*]}"
	exit 1
}
scripts/spdx --check "${scope[@]}" || exit 1
echo "ok: $n source files under ${scope[*]} carry SPDX-License-Identifier: MIT"
