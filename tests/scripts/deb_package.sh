#!/usr/bin/env bash
# deb_package.sh SOURCE_DIR BUILD_DIR — `cpack -G DEB` makes a Debian package
# that installs and is consumable:
#   - the package is libkevent-dev, version = the project's, Depends: libc6,
#     libstdc++6 (and libgcc-s1) at versions that cover the symbol versions the
#     packed libkevent.so.0 needs, contents under /usr (headers, libraries,
#     CMake package, kevent.pc, man pages);
#   - unpacked with dpkg-deb -x into a temporary root (dpkg -i would change
#     the machine), the outside consumer of tests/consumer builds against it
#     with CMake and pkg-config, C and C++, and runs.
# Exit 77 (skipped) with the reason when cpack, dpkg-deb or pkg-config is
# missing.
set -uo pipefail
src=${1:?usage: deb_package.sh SOURCE_DIR BUILD_DIR}
build=${2:?usage: deb_package.sh SOURCE_DIR BUILD_DIR}

for tool in cpack dpkg-deb pkg-config readelf objdump cc c++ ldd; do
	if ! command -v "$tool" >/dev/null; then
		echo "SKIP: $tool is not installed (scripts/install-deps installs it)"
		exit 77
	fi
done
# A sanitizer build's library needs the sanitizer runtime loaded first in
# every program that uses it: an outside consumer is checked in the default
# build instead.
if grep -q '^KEVENT_SANITIZE:STRING=..*' "$build/CMakeCache.txt" 2>/dev/null; then
	echo "SKIP: sanitizer build ($(sed -n 's/^KEVENT_SANITIZE:STRING=//p' "$build/CMakeCache.txt")); the default build checks the outside consumer"
	exit 77
fi
if [ ! -f "$build/CPackConfig.cmake" ]; then
	echo "FAIL: no $build/CPackConfig.cmake (cmake/package.cmake not included?)"
	exit 1
fi
# shellcheck source=../consumer/consume.sh
. "$src/tests/consumer/consume.sh"

