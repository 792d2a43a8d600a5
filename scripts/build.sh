#!/usr/bin/env bash
#===- scripts/build.sh - configure (once) and build nnc -------------------===#
# Usage: scripts/build.sh [build-dir] [ninja targets...]   (default build dir: ./build)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
shift || true
cxx=clang++-22; cc=clang-22
command -v "$cxx" >/dev/null || { cxx=g++; cc=gcc; }
if [[ ! -f "$build/build.ninja" ]]; then
  cmake -G Ninja -S "$root" -B "$build" \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" \
    -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir \
    -DLLVM_EXTERNAL_LIT=/usr/lib/llvm-22/bin/lit
fi
ninja -C "$build" "$@"
