#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# install_consume.sh SOURCE_DIR BUILD_DIR — `cmake --install BUILD_DIR` into a
# temporary prefix, then check what a user gets there:
#   - libkevent.so.0 has SONAME libkevent.so.0, the libtool-style symlinks
#     libkevent.so -> libkevent.so.0 -> libkevent.so.0.x.y, and exports
#     kevent_* only, every one under the version node KEVENT_0;
#   - headers, libkevent.a, the CMake package, kevent.pc, kevent-static.pc
#     and the man pages
#     are in place;
#   - the outside consumer of tests/consumer builds against that tree with
#     CMake (find_package(kevent CONFIG), C and C++) and with pkg-config (C,
#     and C++ through kevent.hpp only), links the installed library, and runs
#     (a 1 ms one-shot timer).
# Exit 77 (skipped) with the reason when pkg-config or binutils are missing.
set -uo pipefail
src=${1:?usage: install_consume.sh SOURCE_DIR BUILD_DIR}
build=${2:?usage: install_consume.sh SOURCE_DIR BUILD_DIR}

for tool in pkg-config readelf nm cc c++ ldd; do
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
# shellcheck source=../consumer/consume.sh
. "$src/tests/consumer/consume.sh"

work=$(mktemp -d -t kevent-install.XXXXXX)
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"
fail() {
	echo "FAIL: $*"
	exit 1
}

echo "cmake --install $build --prefix $prefix"
cmake --install "$build" --prefix "$prefix" >"$work/install.log" 2>&1 || {
	cat "$work/install.log"
	fail "cmake --install failed"
}

# ---- what is installed ----------------------------------------------------
so=$(find "$prefix" -name libkevent.so.0 -print -quit)
[ -n "$so" ] || fail "no libkevent.so.0 under $prefix"
libdir=$(dirname "$so")
for f in include/kevent/kevent.h include/kevent/kevent.hpp; do
	[ -f "$prefix/$f" ] || fail "$f is not installed"
done
for f in libkevent.a pkgconfig/kevent.pc pkgconfig/kevent-static.pc cmake/kevent/keventConfig.cmake \
	cmake/kevent/keventConfigVersion.cmake cmake/kevent/keventTargets.cmake; do
	[ -f "$libdir/$f" ] || fail "${libdir#"$prefix"/}/$f is not installed"
done
for p in man3/kevent_init.3 man3/kevent_ukevent_str.3 man7/kevent.7; do
	[ -n "$(find "$prefix" -path "*/man/$p" -print -quit)" ] || fail "man page $p is not installed"
done

# ---- soname and symlinks (libtool practice) --------------------------------
soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libkevent.so.0 ] || fail "SONAME is '$soname', not libkevent.so.0"
[ -L "$libdir/libkevent.so" ] && [ "$(readlink "$libdir/libkevent.so")" = libkevent.so.0 ] ||
	fail "libkevent.so is not a symlink to libkevent.so.0"
real=$(readlink "$so")
[[ -L "$so" && "$real" =~ ^libkevent\.so\.0\.[0-9]+\.[0-9]+$ && -f "$libdir/$real" ]] ||
	fail "libkevent.so.0 is not a symlink to libkevent.so.0.MINOR.PATCH ('$real')"
echo "ok: SONAME libkevent.so.0; libkevent.so -> libkevent.so.0 -> $real"

# ---- exported symbols: kevent_* only, all in KEVENT_0 ------------------------
# readelf --dyn-syms -W: "Num: Value Size Type Bind Vis Ndx Name@@VERSION".
syms=$(readelf --dyn-syms -W "$so" | awk '$7 != "UND" && $7 != "Ndx" && NF >= 8 && $5 != "LOCAL" { print $8 }')
[ -n "$syms" ] || fail "the installed libkevent.so.0 exports nothing"
# sigaction/signal/bsd_signal: the signal chain, in the C library's node
# (kevent_signal(7)).
bad=$(grep -vE '^kevent_[A-Za-z0-9_]+@@KEVENT_0$' <<<"$syms" | grep -vxE 'KEVENT_0(@@KEVENT_0)?' |
	grep -vE '^(sigaction|signal|bsd_signal)@@GLIBC_[0-9.]+$' | grep -vxE 'GLIBC_[0-9.]+(@@GLIBC_[0-9.]+)?' || true)
[ -z "$bad" ] || fail "exported outside kevent_*@@KEVENT_0:
$(sed 's/^/    /' <<<"$bad")"
grep -q '^kevent_init@@KEVENT_0$' <<<"$syms" || fail "kevent_init is not exported as KEVENT_0"
echo "ok: $(grep -c '^kevent_' <<<"$syms") symbols exported, all kevent_*@@KEVENT_0"

# ---- the outside consumer ------------------------------------------------------
echo "building the outside consumer against $prefix"
consume "$src" "$prefix" "$work/consumer" || exit 1
echo "ok: installed tree consumed with CMake and pkg-config, C and C++"
