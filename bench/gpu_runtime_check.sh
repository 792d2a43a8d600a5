#!/usr/bin/env bash
#===- bench/gpu_runtime_check.sh - the device layer's checks on a GPU ------===#
# Usage: bench/gpu_runtime_check.sh [build-dir]   (on a machine with a GPU)
#
# What could not run where nnc is developed (no GPU there), as one short
# script: the GPU-only unit tests of the device arena (eager run, CUDA graph
# capture and replay, persistent regions), then for each example that builds
# for the GPU, `nnc bench --device gpu` with CUDA graphs on and off (same
# run, so the ratio is meaningful) and the device memory the arena took
# (compare with "arena: N B allocated"). Prints everything; exits non-zero
# if a unit test fails or is skipped.
set -u
build=${1:-build}
nnc=$build/bin/nnc
status=0

echo "== GPU-only unit tests (must pass, not skip)"
out=$("$build/bin/nnc-runtime-tests" --gtest_filter='Gpu*:DeviceArena*' 2>&1)
echo "$out" | grep -E '^\[ *(OK|FAILED|SKIPPED) *\]|GPU path|needs a GPU'
if echo "$out" | grep -qE '^\[ *(FAILED|SKIPPED) *\]'; then status=1; fi

for model in examples/lenet.nn examples/resnet.nn examples/lstm_rows.nn; do
  for graphs in 1 0; do
    echo "== $model, NNC_CUDA_GRAPHS=$graphs"
    NNC_CUDA_GRAPHS=$graphs timeout 300 "$nnc" bench "$model" --device gpu --batch 64 \
      --iterations 50 --warmup 5 2>&1 | tail -n 6
  done
done
exit $status
