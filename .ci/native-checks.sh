#!/usr/bin/env bash
# Native hardening checks, run by `mvn -B verify` (exec execution "native-checks", verify phase;
# skip with -Drrconv.skipNativeChecks=true or -DskipTests). Four stages, each failing the run:
#   portable  the library without the x86 kernel files (-DRRCONV_X86_KERNELS=OFF, what a non-x86
#             machine builds): it must build warning-free, report isa `portable` and pass ctest on the
#             portable kernels (the kernels/<direction>/<name>__portable.c files) and the reference loops
#   asan      the C tests built with gcc -fsanitize=address,undefined -fno-sanitize-recover=all
#   valgrind  the C tests (a plain -O1 -g1 gcc build) under valgrind memcheck: --error-exitcode,
#             full leak check, definite/indirect leaks are errors
#   (asan and valgrind build with CMAKE_BUILD_TYPE=Debug: no NDEBUG, so the library's RR_ASSERT
#   preconditions are checked there; so does the fuzz build)
#   fuzz      native/fuzz/fuzz_api.c (libFuzzer + ASan + UBSan) for RRCONV_FUZZ_SECONDS (default 40) on
#             the kept corpus native/fuzz/corpus/ (read only: new inputs go to a scratch folder)
#
# Usage: .ci/native-checks.sh [WORK_DIR]      (default: target/native-checks)
#   RRCONV_NATIVE_CHECKS="portable asan valgrind fuzz"   stages to run (default: all four)
#   RRCONV_FUZZ_SECONDS=40                       fuzzing time
# A longer fuzz run that also grows the kept corpus (see native/fuzz/README.md):
#   RRCONV_NATIVE_CHECKS=fuzz RRCONV_FUZZ_SECONDS=1800 RRCONV_FUZZ_MERGE=1 .ci/native-checks.sh
# Needs clang (with libclang-rt-dev for libFuzzer), gcc, cmake and valgrind; .ci/run installs them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$root/target/native-checks}
stages=${RRCONV_NATIVE_CHECKS:-portable asan valgrind fuzz}
fuzz_seconds=${RRCONV_FUZZ_SECONDS:-40}
jobs=${RRCONV_JOBS:-2}
mkdir -p "$work"
work=$(cd "$work" && pwd)

say() { echo "native-checks: $*"; }
# A missing tool is installed from Debian's packages when this runs as root with apt-get (a fresh
# machine of this project's kind, so that `mvn -B verify` sets itself up); otherwise the message names
# the package to install.
install_pkg() {
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 || return 1
  echo "native-checks: installing $*" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "$@" >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "$@" >/dev/null 2>&1; }
}
need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  install_pkg "${2:-$1}" && command -v "$1" >/dev/null 2>&1 && return 0
  echo "native-checks: '$1' not found; install the Debian package '${2:-$1}'" >&2
  exit 1
}
need_libfuzzer() {
  ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 && return 0
  install_pkg libclang-rt-dev && return 0
  echo "native-checks: libFuzzer not found; install the Debian package 'libclang-rt-dev'" >&2
  exit 1
}
need cmake

# gcc -O1: clang at -O1 with ASan+UBSan takes minutes per AVX-512 kernel file, gcc seconds.
# -g1 (line tables: every report still names file and line) for the sanitizer and valgrind builds, also
# as the Debug configuration's flag (it would append -g): full -g's variable tracking took 2x the time
# of the whole compile on the largest kernel files (forward_depthwise_rows__avx512.c: 75 s -g, 33 s -g1)
debug_info="-g1"
san_flags="-O1 $debug_info -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all"
# the fast-kernel tests (test_fast_*) take a config count as first argument: fewer under ASan
san_configs=${RRCONV_SAN_CONFIGS:-150}
# the portable and scalar tiers (plain C loops, no lane arithmetic to get wrong at the edges) with a third
san_configs_plain=$(( (san_configs + 2) / 3 ))
# ctest entries that check the build system, not memory: not run under the tools
not_memory='test_install|test_exports|test_header_cxx'
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:strict_string_checks=1:check_initialization_order=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

