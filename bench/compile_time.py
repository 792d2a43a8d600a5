#!/usr/bin/python3
"""Compile time of every example: `nnc build --train examples/X.nn`.

  python3 bench/compile_time.py [--nnc build/bin/nnc] [--baseline-nnc OLD/nnc]
                                [--rounds 2]

(also run by `bench/train_bench.py --compile-time`). Each example is built at
its train section's batch (the default of `nnc build`), rounds x, alternating
the binaries; the fastest wall time of each is printed, and examples over the
5 s budget of issue 9 are marked `!`. Needs no PyTorch.
"""
import argparse
import glob
import os
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUDGET_S = 5.0


def build_seconds(nnc, example, out):
    """Wall time of one `nnc build --train`."""
    t = time.perf_counter()
    subprocess.run([nnc, "build", "--train", example, "-o", out], check=True,
                   capture_output=True)
    return time.perf_counter() - t


def run(nnc, baseline=None, rounds=2):
    examples = sorted(glob.glob(os.path.join(ROOT, "examples", "*.nn")))
    binaries = [nnc] + ([baseline] if baseline else [])
    print(f"nnc build --train, best of {rounds} (budget {BUDGET_S:.0f} s per example)")
    header = f"{'example':16} {'nnc s':>8}"
    if baseline:
        header += f" {'old nnc s':>10} {'new/old':>8}"
    print(header)
    over = []
    with tempfile.TemporaryDirectory(prefix="nnc-compile-time-") as tmp:
        out = os.path.join(tmp, "model.so")
        for example in examples:
            best = [float("inf")] * len(binaries)
            for _ in range(rounds):
                for i, binary in enumerate(binaries):
                    best[i] = min(best[i], build_seconds(binary, example, out))
            name = os.path.basename(example)
            row = f"{name:16} {best[0]:8.2f}{'!' if best[0] > BUDGET_S else ' '}"
            if baseline:
                row += f" {best[1]:10.2f} {best[0] / best[1]:8.2f}"
            print(row, flush=True)
            if best[0] > BUDGET_S:
                over.append(name)
    print("over budget: " + (", ".join(over) if over else "none"))
    return over


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nnc", default=os.path.join(ROOT, "build", "bin", "nnc"))
    parser.add_argument("--baseline-nnc", metavar="PATH")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    run(args.nnc, args.baseline_nnc, args.rounds)


if __name__ == "__main__":
    main()
