#!/usr/bin/env bash
#===- scripts/difftest.sh - differential testing of nnc against PyTorch ---===#
# Random valid models compared with PyTorch (scripts/difftest.py): parameter
# counts, eval-mode forward, one training step through the C ABI.
#
#   scripts/difftest.sh SECONDS [--seed-start N]   seeds N, N+1, ... for SECONDS
#   scripts/difftest.sh --replay SEED               one seed: print its model, run it
#   scripts/difftest.sh --count K [--seed-start N]  exactly K models
#
# Other flags go to difftest.py (--help lists them). A failing model is
# minimized and written as a regression test under test/difftest/regress/
# (--no-regression: print only); exit 1 when any model failed. Needs a build
# (scripts/build.sh) and Debian's python3-torch
# (scripts/install-deps.sh --with-torch).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() { echo "usage: scripts/difftest.sh SECONDS|--replay SEED|--count K [options]" >&2; exit 2; }
(($# >= 1)) || usage
args=()
if [[ $1 =~ ^[0-9]+$ ]]; then
  args+=(--seconds "$1")
  shift
elif [[ $1 != --replay && $1 != --count ]]; then
  usage
fi
if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
  echo "difftest: PyTorch is missing: run scripts/install-deps.sh --with-torch" >&2
  exit 2
fi
if [[ ! -x "$root/build/bin/nnc" ]]; then
  bash "$root/scripts/build.sh" >/dev/null
fi
exec /usr/bin/python3 "$root/scripts/difftest.py" "${args[@]}" "$@"
