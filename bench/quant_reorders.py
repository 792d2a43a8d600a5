#!/usr/bin/env python3
#===- bench/quant_reorders.py - where the int8/f32 kernel time goes -------===#
# Runs nnc-quant-bench with ONEDNN_VERBOSE=1 and sums oneDNN's own execution
# times per layer and kernel (f32, int8->u8, int8->f32): the convolution or
# matmul primitive, and the layout reorders of the activations (NCHW <-> the
# primitive's layout) the kernels do inside the scratch. Weight reorders run
# only at the first call (kept copies). nnc's f32 linear is dnnl_sgemm, which
# oneDNN does not log: its rows show nothing.
# Usage: bench/quant_reorders.py [--bench build/bin/nnc-quant-bench]
#        [--threads N] [--rounds N]
#===----------------------------------------------------------------------===#
import argparse
import collections
import os
import subprocess

ap = argparse.ArgumentParser()
ap.add_argument("--bench", default="build/bin/nnc-quant-bench")
ap.add_argument("--threads", default="2")
ap.add_argument("--rounds", default="3")
args = ap.parse_args()
env = dict(os.environ, ONEDNN_VERBOSE="1")
out = subprocess.run([args.bench, args.threads, args.rounds], env=env, check=True,
                     capture_output=True, text=True).stdout
# (layer, kind) -> [primitive ms, reorder ms, calls]
acc = collections.defaultdict(lambda: [0.0, 0.0, 0])
layers, layer, kind = [], None, None
for line in out.splitlines():
    if line.startswith("== "):
        layer, kind = line[3:], None
        layers.append(layer)
    elif line.startswith("@@ "):
        _, kind, reps = line.split()
        acc[(layer, kind)][2] += int(reps)
    elif line.startswith("onednn_verbose,exec,") and kind:
        f = line.split(",")
        ms = float(f[-1])
        acc[(layer, kind)][1 if f[3] == "reorder" else 0] += ms
print("ms per call from oneDNN's verbose log (primitive + activation reorders = total;"
      " reorder share)")
print(f"{'layer':28s} " + " ".join(f"{k:>26s}" for k in ("f32", "i8->u8", "i8->f32")))
tot = collections.defaultdict(lambda: [0.0, 0.0])
for l in layers:
    cells = []
    conv = all(acc[(l, k)][0] + acc[(l, k)][1] > 0 for k in ("f32", "i8->u8", "i8->f32"))
    for k in ("f32", "i8->u8", "i8->f32"):
        p, r, n = acc[(l, k)]
        if n == 0 or p + r == 0:
            cells.append(f"{'-':>26s}")
            continue
        p, r = p / n, r / n
        group = "lenet" if l.startswith("lenet") else "resnet"
        if conv:
            tot[(group, k)][0] += p
            tot[(group, k)][1] += r
        cells.append(f"{p:7.3f} + {r:6.3f} = {p + r:6.3f} {100 * r / (p + r):3.0f}%")
    print(f"{l:28s} " + " ".join(cells))
for g in ("resnet", "lenet"):
    cells = []
    for k in ("f32", "i8->u8", "i8->f32"):
        p, r = tot[(g, k)]
        cells.append(f"{p:7.3f} + {r:6.3f} = {p + r:6.3f} {100 * r / max(p + r, 1e-9):3.0f}%")
    print(f"{g + ' convs (sum)':28s} " + " ".join(cells))
