#!/usr/bin/env bash
#===- bench/gpu_runtime_check.sh - the device layer's checks on a GPU ------===#
# Usage: bench/gpu_runtime_check.sh prepare DIR [build-dir]   (here: LLVM 22 + CUDA toolkit)
#        bench/gpu_runtime_check.sh run DIR [build-dir]       (on the GPU machine)
#
# What could not run where nnc is developed (no GPU there), as one short
# script in two halves. `prepare` builds GPU artifacts into DIR with the
# compiler: the minimal one of test/runtime/gpu-artifact.test (MLIR's own
# gpu.launch_func lowering: PTX, and cubins for sm_80 and sm_90) and, where
# `nnc build --device gpu` works, the examples. `run` needs only the runtime
# (build/bin/nnc-runtime-tests, build/bin/nnc-rt, build/lib): the GPU-only
# unit tests (mgpu* functions, device arena, CUDA graph capture and replay;
# they must pass, not skip), then `nnc-rt bench` of every artifact with CUDA
# graphs on and off in the same run (the ratio says whether graphs pay), with
# the device memory the arena took (compare with "arena N B"). Exits non-zero
# if a unit test fails or skips or an artifact fails to run.
set -u
mode=${1:?prepare or run}
dir=${2:?directory of the artifacts}
build=${3:-build}
status=0
mkdir -p "$dir"

if [[ $mode == prepare ]]; then
  cuda=${CUDA_ROOT:-/usr/local/cuda}
  for target in isa:sm_80 fatbin:sm_80 fatbin:sm_90; do
    format=${target%%:*} chip=${target##*:} out=$dir/relu-$format-$chip
    env CUDA_ROOT="$cuda" mlir-opt test/runtime/Inputs/gpu_relu.mlir -o "$out.llvm.mlir" \
      --pass-pipeline="builtin.module(func.func(gpu-map-parallel-loops,convert-parallel-loops-to-gpu),lower-affine,gpu-kernel-outlining,gpu-lower-to-nvvm-pipeline{cubin-chip=$chip cubin-features=+ptx80 cubin-format=$format})" &&
      mlir-translate --mlir-to-llvmir "$out.llvm.mlir" -o "$out.ll" &&
      llc -filetype=obj -relocation-model=pic "$out.ll" -o "$out.o" &&
      clang-22 -shared -fPIC "$out.o" test/runtime/Inputs/gpu_relu_table.c -o "$out.so" \
        -L"$build/lib" -lnnc_runtime || status=1
    rm -f "$out.llvm.mlir" "$out.ll" "$out.o"
  done
  for model in lenet resnet lstm_rows; do
    "$build/bin/nnc" build "examples/$model.nn" --device gpu --train --batch 64 \
      -o "$dir/$model.so" || echo "(no GPU artifact for $model)"
  done
  ls -l "$dir"
  exit $status
fi

export LD_LIBRARY_PATH=$build/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
echo "== GPU-only unit tests (must pass, not skip)"
out=$("$build/bin/nnc-runtime-tests" --gtest_filter='Gpu*:DeviceArena*' 2>&1)
echo "$out" | grep -E '^\[ *(OK|FAILED|SKIPPED) *\]|needs a GPU|Failure|Expected|Which is'
if echo "$out" | grep -qE '^\[ *(FAILED|SKIPPED) *\]'; then status=1; fi
"$build/bin/nnc-rt" info
for so in "$dir"/*.so; do
  for graphs in 1 0; do
    echo "== $so, NNC_CUDA_GRAPHS=$graphs"
    NNC_CUDA_GRAPHS=$graphs timeout 300 "$build/bin/nnc-rt" bench "$so" --iterations 100 \
      --warmup 5 || status=1
  done
done
exit $status
