#!/usr/bin/env bash
#===- scripts/test.sh - the test command: install, build, run every test -===#
# Installs what is missing (Debian packages), builds nnc with Ninja + ccache
# against the MLIR/LLVM 22 dylibs, and runs ctest: the lit suite and the
# GoogleTest unit tests. Usage: scripts/test.sh [build-dir]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
bash "$root/scripts/install-deps.sh"
bash "$root/scripts/build.sh" "$build"
cd "$build"
ctest --output-on-failure -j "$(nproc)"
