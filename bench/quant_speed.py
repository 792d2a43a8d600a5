#!/usr/bin/env python3
"""nnc's int8 inference (nnc quantize) vs nnc's own f32, per model, at batch 64.

  python3 bench/quant_speed.py --lenet LENET_Q.safetensors --resnet RESNET_Q.safetensors
      [--nnc build/bin/nnc] [--rounds 3] [--iterations 50] [--threads 1,2]

For each model given its quantized weights (written by `nnc quantize` at batch
64; LeNet is examples/lenet.nn, the ResNet examples/resnet.nn -D channels=1
-D size=28), builds the f32 forward pass and the int8 one once each
(`nnc build`, `nnc build --quantized`), then times both with `nnc bench
--artifact --entry forward` (the int8 weights loaded into a copy of the
artifact's arena are not needed for timing: the kernels do the same work for any
values), alternating within each round, for each thread count. Prints the best
time of each over rounds and thread counts and f32/int8 (> 1: int8 is faster).
Not a pass/fail test: the numbers depend on the machine and its load.
"""
import argparse
import os
import re
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = {"lenet": ["examples/lenet.nn"],
          "resnet": ["examples/resnet.nn", "-D", "channels=1", "-D", "size=28"]}


def forward_ms(nnc, artifact, iterations, threads):
    out = subprocess.run([nnc, "bench", "--artifact", artifact, "--entry", "forward",
                          "--iterations", str(iterations), "--threads", str(threads)],
                         check=True, capture_output=True, text=True).stdout
    return float(re.search(r"^forward\s+([0-9.]+) ms", out, re.M).group(1))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--nnc", default=os.path.join(ROOT, "build", "bin", "nnc"))
    parser.add_argument("--lenet")
    parser.add_argument("--resnet")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--threads", default="1,2")
    args = parser.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        for name, quantized in (("lenet", args.lenet), ("resnet", args.resnet)):
            if not quantized:
                continue
            model = [os.path.join(ROOT, MODELS[name][0])] + MODELS[name][1:] + ["--batch", "64"]
            f32 = os.path.join(tmp, name + "-f32.so")
            int8 = os.path.join(tmp, name + "-int8.so")
            subprocess.run([args.nnc, "build"] + model + ["-o", f32], check=True)
            subprocess.run([args.nnc, "build"] + model + ["--quantized", quantized, "-o", int8],
                           check=True)
            best = {"f32": float("inf"), "int8": float("inf")}
            for _ in range(args.rounds):
                for t in threads:
                    for kind, artifact in (("f32", f32), ("int8", int8)):
                        best[kind] = min(best[kind],
                                         forward_ms(args.nnc, artifact, args.iterations, t))
            print("%-7s batch 64 forward: f32 %8.3f ms  int8 %8.3f ms  f32/int8 %.2f"
                  % (name, best["f32"], best["int8"], best["f32"] / best["int8"]))


if __name__ == "__main__":
    main()
