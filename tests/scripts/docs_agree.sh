#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# docs_agree.sh SOURCE_DIR BUILD_DIR — the user documentation agrees with
# what ships:
#   1. every kevent page named NAME(N) in a man page, README.md,
#      CONTRIBUTING.md, docs/*.md, the public headers or the examples is a
#      page under man/ (kevent.h once pointed at a kevent_aio(3) that never
#      existed);
#   2. no user document says a feature is "planned" or its pages are "being
#      written": what ships is described as shipped, what does not is not
#      promised;
#   3. README's Documentation section and the SEE ALSO of kevent(7) name every
#      shipped page;
#   4. README's Layout names every directory of src/ and every example, and
#      its Examples table has a row for every example;
#   5. every Markdown table in README.md and docs/ is one block with its
#      header separator (a blank line inside a table splits it and the rest
#      renders as text).
set -uo pipefail
src=${1:?usage: docs_agree.sh SOURCE_DIR BUILD_DIR}
cd "$src" || exit 1
fail=0
bad() {
	echo "FAIL: $*"
	fail=1
}

shopt -s nullglob
pages=(man/man3/*.3 man/man7/*.7)                       # symlinks included
real_pages=()                                           # the pages themselves
for p in "${pages[@]}"; do [ -L "$p" ] || real_pages+=("$p"); done
[ ${#real_pages[@]} -gt 0 ] || {
	echo "FAIL: no man pages under man/"
	exit 1
}
shipped() { [ -e "man/man$2/$1.$2" ]; }
md_docs=(README.md CONTRIBUTING.md docs/*.md)
headers=(include/kevent/*.h include/kevent/*.hpp)
mapfile -t example_files < <(find examples -type f \( -name '*.c' -o -name '*.cpp' -o -name '*.hpp' -o -name '*.h' \) | sort)

# Text of FILE with roff font escapes and macro names removed, so that
# ".BR kevent_ctl (3)" and "\fBkevent_ctl\fP(3)" read "kevent_ctl (3)".
plain() {
	case "$1" in
	*.[37]) sed -E 's/\\f[BIRP]//g; s/^\.[A-Z]{1,2} //' "$1" ;;
	*) cat "$1" ;;
	esac
}

# 1. references to kevent pages
for f in "${pages[@]}" "${md_docs[@]}" "${headers[@]}" "${example_files[@]}"; do
	[ -L "$f" ] && continue
	while read -r ref; do
		[ -n "$ref" ] || continue
		name=${ref%%(*}
		name=${name%% *}
		sec=${ref##*(}
		sec=${sec%)}
		shipped "$name" "$sec" || bad "$f refers to $name($sec), which man/ does not ship"
	done < <(plain "$f" | grep -oE '\bkevent[a-z0-9_]* ?\([1-8]\)' | sort -u)
done

# 2. promises
for f in "${real_pages[@]}" "${md_docs[@]}" "${headers[@]}"; do
	plain "$f" | grep -niE '\bplanned\b|being written' | sed "s|^|FAIL: $f:|" | grep . && fail=1
done

# 3. every page named in README's Documentation section and in kevent(7)'s SEE ALSO
readme_docs=$(sed -n '/^## Documentation/,/^## /p' README.md)
see_also=$(plain man/man7/kevent.7 | sed -n '/^\(\.SH \)\{0,1\}SEE ALSO/,$p')
for p in "${real_pages[@]}"; do
	base=${p##*/}
	ref="${base%.*}(${base##*.})"
	grep -qF "$ref" <<<"$readme_docs" || bad "README.md's Documentation section does not name $ref"
	[ "$p" = man/man7/kevent.7 ] && continue
	grep -qF "${base%.*} (${base##*.})" <<<"$see_also" || bad "kevent(7) SEE ALSO does not name $ref"
done

# 4. README's Layout and Examples
layout=$(sed -n '/^## Layout/,/^## /p' README.md)
examples_md=$(sed -n '/^## Examples/,/^## /p' README.md)
while read -r d; do
	grep -qF "$d/" <<<"$layout" || bad "README.md's Layout does not name $d/"
done < <(find src -mindepth 1 -type d | sort)
for d in examples/*/; do
	name=$(basename "$d")
	grep -qw "$name" <<<"$layout" || bad "README.md's Layout does not name the example $name"
	grep -qE "^\| \`$name\` \|" <<<"$examples_md" || bad "README.md's Examples table has no row for $name"
done

# 5. Markdown tables: each block of '|' lines starts with a header and its separator
for f in "${md_docs[@]}"; do
	awk -v f="$f" '
		/^```/ { code = !code }
		code { next }
		/^\|/ { if (++n == 2 && $0 !~ /^\|[-:| ]+\|$/) lone(NR - 1); next }
		{ if (n == 1) lone(NR - 1); n = 0 }
		END { if (n == 1) lone(NR); exit bad }
		function lone(line) {
			printf "FAIL: %s:%d: a table row without a header (a blank line inside a table?)\n", f, line
			bad = 1
		}' "$f" || fail=1
done

[ "$fail" -eq 0 ] && echo "ok: ${#real_pages[@]} pages; references, promises, README's lists and tables agree with what ships"
exit "$fail"