for stage in $stages; do
  case "$stage" in
  portable)
    need gcc
    say "portable: building without the x86 kernels (-DRRCONV_X86_KERNELS=OFF, -Werror)"
    CC=gcc cmake -S "$root" -B "$work/portable" -DCMAKE_BUILD_TYPE=Release -DRRCONV_X86_KERNELS=OFF \
      -DCMAKE_C_FLAGS="-Werror" -DRRCONV_BUILD_TESTS=ON >/dev/null
    cmake --build "$work/portable" --parallel "$jobs" >/dev/null
    syms=$(nm "$work/portable/native/librrconv.so")
    if grep -q '_avx' <<<"$syms"; then
      echo "native-checks: the portable library contains x86 kernel symbols" >&2; exit 1
    fi
    isa=$("$work/portable/native/bench/rrconv_bench" --shapes DW-K3 --ops forward --threads 1 --reps 1 |
          sed -n 's/.*, isa \([a-z0-9]*\),.*/\1/p')
    [ "$isa" = portable ] || { echo "native-checks: portable build reports isa '$isa', not portable" >&2; exit 1; }
    # without x86 kernels RRCONV_MAX_ISA=avx2 / portable change nothing: those ctest entries repeat the
    # plain ones (the installed-package tests install this build itself)
    say "portable: ctest (all but the _avx2 / _portable repeats)"
    ctest --test-dir "$work/portable" --output-on-failure --parallel "$jobs" -E '_avx2$|_portable$' | tail -n 3
    say "portable: clean"
    ;;
  asan)
    need gcc
    say "asan: building the C tests with gcc $san_flags"
    CC=gcc cmake -S "$root" -B "$work/asan" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS="$san_flags" \
      -DCMAKE_C_FLAGS_DEBUG="$debug_info" \
      -DRRCONV_BUILD_TESTS=ON >/dev/null
    cmake --build "$work/asan" --parallel "$jobs" >/dev/null
    say "asan: ctest (all but $not_memory and the test_fast_* suites)"
    ctest --test-dir "$work/asan" --output-on-failure --parallel "$jobs" -E "$not_memory|test_fast_"
    # every kernel tier the CPU has, not only the best one; the fast-kernel suites with fewer configs
    for isa in best avx2 portable scalar; do
      for exe in $(find "$work/asan/native/tests" -maxdepth 1 -type f -name 'test_fast_*' -perm -u+x | sort); do
        n=$san_configs
        case "$isa" in portable|scalar) n=$san_configs_plain ;; esac
        say "asan: $(basename "$exe") $n (RRCONV_MAX_ISA=$isa)"
        if [ "$isa" = best ]; then "$exe" "$n" >/dev/null; else RRCONV_MAX_ISA=$isa "$exe" "$n" >/dev/null; fi
      done
      if [ "$isa" != best ]; then
        say "asan: test_random, test_nan (RRCONV_MAX_ISA=$isa)"
        RRCONV_MAX_ISA=$isa "$work/asan/native/tests/test_random" >/dev/null
        RRCONV_MAX_ISA=$isa "$work/asan/native/tests/test_nan" >/dev/null
      fi
    done
    say "asan: clean"
    ;;
  valgrind)
    need valgrind
    need gcc
    say "valgrind: building the C tests with gcc -O1 $debug_info"
    # valgrind's CPU model has no AVX-512: the library picks avx2 (or scalar) kernels under it
    CC=gcc cmake -S "$root" -B "$work/valgrind" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS="-O1 $debug_info" \
      -DCMAKE_C_FLAGS_DEBUG="$debug_info" \
      -DRRCONV_BUILD_TESTS=ON >/dev/null
    cmake --build "$work/valgrind" --parallel "$jobs" >/dev/null
    say "valgrind: every C test executable under memcheck"
    vg="valgrind --tool=memcheck --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --track-origins=yes --quiet"
    # the runs go $jobs at a time (memcheck serialises a process's threads onto one core)
    vgrun() { # name, then the command; returns nonzero (after printing the log) on errors
      local name=$1; shift
      say "valgrind: $name"
      if ! "$@" >"$work/valgrind/$name.vg.log" 2>&1; then
        cat "$work/valgrind/$name.vg.log" >&2
        return 1
      fi
    }
    fail=0 running=0
    vgstart() { # as vgrun, in the background, at most $jobs at once
      vgrun "$@" &
      running=$((running + 1))
      if [ "$running" -ge "$jobs" ]; then wait -n || fail=1; running=$((running - 1)); fi
    }
    # test_kernel_table with 4 problems per row (30 in the plain and the ASan ctest runs):
    # it draws until that many apply, so every row is still run, at 1, 2, 3 and 7 threads
    vgstart test_kernel_table $vg "$work/valgrind/native/tests/test_kernel_table" 4
    for t in $(cd "$work/valgrind" && ctest -N -E "$not_memory|test_fast_|test_kernel_table" | sed -n 's/^ *Test *#[0-9]*: \(test_[a-z0-9_]*\)$/\1/p'); do
      exe="$work/valgrind/native/tests/$t"
      [ -x "$exe" ] || continue   # ctest-only entries (test_env_*, test_random_avx2 ...) reuse an executable
      vgstart "$t" $vg "$exe"
    done
    # the test_fast_* suites run fixed benchmark-sized shapes too (minutes under valgrind): they run under
    # ASan above; here the fast kernels are reached through test_random's AUTO calls (avx2 and scalar)
    # (the scalar tier with a third of the configs, as under ASan: 300 took over 2 minutes alone)
    vgstart test_random-scalar env RRCONV_MAX_ISA=scalar $vg "$work/valgrind/native/tests/test_random" 100
    while [ "$running" -gt 0 ]; do wait -n || fail=1; running=$((running - 1)); done
    [ "$fail" = 0 ] || { echo "native-checks: valgrind reported errors" >&2; exit 1; }
    say "valgrind: clean"
    ;;
  fuzz)
    need clang
    need_libfuzzer
    "$root/native/fuzz/build.sh" "$work/fuzz"
    mkdir -p "$work/fuzz/new"
    say "fuzz: $fuzz_seconds s on native/fuzz/corpus"
    # strides, paddings, dilations above 2^16 (see native/fuzz/fuzz_api.c): every fast path gets them;
    # RRCONV_FUZZ_EXTREME_AUTO=fwd limits that to forward (the others then run them on the reference)
    export RRCONV_FUZZ_EXTREME_AUTO=${RRCONV_FUZZ_EXTREME_AUTO:-fwd,bd,bf}
    # a fixed seed (RRCONV_FUZZ_SEED=0: a random one) so that a CI failure can be replayed
    (cd "$work/fuzz" && ./fuzz_api -seed="${RRCONV_FUZZ_SEED:-1}" -max_total_time="$fuzz_seconds" -timeout=20 -rss_limit_mb=2048 \
       -print_final_stats=1 new "$root/native/fuzz/corpus" 2>&1 | tail -n 25)
    if [ "${RRCONV_FUZZ_MERGE:-0}" = 1 ]; then
      (cd "$work/fuzz" && ./fuzz_api -merge=1 "$root/native/fuzz/corpus" new 2>&1 | tail -n 3)
    fi
    say "fuzz: clean"
    ;;
  *) echo "native-checks: unknown stage '$stage'" >&2; exit 2 ;;
  esac
done
