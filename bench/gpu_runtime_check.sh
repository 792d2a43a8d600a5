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
# if a unit test fails or is skipped or the minimal artifact fails to run.
# Needs LLVM 22's tools (mlir-opt, llc) on PATH for the minimal artifact.
set -u
build=${1:-build}
nnc=$build/bin/nnc
status=0

echo "== GPU-only unit tests (must pass, not skip)"
out=$("$build/bin/nnc-runtime-tests" --gtest_filter='Gpu*:DeviceArena*' 2>&1)
echo "$out" | grep -E '^\[ *(OK|FAILED|SKIPPED) *\]|GPU path|needs a GPU'
if echo "$out" | grep -qE '^\[ *(FAILED|SKIPPED) *\]'; then status=1; fi

# The minimal GPU artifact of test/runtime/gpu-artifact.test (MLIR's own
# gpu.launch_func lowering, no nnc GPU codegen needed): lazy module load,
# launch, graph capture and replay through Model::run.
tmp=$(mktemp -d)
cuda=${CUDA_ROOT:-/usr/local/cuda}
# The device's architecture (a cubin runs only on its own major version).
cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n 1 | tr -d .)
chip=sm_${cc:-80}
# isa: PTX, loaded through mgpuModuleLoadJIT; fatbin: a cubin, mgpuModuleLoad.
for format in isa fatbin; do
  echo "== test/runtime/Inputs/gpu_relu.mlir as an artifact ($format, $chip)"
  if env CUDA_ROOT="$cuda" mlir-opt test/runtime/Inputs/gpu_relu.mlir -o "$tmp/relu.llvm.mlir" \
       --pass-pipeline="builtin.module(func.func(gpu-map-parallel-loops,convert-parallel-loops-to-gpu),lower-affine,gpu-kernel-outlining,gpu-lower-to-nvvm-pipeline{cubin-chip=$chip cubin-features=+ptx80 cubin-format=$format})" &&
     mlir-translate --mlir-to-llvmir "$tmp/relu.llvm.mlir" -o "$tmp/relu.ll" &&
     llc -filetype=obj -relocation-model=pic "$tmp/relu.ll" -o "$tmp/relu.o" &&
     clang-22 -shared -fPIC "$tmp/relu.o" test/runtime/Inputs/gpu_relu_table.c -o "$tmp/relu.so" \
       -L"$build/lib" -lnnc_runtime -Wl,-rpath,"$PWD/$build/lib"; then
    for graphs in 1 0; do
      NNC_CUDA_GRAPHS=$graphs "$nnc" bench --artifact "$tmp/relu.so" --iterations 100 || status=1
    done
  else
    echo "could not build the artifact (needs mlir-opt, llc, clang-22 and the CUDA toolkit)"
    status=1
  fi
done
rm -rf "$tmp"

for model in examples/lenet.nn examples/resnet.nn examples/lstm_rows.nn; do
  for graphs in 1 0; do
    echo "== $model, NNC_CUDA_GRAPHS=$graphs"
    NNC_CUDA_GRAPHS=$graphs timeout 300 "$nnc" bench "$model" --device gpu --batch 64 \
      --iterations 50 --warmup 5 2>&1 | tail -n 6
  done
done
exit $status