work=$(mktemp -d -t kevent-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() {
	echo "FAIL: $*"
	exit 1
}

# The package is made from a staged `cmake --install` of the build: cpack's
# own install step would first build target "all" in the build directory (its
# preinstall step), which must not happen under a running test suite. The
# staged tree is what that step installs, and the rest of CPackConfig.cmake
# (name, version, Depends ...) is used as is. `make deb` runs the plain
# `cpack -G DEB`. -B keeps the package and cpack's staging out of the build.
pkg_prefix=$(sed -n 's/^set(CPACK_PACKAGING_INSTALL_PREFIX "\(.*\)")$/\1/p' \
	"$build/CPackConfig.cmake")
pkg_prefix=${pkg_prefix:-/usr}
echo "cmake --install $build --prefix $work/stage"
cmake --install "$build" --prefix "$work/stage" >"$work/install.log" 2>&1 || {
	cat "$work/install.log"
	fail "cmake --install failed"
}
echo "cpack -G DEB --config $build/CPackConfig.cmake -B $work/cpack"
(cd "$build" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/cpack" \
	-D CPACK_INSTALL_CMAKE_PROJECTS= \
	-D "CPACK_INSTALLED_DIRECTORIES=$work/stage;${pkg_prefix#/}") >"$work/cpack.log" 2>&1 || {
	cat "$work/cpack.log"
	fail "cpack -G DEB failed"
}
deb=$(find "$work/cpack" -maxdepth 1 -name '*.deb' -print -quit)
[ -n "$deb" ] || fail "cpack made no .deb: $(cat "$work/cpack.log")"
echo "ok: $(basename "$deb")"

# ---- control fields -----------------------------------------------------------
field() { dpkg-deb -f "$deb" "$1"; }
version=$(sed -n 's/^project(kevent VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
[ "$(field Package)" = libkevent-dev ] || fail "Package is '$(field Package)'"
[ "$(field Version)" = "$version" ] || fail "Version is '$(field Version)', project $version"
[ -n "$(field Maintainer)" ] || fail "no Maintainer"
[ -n "$(field Description)" ] || fail "no Description"
depends=$(field Depends)
echo "    Depends: $depends"

# Every version the library needs must be covered by Depends: GLIBC_x.y by
# libc6 (>= x.y), GLIBCXX_3.4.N by libstdc++6 (>= the GCC of that N).
dep_version() { # package -> the version in "package (>= V)", or empty
	sed -n "s/.*\\b$1 (>= \\([^)]*\\)).*/\\1/p" <<<"$depends"
}
grep -qE '(^|, )libc6( |,|$)' <<<"$depends" || fail "Depends lacks libc6"
grep -qE '(^|, )libstdc\+\+6( |,|$)' <<<"$depends" || fail "Depends lacks libstdc++6"

root="$work/root"
dpkg-deb -x "$deb" "$root" || fail "dpkg-deb -x failed"
so=$(find "$root" -name libkevent.so.0 -print -quit)
[ -n "$so" ] || fail "the package holds no libkevent.so.0"
case "$so" in "$root$pkg_prefix/"*) ;; *) fail "libkevent.so.0 is not under $pkg_prefix: ${so#"$root"}" ;; esac
need_glibc=$(objdump -T "$so" | grep -oE 'GLIBC_[0-9.]+' | sed 's/GLIBC_//' | sort -uV | tail -1)
have_glibc=$(dep_version libc6)
if [ -n "$need_glibc" ]; then
	[ -n "$have_glibc" ] || fail "libkevent.so.0 needs GLIBC_$need_glibc; Depends has no libc6 version"
	[ "$(printf '%s\n%s\n' "$need_glibc" "$have_glibc" | sort -V | tail -1)" = "$have_glibc" ] ||
		fail "libkevent.so.0 needs GLIBC_$need_glibc, Depends says libc6 (>= $have_glibc)"
fi
# GLIBCXX_3.4.N -> the GCC release that introduced it (libstdc++ ABI policy).
need_cxx=$(objdump -T "$so" | grep -oE 'GLIBCXX_3\.4\.[0-9]+' | sed 's/GLIBCXX_3\.4\.//' | sort -n | tail -1)
have_cxx=$(dep_version 'libstdc++6')
if [ -n "$need_cxx" ] && [ "$need_cxx" -ge 29 ]; then
	gcc_of=$((need_cxx >= 30 ? need_cxx - 18 : 11)) # .29: 11, .30: 12, .31: 13, .32: 14
	[ -n "$have_cxx" ] && [ "${have_cxx%%.*}" -ge "$gcc_of" ] ||
		fail "libkevent.so.0 needs GLIBCXX_3.4.$need_cxx (GCC $gcc_of), Depends says libstdc++6 (>= $have_cxx)"
fi
echo "ok: Depends covers GLIBC_$need_glibc and GLIBCXX_3.4.$need_cxx"

# ---- contents -----------------------------------------------------------------
for f in include/kevent/kevent.h include/kevent/kevent.hpp; do
	[ -f "$root$pkg_prefix/$f" ] || fail "the package lacks $pkg_prefix/$f"
done
libdir=$(dirname "$so")
for f in libkevent.a pkgconfig/kevent.pc cmake/kevent/keventConfig.cmake; do
	[ -f "$libdir/$f" ] || fail "the package lacks ${libdir#"$root"}/$f"
done
[ -n "$(find "$root$pkg_prefix/share/man" -name 'kevent_init.3*' -print -quit 2>/dev/null)" ] ||
	fail "the package lacks the man pages"
echo "ok: $(dpkg-deb -c "$deb" | grep -vc '/$') files under $pkg_prefix"

# ---- consumable -------------------------------------------------------------------
echo "building the outside consumer against the unpacked package"
consume "$src" "$root$pkg_prefix" "$work/consumer" || exit 1
echo "ok: the .deb is consumable with CMake and pkg-config, C and C++"
