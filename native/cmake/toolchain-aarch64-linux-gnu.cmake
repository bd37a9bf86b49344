# Cross build for linux-aarch64 with Debian's cross compiler (packages gcc-aarch64-linux-gnu and
# libc6-dev-arm64-cross):
#   cmake -S . -B target/cmake-aarch64 -DCMAKE_TOOLCHAIN_FILE=native/cmake/toolchain-aarch64-linux-gnu.cmake
# When qemu-aarch64 (package qemu-user) is found, ctest runs the test executables under it
# (CMAKE_CROSSCOMPILING_EMULATOR); without it the tests build but cannot run here.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(RRCONV_CROSS_TRIPLE aarch64-linux-gnu)
set(RRCONV_CROSS_SYSROOT /usr/${RRCONV_CROSS_TRIPLE} CACHE PATH "the target's headers and libraries (Debian: /usr/aarch64-linux-gnu)")

find_program(RRCONV_CROSS_CC NAMES ${RRCONV_CROSS_TRIPLE}-gcc)
if(NOT RRCONV_CROSS_CC)
  message(FATAL_ERROR "${RRCONV_CROSS_TRIPLE}-gcc not found: install the Debian package gcc-aarch64-linux-gnu")
endif()
set(CMAKE_C_COMPILER ${RRCONV_CROSS_CC})
find_program(RRCONV_CROSS_CXX NAMES ${RRCONV_CROSS_TRIPLE}-g++)
if(RRCONV_CROSS_CXX)
  set(CMAKE_CXX_COMPILER ${RRCONV_CROSS_CXX})
endif()

# Libraries and headers come from the target's tree only; programs (cmake, bash, nm) from the host.
set(CMAKE_FIND_ROOT_PATH ${RRCONV_CROSS_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# -L: where qemu finds the target's dynamic loader and libc.
find_program(RRCONV_QEMU NAMES qemu-aarch64 qemu-aarch64-static)
if(RRCONV_QEMU)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${RRCONV_QEMU};-L;${RRCONV_CROSS_SYSROOT})
endif()
