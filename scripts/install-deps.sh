#!/usr/bin/env bash
#===- scripts/install-deps.sh - install what nnc needs (idempotent) -------===#
# Installs Debian 12 packages needed to build and test nnc. Does nothing when
# everything is already present. Usage: scripts/install-deps.sh [--with-torch]
set -euo pipefail

pkgs=(cmake ninja-build ccache g++ pkg-config python3 zlib1g-dev libpng-dev nlohmann-json3-dev
      libopenblas-dev libdnnl-dev libomp-22-dev
      llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools clang-22
      libclang-rt-22-dev googletest libgtest-dev dataset-fashion-mnist
      libopenmpi-dev openmpi-bin fortunes)
if [[ "${1:-}" == "--with-torch" ]]; then
  pkgs+=(python3-torch python3-numpy)
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
