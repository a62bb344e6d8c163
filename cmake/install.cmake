# SPDX-License-Identifier: MIT
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS kevent_shared kevent_static EXPORT keventTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/kevent
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT keventTargets NAMESPACE kevent::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/kevent)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/keventConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/keventConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/kevent)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/keventConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/keventConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/keventConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/kevent)
# kevent.pc names its prefix relative to its own place (${pcfiledir}), so the
# installed tree works wherever it lands: `cmake --install --prefix DIR`, a
# .deb unpacked with dpkg-deb -x, a staging DESTDIR.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(KEVENT_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH KEVENT_PC_UP "/root/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/root")
  string(REGEX REPLACE "/$" "" KEVENT_PC_UP "${KEVENT_PC_UP}")
  set(KEVENT_PC_PREFIX "\${pcfiledir}/${KEVENT_PC_UP}")
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/kevent.pc.in ${CMAKE_CURRENT_BINARY_DIR}/kevent.pc @ONLY)
configure_file(${CMAKE_CURRENT_LIST_DIR}/kevent-static.pc.in
  ${CMAKE_CURRENT_BINARY_DIR}/kevent-static.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/kevent.pc ${CMAKE_CURRENT_BINARY_DIR}/kevent-static.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/man/ DESTINATION ${CMAKE_INSTALL_MANDIR}
  FILES_MATCHING PATTERN "*.[37]")
