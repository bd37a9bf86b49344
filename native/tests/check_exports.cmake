# check_exports.cmake -- the library exports exactly the functions declared RRCONV_API in rrconv.h.
#   cmake -DNM=<nm> -DLIB=<librrconv.so> -DHEADER=<rrconv.h> -P check_exports.cmake
#   cmake -DNM=<nm> -DLIB=<librrconv.a> -DARCHIVE=ON -DHEADER=<rrconv.h> -P check_exports.cmake
# Lists the defined dynamic symbols (nm -D --defined-only; for an archive the defined global symbols
# of its objects, nm -g --defined-only) and fails on any name that is not a
# declared rrconv_* function (an internal rr_* helper, a kernel, a libc symbol pulled in) and on any
# declared function that is missing. Toolchain-made symbols that are not code (_init, _fini, _edata,
# _end, __bss_start) and sanitizer runtime hooks (__asan_*, __ubsan_*, ...) are not API and ignored.
foreach(v NM LIB HEADER)
  if(NOT ${v})
    message(FATAL_ERROR "check_exports: -D${v}=... is required")
  endif()
endforeach()

file(READ "${HEADER}" header)
string(REGEX MATCHALL "RRCONV_API[^;{(]*[ *](rrconv_[A-Za-z0-9_]+)[ \t\n]*\\(" decls "${header}")
set(declared "")
foreach(d ${decls})
  string(REGEX MATCH "(rrconv_[A-Za-z0-9_]+)[ \t\n]*\\($" _ "${d}")
  list(APPEND declared "${CMAKE_MATCH_1}")
endforeach()
list(LENGTH declared n_declared)
if(n_declared LESS 5)
  message(FATAL_ERROR "check_exports: found only ${n_declared} RRCONV_API declarations in ${HEADER}")
endif()

if(ARCHIVE)
  set(nm_mode -g)
else()
  set(nm_mode -D)
endif()
execute_process(COMMAND "${NM}" ${nm_mode} --defined-only "${LIB}"
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "check_exports: ${NM} ${nm_mode} --defined-only ${LIB} failed (${rc}): ${err}")
endif()
string(REPLACE "\n" ";" lines "${out}")
set(exported "")
set(unexpected "")
foreach(line ${lines})
  # "<address> <type> <name>[@version]"
  if(NOT line MATCHES "^[0-9a-fA-F]+ +[A-Za-z] +([^ @]+)")
    continue()
  endif()
  set(sym "${CMAKE_MATCH_1}")
  if(sym MATCHES "^(_init|_fini|_edata|_end|__bss_start)$"
     OR sym MATCHES "^_*(asan|ubsan|lsan|tsan|msan|sanitizer|odr_asan)")
    continue()
  endif()
  list(APPEND exported "${sym}")
  list(FIND declared "${sym}" i)
  if(i EQUAL -1)
    list(APPEND unexpected "${sym}")
  endif()
endforeach()
set(missing "")
foreach(sym ${declared})
  list(FIND exported "${sym}" i)
  if(i EQUAL -1)
    list(APPEND missing "${sym}")
  endif()
endforeach()

if(unexpected OR missing)
  message(FATAL_ERROR "check_exports: ${LIB}\n  exported but not declared RRCONV_API in rrconv.h: ${unexpected}\n"
                      "  declared but not exported: ${missing}")
endif()
list(LENGTH exported n)
message(STATUS "check_exports: ${LIB} exports exactly the ${n} rrconv_* functions of rrconv.h")
