# SPDX-License-Identifier: MIT
# readme.sh — sourced by consume.sh: build README.md's examples exactly as
# the README shows them, against an installed libkevent tree, and run them.
#
#   consume_readme SOURCE_DIR PREFIX LIBDIR WORK_DIR
#
# README.md marks what it shows a user with HTML comments (invisible once
# rendered):
#   <!-- file: PATH -->   the code block below is the file PATH
#                         (app.c, app.cpp, cxx/CMakeLists.txt ...);
#   <!-- run: NAME -->    the shell block below is a list of commands, each
#                         run as is in the directory of app.c and app.cpp.
# Nothing is added to them: no -std flag, no CMake property, no extra
# library. The only help a user would also give is where the tree is
# (CMAKE_PREFIX_PATH, PKG_CONFIG_LIBDIR) and LD_LIBRARY_PATH to run.
# The programs must print what the README says they print.

# readme_block README MARK VALUE: the fenced block after "<!-- MARK: VALUE -->".
readme_block() {
	awk -v tag="<!-- $2: $3 -->" '
		$0 == tag { found = 1; next }
		found == 1 && /^```/ { found = 2; next }
		found == 2 && /^```/ { exit }
		found == 2 { print }' "$1"
}

# readme_check_run PROGRAM LIBDIR c|cxx LABEL: run the README's program the
# ways the README describes (the C one with stdin a pipe that gets data, and
# /dev/null; the C++ one needs no input) and check what it prints.
readme_check_run() {
	local prog=$1 libdir=$2 kind=$3 label=$4 out
	if [ "$kind" = cxx ]; then
		out=$(LD_LIBRARY_PATH="$libdir" timeout 10 "$prog" </dev/null 2>&1) ||
			consume_fail "$label: the C++ example exited $?: $out" || return 1
		grep -q '^delivered: TIMER .*cookie=0x1' <<<"$out" &&
			grep -q '^delivered: UNOTIFY .*cookie=0x2' <<<"$out" ||
			consume_fail "$label: the C++ example printed: $out" || return 1
	else
		# Ready at ADD or delivered later: echo may write before or after
		# the ADD, as the README says.
		out=$(echo hi | LD_LIBRARY_PATH="$libdir" timeout 10 "$prog" 2>&1) ||
			consume_fail "$label: the C example exited $?: $out" || return 1
		grep -qE '^(at ADD|delivered): cookie 1 ready' <<<"$out" ||
			consume_fail "$label: echo hi | app printed: $out" || return 1
		out=$(LD_LIBRARY_PATH="$libdir" timeout 10 "$prog" </dev/null 2>&1) ||
			consume_fail "$label: app </dev/null exited $?: $out" || return 1
		grep -q '^at ADD: cookie 1 failed: Invalid argument$' <<<"$out" &&
			grep -q '^delivered: cookie 2 ready, ret_data\[0\] = 1$' <<<"$out" ||
			consume_fail "$label: app </dev/null printed: $out" || return 1
	fi
	echo "    $label: $(head -n 1 <<<"$out") ..."
}

consume_readme() {
	local src=$1 prefix=$2 libdir=$3 work=$4 readme="$1/README.md" f dir
	rm -rf "$work" && mkdir -p "$work" || return 1
	echo "  README.md's examples, verbatim"
	for f in app.c app.cpp cxx/CMakeLists.txt c-static/CMakeLists.txt; do
		mkdir -p "$work/$(dirname "$f")"
		readme_block "$readme" file "$f" >"$work/$f"
		[ -s "$work/$f" ] || consume_fail "README.md has no '<!-- file: $f -->' block" || return 1
	done
	cp "$work/app.cpp" "$work/cxx/" && cp "$work/app.c" "$work/c-static/" || return 1

	# CMake, the README's two projects.
	for dir in cxx c-static; do
		if ! cmake -S "$work/$dir" -B "$work/$dir/build" -DCMAKE_PREFIX_PATH="$prefix" \
			-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
			-DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF >"$work/$dir.log" 2>&1 ||
			! cmake --build "$work/$dir/build" >>"$work/$dir.log" 2>&1; then
			cat "$work/$dir.log"
			consume_fail "README.md's CMake project $dir/CMakeLists.txt did not build"
			return 1
		fi
		readme_check_run "$work/$dir/build/app" "$libdir" \
			"$([ "$dir" = cxx ] && echo cxx || echo c)" "CMake $dir" || return 1
	done
	if readelf -d "$work/c-static/build/app" | grep -q 'NEEDED.*libkevent'; then
		consume_fail "c-static: kevent::static linked libkevent.so"
		return 1
	fi

	# pkg-config, the README's commands one by one.
	local cmds line n=0
	cmds=$(readme_block "$readme" run pkg-config)
	[ -n "$cmds" ] || consume_fail "README.md has no '<!-- run: pkg-config -->' block" || return 1
	while IFS= read -r line; do
		[ -n "$line" ] || continue
		n=$((n + 1))
		rm -f "$work/app"
		(cd "$work" && PKG_CONFIG_LIBDIR="$libdir/pkgconfig" PKG_CONFIG_PATH= \
			bash -c "$line") >"$work/pc$n.log" 2>&1 || {
			cat "$work/pc$n.log"
			consume_fail "README.md's command '$line' failed"
			return 1
		}
		case "$line" in
		*app.cpp*) readme_check_run "$work/app" "$libdir" cxx "$line" || return 1 ;;
		*) readme_check_run "$work/app" "$libdir" c "$line" || return 1 ;;
		esac
		case "$line" in
		*kevent-static*)
			if readelf -d "$work/app" | grep -q 'NEEDED.*libkevent'; then
				consume_fail "'$line' linked libkevent.so"
				return 1
			fi
			;;
		esac
	done <<<"$cmds"
	[ "$n" -ge 3 ] || consume_fail "README.md's pkg-config block has $n commands, not 3" || return 1
}
