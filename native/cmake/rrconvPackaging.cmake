# rrconvPackaging.cmake -- the installable C package, included from native/CMakeLists.txt after the
# `rrconv` shared library target exists.
#
#   cmake --install <build> --prefix P   installs
#     P/include/rrconv.h
#     P/<libdir>/librrconv.so -> librrconv.so.0 -> librrconv.so.0.1.0   (the soname is librrconv.so.0)
#     P/<libdir>/librrconv.a                                            (the same objects, static)
#     P/<libdir>/cmake/rrconv/rrconvConfig.cmake, rrconvConfigVersion.cmake, rrconvTargets*.cmake
#         find_package(rrconv) -> imported targets rrconv::rrconv (shared), rrconv::rrconv_static
#     P/<libdir>/pkgconfig/rrconv.pc                                    pkg-config --cflags --libs rrconv
# <libdir> comes from GNUInstallDirs ("lib" for the default prefix on Debian). Everything installed is
# relocatable: the CMake files and rrconv.pc find the prefix from their own location, so the prefix
# given to `cmake --install --prefix` (or DESTDIR) need not be the one configured.
# Components: Runtime (the versioned shared library) and Development (everything else).
# Tests, benchmarks and fuzz targets are never installed.

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

option(RRCONV_BUILD_STATIC "Also build the static library librrconv.a (rrconv::rrconv_static)" ON)
option(RRCONV_INSTALL "Generate the install rules (header, libraries, CMake package, pkg-config file)" ON)

# Maven (RRCONV_OUTPUT_ROOT set) packs exactly one plain librrconv.so into the jar: no soname links there.
if(RRCONV_OUTPUT_ROOT)
  set(_rrconv_versioned_default OFF)
else()
  set(_rrconv_versioned_default ON)
endif()
option(RRCONV_VERSIONED_SONAME "Name the shared library librrconv.so.<major> (+ links)" ${_rrconv_versioned_default})
if(RRCONV_VERSIONED_SONAME)
  set_target_properties(rrconv PROPERTIES
    VERSION ${PROJECT_VERSION}
    SOVERSION ${PROJECT_VERSION_MAJOR})
endif()

# The version macros in rrconv.h must be the project's version (rrconv_version() reports them).
file(STRINGS "${CMAKE_CURRENT_SOURCE_DIR}/include/rrconv.h" _rrconv_version_lines
     REGEX "^#define RRCONV_VERSION_(MAJOR|MINOR|PATCH) +[0-9]+")
set(_rrconv_header_version "")
foreach(_part MAJOR MINOR PATCH)
  string(REGEX MATCH "RRCONV_VERSION_${_part} +([0-9]+)" _m "${_rrconv_version_lines}")
  list(APPEND _rrconv_header_version "${CMAKE_MATCH_1}")
endforeach()
string(REPLACE ";" "." _rrconv_header_version "${_rrconv_header_version}")
if(NOT _rrconv_header_version STREQUAL PROJECT_VERSION)
  message(FATAL_ERROR "rrconv.h says version ${_rrconv_header_version}, project() says ${PROJECT_VERSION}")
endif()

# Installed consumers include <rrconv.h> from P/include.
target_include_directories(rrconv PUBLIC $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)

# The installed package's names also work in this build tree (add_subdirectory / FetchContent users).
add_library(rrconv::rrconv ALIAS rrconv)

