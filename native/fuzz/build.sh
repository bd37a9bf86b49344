#!/usr/bin/env bash
# Usage: native/fuzz/build.sh [OUT_DIR [CMAKE_BUILD_DIR]]
# Builds the libFuzzer target native/fuzz/fuzz_api.c into OUT_DIR/fuzz_api (default: target/fuzz):
# the library through its own CMake build, compiled by clang with coverage instrumentation for the
# fuzzer plus AddressSanitizer and UndefinedBehaviorSanitizer (every UB report aborts). With
# CMAKE_BUILD_DIR, the librrconv.so of that (already configured, same flags) build is used instead.
# -O0: clang at -O1 with ASan+UBSan+coverage takes minutes per AVX-512 kernel file, -O0 seconds.
# Needs clang and libFuzzer (Debian: clang, libclang-rt-dev).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/target/fuzz}
mkdir -p "$out"
out=$(cd "$out" && pwd)
# line tables only (reports still name file and line; full -g took a quarter longer to build)
san="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -gline-tables-only -O0"
build=${2:-$out/lib}
if [ -z "${2:-}" ]; then
  CC=clang cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DRRCONV_BUILD_TESTS=OFF \
    -DCMAKE_C_FLAGS="$san -fsanitize=fuzzer-no-link" -DCMAKE_C_FLAGS_DEBUG="-gline-tables-only" >/dev/null
fi
cmake --build "$build" --target rrconv --parallel "${RRCONV_JOBS:-2}" >/dev/null
lib=$(dirname "$(find "$build" -name 'librrconv.so' | head -1)")
clang -std=c11 -Wall -Wextra $san -fsanitize=fuzzer -I"$root/native/include" \
  "$root/native/fuzz/fuzz_api.c" -L"$lib" -lrrconv -Wl,-rpath,"$lib" -lm -o "$out/fuzz_api"
echo "fuzz: built $out/fuzz_api"
