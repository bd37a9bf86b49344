#!/usr/bin/env bash
# test_install_consume.sh -- the installed C package works for a consumer (ctest; see CMakeLists.txt here).
#
#   test_install_consume.sh setup      SOURCE_DIR WORK_DIR VERSION [OUTER_BUILD_DIR]
#       runs `cmake --install BUILD --prefix WORK_DIR/prefix` (configured prefix left at its default, so
#       the package must be relocatable) and checks the installed file set: nothing more, nothing less
#       (no test, no bench, no fuzzer), the soname links, the version everywhere. BUILD is
#       OUTER_BUILD_DIR (the build running this test, tests and bench included, already built) when it
#       makes the package (a versioned soname: not the Maven build, whose plain librrconv.so goes into
#       the jar). Otherwise the library is configured and built alone (own build dir, no tests, no
#       bench) without the x86 kernel files: the package's files, links and consumers are the same
#       with any kernels inside, and the portable code builds in seconds where the x86 kernels take
#       minutes.
#   test_install_consume.sh cmake      SOURCE_DIR WORK_DIR VERSION
#       builds native/examples with find_package(rrconv) (CMAKE_PREFIX_PATH=prefix), linked to
#       rrconv::rrconv and to rrconv::rrconv_static, runs both and compares the printed result.
#   test_install_consume.sh pkg-config SOURCE_DIR WORK_DIR VERSION
#       builds the example with plain `cc $(pkg-config --cflags --libs rrconv)` (PKG_CONFIG_PATH=prefix
#       only) and statically with `pkg-config --static`; runs and compares. Exit 77 (ctest: skipped)
#       when pkg-config is not installed.
# CC (default: cc) is the C compiler; CMAKE (default: cmake) the cmake to use; CMAKE_GENERATOR (if
# set) the generator of every build here.
set -euo pipefail

mode=${1:?mode}; src=${2:?source dir}; work=${3:?work dir}; version=${4:?version}; outer=${5:-}
cc=${CC:-cc}
cmake_cmd=${CMAKE:-cmake}
prefix="$work/prefix"
example="$src/native/examples/backward_data_example.c"
# issue 2, worked example (b)
expected_grad="grad = 0 2 5 3 1 6 5 3 0 13 9 9 0 7 9 9"
unset LD_LIBRARY_PATH CMAKE_PREFIX_PATH PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR DESTDIR CMAKE_INSTALL_PREFIX

say() { echo "install-consume[$mode]: $*"; }
fail() { echo "install-consume[$mode]: FAIL: $*" >&2; exit 1; }

# The installed library directory (GNUInstallDirs: lib, lib64 or lib/<multiarch>).
find_libdir() {
  local pc
  pc=$(find "$prefix" -name rrconv.pc -path '*/pkgconfig/*' | head -1)
  [ -n "$pc" ] || fail "no rrconv.pc under $prefix (did the setup test run?)"
  dirname "$(dirname "$pc")"
}

# Runs an example binary and checks its output: the library line, the exact result, exit status.
check_run() {
  local what=$1 exe=$2 out
  shift 2
  out=$("$@" "$exe") || fail "$what: $exe exited with $?"
  grep -qx "rrconv $version, kernels: \(avx512\|avx2\|portable\|scalar\), threads: [0-9]*" <<<"$out" \
    || fail "$what: no 'rrconv $version, kernels: ...' line in:"$'\n'"$out"
  local got
  got=$(grep '^grad = ' <<<"$out" || true)
  [ "$got" = "$expected_grad" ] || fail "$what: printed '$got', expected '$expected_grad'"
  # the failure path: status name and rrconv_last_error on stderr, exit status 1
  local err rc=0
  err=$("$@" "$exe" --bad-desc 2>&1 >/dev/null) || rc=$?
  [ "$rc" = 1 ] || fail "$what: --bad-desc exited with $rc, expected 1"
  grep -q 'RRCONV_INVALID_ARGUMENT: rrconv_backward_data_f32: desc->oh' <<<"$err" \
    || fail "$what: --bad-desc printed '$err'"
  say "$what: $got"
}

needed_libs() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }

