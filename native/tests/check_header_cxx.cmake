# check_header_cxx.cmake -- rrconv.h is usable from C++ (and from strict ISO C).
#   cmake -DCXX=<c++ compiler> -DCC=<c compiler> -DINCLUDE_DIR=<native/include> -DSOURCE=<header_cxx.cpp>
#         -DLIB=<librrconv.so> -DWORK_DIR=<dir> [-DEXTRA_FLAGS="<-fsanitize=... of the build>"] -P check_header_cxx.cmake
# 1. header_cxx.cpp is compiled with -std=c++11 -Wall -Wextra -pedantic -Werror and linked against LIB
#    (an undefined reference here means a declaration lost its extern "C"), then run.
# 2. a translation unit that only includes rrconv.h compiles as C11 with -pedantic -Werror.
foreach(v CXX CC INCLUDE_DIR SOURCE LIB WORK_DIR)
  if(NOT ${v})
    message(FATAL_ERROR "check_header_cxx: -D${v}=... is required")
  endif()
endforeach()
separate_arguments(extra UNIX_COMMAND "${EXTRA_FLAGS}")
file(MAKE_DIRECTORY "${WORK_DIR}")
get_filename_component(libdir "${LIB}" DIRECTORY)

function(run_step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "check_header_cxx: ${what} failed (${rc})\n  ${cmd}\n${out}${err}")
  endif()
  message(STATUS "check_header_cxx: ${what}: ok ${out}")
endfunction()

set(exe "${WORK_DIR}/header_cxx_check")
run_step("C++11 -pedantic -Werror compile + link"
  "${CXX}" -std=c++11 -Wall -Wextra -pedantic -Werror ${extra} "-I${INCLUDE_DIR}" "${SOURCE}"
  "${LIB}" "-Wl,-rpath,${libdir}" -o "${exe}")
run_step("run" "${exe}")

file(WRITE "${WORK_DIR}/header_only.c" "#include <rrconv.h>\nint main(void) { return rrconv_version()[0] == '\\0'; }\n")
run_step("C11 -pedantic -Werror compile"
  "${CC}" -std=c11 -Wall -Wextra -pedantic -Werror -Wstrict-prototypes -Wshadow "-I${INCLUDE_DIR}"
  -fsyntax-only "${WORK_DIR}/header_only.c")