set(RRCONV_INSTALL_TARGETS rrconv)
if(RRCONV_BUILD_STATIC)
  # The same (PIC, hidden-visibility) objects as the shared library. Threads and libm are private
  # dependencies: for a static library CMake exports them as $<LINK_ONLY:...>, so a consumer of
  # rrconv::rrconv_static links them without naming them.
  # Hidden visibility keeps the internal rr_* functions out of librrconv.so, but an archive's objects
  # still define them globally, where they could clash with a consumer's own names. With the GNU
  # tools the archive therefore holds one object, the objects linked together (ld -r) with every
  # hidden symbol made local (objcopy --localize-hidden): it defines only the rrconv_* API.
  set(_rrconv_static_objects $<TARGET_OBJECTS:rrconv_objects>)
  if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang" AND CMAKE_OBJCOPY AND NOT APPLE AND NOT WIN32)
    set(_rrconv_merged ${CMAKE_CURRENT_BINARY_DIR}/rrconv_static_merged.o)
    add_custom_command(OUTPUT ${_rrconv_merged}
      COMMAND ${CMAKE_C_COMPILER} -r -nostdlib -o ${_rrconv_merged}.tmp $<TARGET_OBJECTS:rrconv_objects>
      COMMAND ${CMAKE_OBJCOPY} --localize-hidden ${_rrconv_merged}.tmp ${_rrconv_merged}
      COMMAND ${CMAKE_COMMAND} -E remove ${_rrconv_merged}.tmp
      DEPENDS rrconv_objects $<TARGET_OBJECTS:rrconv_objects>
      COMMAND_EXPAND_LISTS VERBATIM
      COMMENT "Merging the static library's objects, internal symbols made local")
    set(_rrconv_static_objects ${_rrconv_merged})
  endif()
  add_library(rrconv_static STATIC ${_rrconv_static_objects})
  target_include_directories(rrconv_static PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(rrconv_static PRIVATE Threads::Threads m)
  set_target_properties(rrconv_static PROPERTIES LINKER_LANGUAGE C)
  if(NOT MSVC)
    set_target_properties(rrconv_static PROPERTIES OUTPUT_NAME rrconv)   # librrconv.a
  endif()
  add_library(rrconv::rrconv_static ALIAS rrconv_static)
  list(APPEND RRCONV_INSTALL_TARGETS rrconv_static)
endif()

if(RRCONV_INSTALL)
  set(RRCONV_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/rrconv")

  install(TARGETS ${RRCONV_INSTALL_TARGETS} EXPORT rrconvTargets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT Runtime NAMELINK_COMPONENT Development
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT Development
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT Runtime)
  install(FILES ${CMAKE_CURRENT_SOURCE_DIR}/include/rrconv.h
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT Development)

  # CMake package: rrconvConfig.cmake (finds Threads for the static target), a version file
  # (0.x: only the same minor version is compatible), and the exported targets.
  configure_package_config_file(
    ${CMAKE_CURRENT_SOURCE_DIR}/cmake/rrconvConfig.cmake.in
    ${CMAKE_CURRENT_BINARY_DIR}/rrconvConfig.cmake
    INSTALL_DESTINATION ${RRCONV_CMAKE_DIR})
  write_basic_package_version_file(
    ${CMAKE_CURRENT_BINARY_DIR}/rrconvConfigVersion.cmake
    VERSION ${PROJECT_VERSION}
    COMPATIBILITY SameMinorVersion)
  install(FILES
    ${CMAKE_CURRENT_BINARY_DIR}/rrconvConfig.cmake
    ${CMAKE_CURRENT_BINARY_DIR}/rrconvConfigVersion.cmake
    DESTINATION ${RRCONV_CMAKE_DIR} COMPONENT Development)
  install(EXPORT rrconvTargets
    NAMESPACE rrconv::
    FILE rrconvTargets.cmake
    DESTINATION ${RRCONV_CMAKE_DIR} COMPONENT Development)

  # pkg-config: the prefix is derived from the .pc file's own directory (${pcfiledir}), so the file
  # stays right under any install prefix; absolute GNUInstallDirs paths are used as given.
  set(_pc_dir "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
  if(IS_ABSOLUTE "${_pc_dir}")
    set(RRCONV_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  else()
    file(RELATIVE_PATH _pc_up "/${_pc_dir}" "/")
    string(REGEX REPLACE "/$" "" _pc_up "${_pc_up}")
    set(RRCONV_PC_PREFIX "\${pcfiledir}/${_pc_up}")
  endif()
  foreach(_d LIBDIR INCLUDEDIR)
    if(IS_ABSOLUTE "${CMAKE_INSTALL_${_d}}")
      set(RRCONV_PC_${_d} "${CMAKE_INSTALL_${_d}}")
    else()
      set(RRCONV_PC_${_d} "\${prefix}/${CMAKE_INSTALL_${_d}}")
    endif()
  endforeach()
  configure_file(${CMAKE_CURRENT_SOURCE_DIR}/cmake/rrconv.pc.in ${CMAKE_CURRENT_BINARY_DIR}/rrconv.pc @ONLY)
  install(FILES ${CMAKE_CURRENT_BINARY_DIR}/rrconv.pc DESTINATION ${_pc_dir} COMPONENT Development)
endif()
