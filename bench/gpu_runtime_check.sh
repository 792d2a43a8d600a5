#!/usr/bin/env bash
#===- bench/gpu_runtime_check.sh - issue 11's checks on a GPU machine ------===#
# Usage: bench/gpu_runtime_check.sh prepare DIR [flags]   (here: LLVM 22 + CUDA toolkit)
#        bench/gpu_runtime_check.sh run DIR [flags]       (on the GPU machine)
#
# The one prepared script for a session that gets a GPU machine (docs/gpu.md,
# "On a GPU machine"): `prepare` builds DIR (runtime, system libraries,
# GPU and CPU artifacts, CPU reference losses; at most 60 MiB), `run` needs
# only DIR and python3 there (PyTorch for its comparison). Without a usable
# GPU, `run` prints one line with the reason and exits 1. The work is in
# bench/gpu_check.py; see its docstring for the phases and tolerances.
exec python3 "$(dirname "${BASH_SOURCE[0]}")/gpu_check.py" "$@"
