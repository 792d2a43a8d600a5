#!/usr/bin/env python3
"""The library GEMM vs nnc's generated matmul (--generated-matmul) on the CPU.

  python3 bench/generated_matmul.py [--nnc build/bin/nnc] [--rounds 5]
      [--iterations 50] [--threads 1]

For linear.nn and lenet.nn at batch 64, builds the
training artifact twice, with oneDNN's linear calls and with the generated
matmul kernels, then times forward and train_step with `nnc bench --artifact`,
the two artifacts alternating within each round so that both see the same
machine load. Prints, per line, the best time over the rounds of each and
generated/library (> 1: the generated kernel is slower). Not a pass/fail
test: the numbers depend on the machine and its load.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LINES = [("linear", 64), ("lenet", 64)]


def bench(nnc, artifact, iterations, threads):
    """{entry: ms} from one `nnc bench --artifact` run."""
    out = subprocess.run([nnc, "bench", "--artifact", artifact, "--iterations", str(iterations),
                          "--threads", str(threads)], check=True, capture_output=True,
                         text=True).stdout
    return {m.group(1): float(m.group(2))
            for m in re.finditer(r"^(forward|train_step)\s+([0-9.]+) ms", out, re.M)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--nnc", default=os.path.join(ROOT, "build", "bin", "nnc"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nnc-gengemm-") as tmp:
        artifacts = {}
        for model, batch in LINES:
            for kind, flags in (("library", []), ("generated", ["--generated-matmul"])):
                path = os.path.join(tmp, f"{model}{batch}.{kind}.so")
                subprocess.run([args.nnc, "build", os.path.join(ROOT, "examples", model + ".nn"),
                                "--train", "--batch", str(batch), "-o", path] + flags,
                               check=True)
                artifacts[model, batch, kind] = path
        best = {}
        for _ in range(args.rounds):
            for (model, batch, kind), path in artifacts.items():
                for entry, ms in bench(args.nnc, path, args.iterations, args.threads).items():
                    key = (model, batch, entry, kind)
                    best[key] = min(best.get(key, ms), ms)
    print(f"{args.threads} thread(s), best of {args.rounds} rounds of {args.iterations} "
          "iterations; times in ms")
    print(f"{'model':<8} {'batch':>5} {'entry':<11} {'library':>9} {'generated':>10} "
          f"{'gen/lib':>8}")
    for model, batch in LINES:
        for entry in ("forward", "train_step"):
            lib = best[model, batch, entry, "library"]
            gen = best[model, batch, entry, "generated"]
            print(f"{model:<8} {batch:>5} {entry:<11} {lib:>9.3f} {gen:>10.3f} {gen / lib:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
