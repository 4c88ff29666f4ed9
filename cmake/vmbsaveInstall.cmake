# `cmake --install`: what a vendor needs to build a plug-in and certify it.
#
#   <includedir>/vmbsave/           abi.h, ntstatus.h (the ABI), reference.h
#   <bindir>/vmbsave                the CLI
#   <libdir>/vmbsave/               libvmbsave_reference.so (to compare with), and
#                                   libvmbsave_reference.a (vmbsave::reference)
#   <libdir>/cmake/vmbsave/         the CMake package: find_package(vmbsave)
#   <libdir>/pkgconfig/vmbsave.pc   pkg-config: Cflags only (the ABI is headers)
#   <datadir>/vmbsave/corpus/       every fuzz target's seeds and regressions
#   and, from tests/CMakeLists.txt, the conformance suite: <libexecdir>/vmbsave/conformance/,
#   <datadir>/vmbsave/conformance-cases.tsv and <datadir>/vmbsave/testdata/.
# An installed vmbsave certify finds the suite and corpus relative to itself
# (tools/vmbsave/cmd_certify.c, locate_suite), so the prefix can be moved.
include(CMakePackageConfigHelpers)

set(VMBSAVE_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/vmbsave"
    CACHE STRING "Where the CMake package (vmbsaveConfig.cmake) is installed, under the prefix")
mark_as_advanced(VMBSAVE_INSTALL_CMAKEDIR)

install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/vmbsave" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
        FILES_MATCHING PATTERN "*.h")
install(FILES "${PROJECT_SOURCE_DIR}/reference/reference.h"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/vmbsave")

install(TARGETS vmbsave_abi vmbsave_reference vmbsave EXPORT vmbsaveTargets
        RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}"
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}/vmbsave")
install(TARGETS vmbsave_reference_plugin LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}/vmbsave")
install(EXPORT vmbsaveTargets NAMESPACE vmbsave:: FILE vmbsaveTargets.cmake
        DESTINATION "${VMBSAVE_INSTALL_CMAKEDIR}")

# The corpus certify replays (not the engines' .dict/.options, not .gitkeep).
install(DIRECTORY "${PROJECT_SOURCE_DIR}/corpus/seeds" "${PROJECT_SOURCE_DIR}/corpus/regressions"
        DESTINATION "${CMAKE_INSTALL_DATADIR}/vmbsave/corpus"
        PATTERN ".*" EXCLUDE)

configure_package_config_file("${CMAKE_CURRENT_LIST_DIR}/vmbsaveConfig.cmake.in"
    "${PROJECT_BINARY_DIR}/cmake/vmbsaveConfig.cmake"
    INSTALL_DESTINATION "${VMBSAVE_INSTALL_CMAKEDIR}"
    PATH_VARS CMAKE_INSTALL_BINDIR CMAKE_INSTALL_LIBDIR CMAKE_INSTALL_INCLUDEDIR)
write_basic_package_version_file("${PROJECT_BINARY_DIR}/cmake/vmbsaveConfigVersion.cmake"
    VERSION "${PROJECT_VERSION}" COMPATIBILITY SameMajorVersion)
install(FILES "${PROJECT_BINARY_DIR}/cmake/vmbsaveConfig.cmake"
              "${PROJECT_BINARY_DIR}/cmake/vmbsaveConfigVersion.cmake"
        DESTINATION "${VMBSAVE_INSTALL_CMAKEDIR}")

# pkg-config: relocatable (paths from the .pc file's own folder), so an install moved or made
# with `cmake --install --prefix DIR` still points at itself.
set(_vmbsave_pc_dir "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
if(IS_ABSOLUTE "${_vmbsave_pc_dir}")
    set(_vmbsave_pc_prefix "${CMAKE_INSTALL_PREFIX}")
else()
    file(RELATIVE_PATH _vmbsave_pc_up "${CMAKE_INSTALL_PREFIX}/${_vmbsave_pc_dir}" "${CMAKE_INSTALL_PREFIX}")
    string(REGEX REPLACE "/$" "" _vmbsave_pc_up "${_vmbsave_pc_up}")
    set(_vmbsave_pc_prefix "\${pcfiledir}/${_vmbsave_pc_up}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
    set(_vmbsave_pc_includedir "${CMAKE_INSTALL_INCLUDEDIR}")
else()
    set(_vmbsave_pc_includedir "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file("${CMAKE_CURRENT_LIST_DIR}/vmbsave.pc.in" "${PROJECT_BINARY_DIR}/cmake/vmbsave.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/cmake/vmbsave.pc" DESTINATION "${_vmbsave_pc_dir}")
