#!/usr/bin/env python3
"""The GPU kernels nnc generates for every example (no GPU needed).

For each example, inference and training step (--train), at --batch (64):
the number of kernels (`nnc compile -emit=ptx`), how many of them have
vector loads (ld.global.v2/v4) and vector loads or stores (-nn-gpu-map's
vector-width), the PTX size, the three
kernels that use the most registers with their registers, spill bytes
(stores + loads) and shared memory as `ptxas -v` reports them for --arch
(sm_80), and the time of `nnc build --device gpu` and, alternating with it in
the same run, of the CPU's `nnc build` (best of --rounds each). Any kernel that
spills or has a stack frame is listed after the table, and per example the
kernels with shared memory (block reductions) and their bytes. Not a test: build
times depend on the machine's load (compare the two columns, not runs).

  python3 bench/gpu_kernels.py [--nnc build/bin/nnc] [--batch 64] [--arch sm_80]
      [--rounds 1] [--only lenet]      # about 1 CPU-minute per round
"""

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cuda_root():
    """The CUDA toolkit as nnc finds it (codegen/GPUPipeline.cpp)."""
    if os.environ.get("CUDA_ROOT"):
        return os.environ["CUDA_ROOT"]
    candidates = [os.environ.get("CUDA_HOME")]
    ptxas = shutil.which("ptxas")
    if ptxas:
        candidates.append(os.path.dirname(os.path.dirname(os.path.realpath(ptxas))))
    candidates.append("/usr/local/cuda")
    for c in candidates:
        if c and os.access(os.path.join(c, "bin", "ptxas"), os.X_OK):
            return c
    sys.exit("gpu_kernels.py: no CUDA toolkit (ptxas) found; set CUDA_ROOT")


def ptxas_report(ptxas, ptx, arch, workdir):
    """{kernel: (registers, spill bytes, stack bytes, shared bytes)}."""
    p = subprocess.run([ptxas, "-v", "-arch=" + arch, ptx, "-o",
                        os.path.join(workdir, "k.cubin")], capture_output=True, text=True)
    if p.returncode:
        sys.exit(f"ptxas failed on {ptx}:\n{p.stderr}")
    info, entry = {}, None
    for line in (p.stdout + p.stderr).splitlines():
        m = re.search(r"Compiling entry function '(\w+)'", line)
        if m:
            entry = m.group(1)
            info[entry] = [0, 0, 0, 0]
        m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads",
                      line)
        if m and entry:
            info[entry][1] = int(m.group(2)) + int(m.group(3))
            info[entry][2] = int(m.group(1))
        m = re.search(r"Used (\d+) registers", line)
        if m and entry:
            info[entry][0] = int(m.group(1))
            s = re.search(r"(\d+) bytes smem", line)
            info[entry][3] = int(s.group(1)) if s else 0
    return info


def vector_kernels(ptx):
    """(kernels with vector loads, kernels with vector loads or stores) of a PTX file."""
    loads = either = 0
    with open(ptx) as f:
        for kernel in f.read().split(".entry ")[1:]:
            load = re.search(r"\bld\.global(\.nc)?\.v[24]\.", kernel) is not None
            loads += load
            either += load or re.search(r"\bst\.global\.v[24]\.", kernel) is not None
    return loads, either


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nnc", default=os.path.join(ROOT, "build", "bin", "nnc"))
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--arch", default="sm_80")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    cuda = cuda_root()
    env = dict(os.environ, CUDA_ROOT=cuda)
    ptxas = os.path.join(cuda, "bin", "ptxas")
    examples = sorted(glob.glob(os.path.join(ROOT, "examples", "*.nn")))
    rows, spills, shared = [], [], []
    with tempfile.TemporaryDirectory(prefix="nnc-gpu-kernels") as tmp:
        for path in examples:
            name = os.path.splitext(os.path.basename(path))[0]
            if args.only and name != args.only:
                continue
            for train in (False, True):
                flags = ["--batch", str(args.batch)] + (["--train"] if train else [])
                ptx = os.path.join(tmp, name + ".ptx")
                subprocess.run([args.nnc, "compile", path, "-emit=ptx", "--gpu-arch", args.arch,
                                "-o", ptx] + flags, check=True, env=env)
                info = ptxas_report(ptxas, ptx, args.arch, tmp)
                best = {"gpu": None, "cpu": None}
                for _ in range(args.rounds):
                    for device in ("gpu", "cpu"):
                        start = time.perf_counter()
                        arch = ["--gpu-arch", args.arch] if device == "gpu" else []
                        subprocess.run([args.nnc, "build", path, "--device", device] + arch +
                                       ["-o", os.path.join(tmp, name + ".so")] + flags,
                                       check=True, env=env)
                        elapsed = time.perf_counter() - start
                        if best[device] is None or elapsed < best[device]:
                            best[device] = elapsed
                top = sorted(info.items(), key=lambda kv: -kv[1][0])[:3]
                label = name + (" train" if train else "")
                rows.append((label, len(info), vector_kernels(ptx), os.path.getsize(ptx), top,
                             best))
                shared.append((label, [v[3] for v in info.values() if v[3]]))
                spills += [(label, k, v) for k, v in info.items() if v[1] or v[2]]
    print(f"GPU kernels at batch {args.batch}, ptxas -v -arch={args.arch}; biggest kernels by "
          "registers as name: registers / spill bytes / shared bytes")
    print("vector: kernels with vector loads / with vector loads or stores")
    print(f"{'model':<16} {'kernels':>7} {'vector':>7} {'PTX KiB':>8} {'build s':>7} "
          f"{'CPU s':>6}  biggest kernels")
    for label, n, (vload, vany), size, top, best in rows:
        biggest = ", ".join(f"{k}: {v[0]}/{v[1]}/{v[3]}" for k, v in top)
        print(f"{label:<16} {n:>7} {f'{vload}/{vany}':>7} {size / 1024:>8.1f} "
              f"{best['gpu']:>7.2f} {best['cpu']:>6.2f}  {biggest}")
    print("kernels with shared memory (block reductions: gpu.all_reduce):")
    for label, sizes in shared:
        if sizes:
            print(f"  {label}: {len(sizes)} kernels, {min(sizes)} to {max(sizes)} bytes")
    if spills:
        print("kernels with spills or a stack frame:")
        for label, k, v in spills:
            print(f"  {label} {k}: {v[1]} spill bytes, {v[2]} bytes stack frame")
    else:
        print("no kernel spills or has a stack frame")


if __name__ == "__main__":
    main()
