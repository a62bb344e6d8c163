# SPDX-License-Identifier: MIT
# consume.sh — sourced by tests/scripts/install_consume.sh, readme_examples.sh
# and scripts/check-deb:
# build the outside consumer of this directory against an installed libkevent
# tree and run it.
#
#   consume SOURCE_DIR PREFIX WORK_DIR
#
# PREFIX is where include/kevent and the lib directory are (a --prefix of
# cmake --install, or usr/ of an unpacked .deb). Builds and runs:
#   CMake find_package(kevent CONFIG): a C-only project (kevent::kevent and
#     kevent::static), a C++-only project (no CXX_STANDARD of its own), and a
#     C+C++ project that links kevent::static;
#   pkg-config: kevent in C and C++ (kevent.hpp only), kevent-static in C.
# consume_readme (readme.sh, sourced here) builds README.md's examples.
# Each program must be linked against PREFIX's libkevent.so.0 (or libkevent.a)
# and print "ok: ...". Returns non-zero with the reason printed on the first
# failure. Needs pkg-config (the callers skip without it).

# shellcheck source=readme.sh
. "$(dirname "${BASH_SOURCE[0]}")/readme.sh"

consume_fail() {
	echo "FAIL: $*"
	return 1
}

# The libkevent.so.0 a program resolves, as ldd(1) sees it with LD_LIBRARY_PATH.
consume_resolved() {
	LD_LIBRARY_PATH="$2" ldd "$1" | awk '$1 == "libkevent.so.0" { print $3 }'
}

# consume_run PROGRAM LIBDIR SHARED(1|0)
consume_run() {
	local prog=$1 libdir=$2 shared=$3 out so
	if [ "$shared" = 1 ]; then
		readelf -d "$prog" | grep -q 'NEEDED.*\[libkevent\.so\.0\]' ||
			consume_fail "$prog does not need libkevent.so.0" || return 1
		so=$(consume_resolved "$prog" "$libdir")
		[ -n "$so" ] && [ "$(realpath "$so")" = "$(realpath "$libdir/libkevent.so.0")" ] ||
			consume_fail "$prog resolves libkevent.so.0 to '$so', not $libdir" || return 1
	else
		if readelf -d "$prog" | grep -q 'NEEDED.*libkevent'; then
			consume_fail "$prog was to link libkevent.a but needs libkevent.so"
			return 1
		fi
	fi
	out=$(LD_LIBRARY_PATH="$libdir" "$prog" 2>&1) ||
		consume_fail "$prog exited $?: $out" || return 1
	grep -q '^ok: TIMER ' <<<"$out" || consume_fail "$prog printed: $out" || return 1
	echo "    $(basename "$prog"): $out"
}

# consume_cmake SRC PREFIX LIBDIR BUILD LANGUAGES TARGETS...
consume_cmake() {
	local src=$1 prefix=$2 libdir=$3 build=$4 langs=$5
	shift 5
	echo "  CMake find_package(kevent CONFIG), languages $langs"
	if ! cmake -S "$src/tests/consumer" -B "$build" -DCMAKE_BUILD_TYPE=Release \
		-DCONSUMER_LANGUAGES="$langs" -DCMAKE_PREFIX_PATH="$prefix" \
		-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
		-DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF >"$build.log" 2>&1 ||
		! cmake --build "$build" -j2 >>"$build.log" 2>&1; then
		cat "$build.log"
		consume_fail "the CMake consumer ($langs) did not build"
		return 1
	fi
	# The package must come from PREFIX, not from anywhere else.
	local dir
	dir=$(sed -n 's/^kevent_DIR:PATH=//p' "$build/CMakeCache.txt")
	case "$(realpath "$dir")" in
	"$(realpath "$prefix")"/*) ;;
	*) consume_fail "find_package(kevent) found $dir, outside $prefix" || return 1 ;;
	esac
	local t
	for t in "$@"; do
		consume_run "$build/$t" "$libdir" "$([ "$t" = consumer_static ] && echo 0 || echo 1)" ||
			return 1
	done
}

# consume_pkgconfig SRC LIBDIR BUILD_DIR
consume_pkgconfig() {
	local src=$1 libdir=$2 dir=$3 cflags libs static_cflags static_libs
	mkdir -p "$dir"
	# Only the installed kevent.pc: neither the system's nor the build tree's.
	export PKG_CONFIG_LIBDIR="$libdir/pkgconfig" PKG_CONFIG_PATH=
	cflags=$(pkg-config --cflags kevent) && libs=$(pkg-config --libs kevent) &&
		static_cflags=$(pkg-config --cflags kevent-static) &&
		static_libs=$(pkg-config --libs kevent-static) ||
		consume_fail "pkg-config does not know kevent in $libdir/pkgconfig" || return 1
	echo "  pkg-config: cflags '$cflags', libs '$libs'"
	# shellcheck disable=SC2086 # word splitting of the flags is meant
	{
		cc -std=c11 -Wall -Wextra -Werror $cflags -o "$dir/pc_c" \
			"$src/tests/consumer/main.c" $libs &&
			c++ -std=c++20 -Wall -Wextra -Werror $cflags -o "$dir/pc_cpp" \
				"$src/tests/consumer/main.cpp" $libs &&
			cc -std=c11 -Wall -Wextra -Werror $static_cflags -o "$dir/pc_static" \
				"$src/tests/consumer/main.c" $static_libs
	} >"$dir/build.log" 2>&1 || {
		cat "$dir/build.log"
		consume_fail "the pkg-config consumer did not build"
		return 1
	}
	consume_run "$dir/pc_c" "$libdir" 1 &&
		consume_run "$dir/pc_cpp" "$libdir" 1 &&
		consume_run "$dir/pc_static" "$libdir" 0
}

consume() {
	local src=$1 prefix=$2 work=$3 libdir
	mkdir -p "$work" || return 1
	libdir=$(dirname "$(find "$prefix" -name libkevent.so.0 -print -quit)")
	[ -n "$libdir" ] && [ "$libdir" != . ] ||
		consume_fail "no libkevent.so.0 under $prefix" || return 1
	[ -f "$prefix/include/kevent/kevent.h" ] && [ -f "$prefix/include/kevent/kevent.hpp" ] ||
		consume_fail "no include/kevent/kevent.h{,pp} under $prefix" || return 1
	consume_cmake "$src" "$prefix" "$libdir" "$work/cmake-c" C consumer_c consumer_static &&
		consume_cmake "$src" "$prefix" "$libdir" "$work/cmake-cxx" CXX consumer_cpp &&
		consume_cmake "$src" "$prefix" "$libdir" "$work/cmake-both" "C;CXX" consumer_static &&
		consume_pkgconfig "$src" "$libdir" "$work/pkg-config"
}
