#!/usr/bin/env bash
#===- scripts/sanitize.sh - the whole test suite under ASan + UBSan --------===#
# Configures build-asan/ with -DNNC_SANITIZE=ON (clang-22: -fsanitize=address,
# undefined -fno-omit-frame-pointer -fno-sanitize-recover=all; vptr off because
# LLVM/MLIR have no RTTI), builds everything and runs ctest (lit + GoogleTest).
# Only nnc's own code is instrumented; the MLIR/LLVM dylibs are not. The
# libFuzzer targets are built here too (coverage on the code they fuzz alone),
# so that CI fuzzes with this build (NNC_FUZZ_BUILD=build-asan scripts/fuzz.sh)
# instead of compiling nnc a third time.
# Usage: scripts/sanitize.sh [build-dir] [ctest args...]  (default: ./build-asan)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build-asan}
shift || true
bash "$root/scripts/install-deps.sh" >/dev/null
if [[ ! -f "$build/build.ninja" ]]; then
  cmake -G Ninja -S "$root" -B "$build" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
    -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir \
    -DLLVM_EXTERNAL_LIT=/usr/lib/llvm-22/bin/lit \
    -DNNC_SANITIZE=ON -DNNC_BUILD_FUZZERS=ON >/dev/null
fi
ninja -C "$build"
# Leak checking is on (ASan's default); a report fails the test that hit it.
# allow_user_poisoning=0: LLVM's allocators (inline in headers) poison freed
# memory when compiled into our instrumented code, and the uninstrumented
# MLIR dylib then reuses it without unpoisoning: a false "use-after-poison"
# (seen in nn-opt's parser on the LSTM example).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allow_user_poisoning=0:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$build"
ctest --output-on-failure -j "$(nproc)" "$@"