expect_shared_link() {  # exe links librrconv.so.<major> and resolves it inside the prefix
  local what=$1 exe=$2 libdir=$3
  grep -qx "librrconv.so.${version%%.*}" <<<"$(needed_libs "$exe")" \
    || fail "$what: $exe does not need librrconv.so.${version%%.*} (needs: $(needed_libs "$exe" | tr '\n' ' '))"
  local resolved
  resolved=$(env ${LDPATH:+LD_LIBRARY_PATH=$LDPATH} ldd "$exe" | sed -n 's/^[[:space:]]*librrconv\.so\.[0-9]* => \([^ ]*\).*/\1/p')
  [ "$(cd "$(dirname "$resolved")" && pwd -P)" = "$(cd "$libdir" && pwd -P)" ] \
    || fail "$what: librrconv resolves to '$resolved', not into $libdir"
}

expect_static_link() {
  local what=$1 exe=$2
  if grep -q '^librrconv' <<<"$(needed_libs "$exe")"; then
    fail "$what: $exe still needs a shared librrconv"
  fi
  local syms
  syms=$(nm "$exe")
  grep -q ' T rrconv_backward_data_f32$' <<<"$syms" || fail "$what: rrconv_backward_data_f32 not linked into $exe"
}

case "$mode" in
setup)
  rm -rf "$work"
  mkdir -p "$work"
  build=$outer
  if [ -z "$build" ] || ! grep -qx 'RRCONV_VERSIONED_SONAME:BOOL=ON' "$build/CMakeCache.txt"; then
    build="$work/build"
    say "configure + build the library alone (portable kernels)"
    "$cmake_cmd" -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER="$cc" \
      -DRRCONV_BUILD_TESTS=OFF -DRRCONV_BUILD_BENCH=OFF -DRRCONV_X86_KERNELS=OFF >"$work/configure.log" 2>&1 \
      || { cat "$work/configure.log" >&2; fail "configure"; }
    "$cmake_cmd" --build "$build" --config Release --parallel 2 >"$work/build.log" 2>&1 \
      || { cat "$work/build.log" >&2; fail "build"; }
  fi
  # the per-configuration targets file: rrconvTargets-<build type in lower case, 'noconfig' if none>
  config=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt" | tr '[:upper:]' '[:lower:]')
  say "cmake --install $build --prefix $prefix"
  "$cmake_cmd" --install "$build" --config "${config:-Release}" --prefix "$prefix" >"$work/install.log" 2>&1 \
    || { cat "$work/install.log" >&2; fail "install"; }

  libdir=$(find_libdir)
  rel=${libdir#"$prefix"/}
  major=${version%%.*}
  expected=$(printf '%s\n' \
    "include/rrconv.h" \
    "$rel/librrconv.so -> librrconv.so.$major" \
    "$rel/librrconv.so.$major -> librrconv.so.$version" \
    "$rel/librrconv.so.$version" \
    "$rel/librrconv.a" \
    "$rel/cmake/rrconv/rrconvConfig.cmake" \
    "$rel/cmake/rrconv/rrconvConfigVersion.cmake" \
    "$rel/cmake/rrconv/rrconvTargets.cmake" \
    "$rel/cmake/rrconv/rrconvTargets-${config:-noconfig}.cmake" \
    "$rel/pkgconfig/rrconv.pc" | sort)
  actual=$(cd "$prefix" && find . \( -type f -o -type l \) -printf '%P\n' | sort | while read -r f; do
             if [ -L "$f" ]; then echo "$f -> $(readlink "$f")"; else echo "$f"; fi
           done)
  if [ "$actual" != "$expected" ]; then
    diff <(echo "$expected") <(echo "$actual") >&2 || true
    fail "installed files differ from the expected set (< expected, > installed)"
  fi
  soname=$(readelf -d "$libdir/librrconv.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
  [ "$soname" = "librrconv.so.$major" ] || fail "soname is '$soname', expected librrconv.so.$major"
  grep -qx "Version: $version" "$libdir/pkgconfig/rrconv.pc" || fail "rrconv.pc has no 'Version: $version'"
  grep -q "PACKAGE_VERSION \"$version\"" "$libdir/cmake/rrconv/rrconvConfigVersion.cmake" \
    || fail "rrconvConfigVersion.cmake is not version $version"
  arsyms=$(nm -g --defined-only "$libdir/librrconv.a") || fail "nm cannot read librrconv.a"
  grep -q ' T rrconv_forward_f32$' <<<"$arsyms" || fail "librrconv.a does not define rrconv_forward_f32"
  say "installed: $(echo "$actual" | wc -l) files and links as expected, soname $soname"
  ;;

cmake)
  libdir=$(find_libdir)
  for kind in shared static; do
    b="$work/example-cmake-$kind"
    rm -rf "$b"
    static=OFF; [ "$kind" = static ] && static=ON
    "$cmake_cmd" -S "$src/native/examples" -B "$b" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER="$cc" \
      -DCMAKE_PREFIX_PATH="$prefix" -DRRCONV_EXAMPLE_STATIC=$static >"$b.configure.log" 2>&1 \
      || { cat "$b.configure.log" >&2; fail "find_package ($kind): configure"; }
    found=$(sed -n 's/^rrconv_DIR:PATH=//p' "$b/CMakeCache.txt")
    [ "$(cd "$found" && pwd -P)" = "$(cd "$libdir/cmake/rrconv" && pwd -P)" ] \
      || fail "find_package ($kind) found rrconv in '$found', not in the test prefix"
    "$cmake_cmd" --build "$b" --config Release >"$b.build.log" 2>&1 || { cat "$b.build.log" >&2; fail "find_package ($kind): build"; }
    exe=$(find "$b" -name backward_data_example -type f -perm -u+x | head -1)   # <config>/ if multi-config
    [ -n "$exe" ] || fail "find_package ($kind): no backward_data_example built in $b"
    if [ "$kind" = shared ]; then
      LDPATH="" expect_shared_link "find_package (rrconv::rrconv)" "$exe" "$libdir"   # RUNPATH from CMake
      check_run "find_package (rrconv::rrconv)" "$exe" env
    else
      expect_static_link "find_package (rrconv::rrconv_static)" "$exe"
      check_run "find_package (rrconv::rrconv_static)" "$exe" env
    fi
  done
  ;;

pkg-config)
  if ! command -v pkg-config >/dev/null 2>&1; then
    echo "install-consume[pkg-config]: pkg-config is not installed: skipped" >&2
    exit 77
  fi
  libdir=$(find_libdir)
  export PKG_CONFIG_PATH="$libdir/pkgconfig"
  modversion=$(pkg-config --modversion rrconv) || fail "pkg-config does not find rrconv in $PKG_CONFIG_PATH"
  [ "$modversion" = "$version" ] || fail "pkg-config --modversion rrconv is $modversion, expected $version"
  [ "$(cd "$(pkg-config --variable=libdir rrconv)" && pwd -P)" = "$(cd "$libdir" && pwd -P)" ] \
    || fail "rrconv.pc libdir $(pkg-config --variable=libdir rrconv) is not $libdir"

  exe="$work/example-pc-shared"
  # shellcheck disable=SC2046  # word splitting of pkg-config output is intended
  "$cc" -std=c11 -Wall -Wextra -Werror "$example" $(pkg-config --cflags --libs rrconv) -o "$exe" \
    || fail "cc \$(pkg-config --cflags --libs rrconv)"
  LDPATH="$libdir" expect_shared_link "pkg-config" "$exe" "$libdir"
  check_run "pkg-config" "$exe" env LD_LIBRARY_PATH="$libdir"

  exe="$work/example-pc-static"
  # shellcheck disable=SC2046
  "$cc" -std=c11 -Wall -Wextra -Werror "$example" $(pkg-config --cflags rrconv) \
    -Wl,-Bstatic $(pkg-config --static --libs rrconv) -Wl,-Bdynamic -o "$exe" \
    || fail "cc \$(pkg-config --cflags rrconv) -Wl,-Bstatic \$(pkg-config --static --libs rrconv) -Wl,-Bdynamic"
  expect_static_link "pkg-config --static" "$exe"
  check_run "pkg-config --static" "$exe" env
  ;;

*)
  fail "unknown mode '$mode' (setup | cmake | pkg-config)"
  ;;
esac
