#!/usr/bin/env bash
#===- scripts/main.sh - the main job: build, compile and report examples -===#
# Installs what is missing, builds nnc, compiles an example to the nn dialect,
# prints the cost report of every example, then trains LeNet-5 on
# Fashion-MNIST on the CPU (5 epochs) and evaluates the saved weights.
# Usage: scripts/main.sh [build-dir]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
bash "$root/scripts/install-deps.sh"
bash "$root/scripts/build.sh" "$build"
nnc="$build/bin/nnc"
out="$root/out"
mkdir -p "$out"

echo "== nnc compile examples/lenet.nn -emit=nn (first lines; full IR in out/lenet.mlir)"
"$nnc" compile "$root/examples/lenet.nn" -emit=nn -o "$out/lenet.mlir"
head -n 12 "$out/lenet.mlir"
echo "..."
for f in "$root"/examples/*.nn; do
  echo
  echo "== nnc report examples/$(basename "$f")"
  "$nnc" report "$f"
done
echo
echo "== what does 4x wider cost? nnc report examples/resnet.nn -D width=64"
"$nnc" report "$root/examples/resnet.nn" -D width=64 | tail -n 8

echo
echo "== nnc train examples/lenet.nn --data fashion-mnist (5 epochs, CPU) -o out/lenet.safetensors"
"$nnc" train "$root/examples/lenet.nn" --data fashion-mnist -o "$out/lenet.safetensors" \
  --metrics "$out/lenet-metrics.jsonl"
echo
echo "== nnc eval examples/lenet.nn --weights out/lenet.safetensors"
"$nnc" eval "$root/examples/lenet.nn" --weights "$out/lenet.safetensors"
