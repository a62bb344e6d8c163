# CPack: `cpack -G DEB` in the build directory makes libkevent-dev_<version>_<arch>.deb
# with everything `cmake --install` puts in place (headers, libkevent.so and
# libkevent.a, the CMake package, kevent.pc, the man pages) under /usr.
#
# One -dev package rather than Debian's libkevent0 + libkevent-dev split: the
# library is young and its consumers build against it; the soname
# (libkevent.so.0) already lets a runtime package be split off later.

set(CPACK_PACKAGE_NAME "libkevent-dev")
set(CPACK_PACKAGE_VENDOR "libkevent developers")
set(CPACK_PACKAGE_CONTACT "libkevent developers")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "generic event handling: one queue for sockets, fds, pipes, timers, signals and more")
set(CPACK_PACKAGE_DESCRIPTION
  "libkevent is a userspace implementation of kevent, the generic event handling
mechanism proposed for Linux in 2006: one queue reports sockets, any pollable
file descriptor, pipes, timers, user events, file-system changes, signals and
process exits, with batched control (kevent_ctl) and a wait call with
min_nr/max_nr (kevent_get_events). This package holds the C ABI and C++20
headers, the shared and static libraries, the CMake package (kevent::kevent),
the pkg-config file (kevent.pc) and the man pages.")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_STRIP_FILES OFF) # keep symbols: this is a development package

set(CPACK_DEBIAN_PACKAGE_NAME ${CPACK_PACKAGE_NAME})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # <name>_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "libkevent developers")
set(CPACK_DEBIAN_PACKAGE_SECTION "libdevel")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
# What libkevent.so.0 links against when built by Debian 12's g++ 12 or
# clang 14: GLIBC_2.35 (epoll_pwait2) and GLIBCXX_3.4.30 symbol versions, and
# libgcc_s. tests/scripts/deb_package.sh checks these against the library it
# packs. Not a cache variable: a changed default must reach old build trees.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libc6 (>= 2.35), libstdc++6 (>= 12), libgcc-s1 (>= 3.0), liburing2 (>= 2.3)")

include(CPack)
