#!/usr/bin/python3
"""Wall time of `nnc report` on a GPT-3-sized model (issue 14).

  python3 bench/report_time.py [MODEL.nn] [-D name=value ...] [--batch N]
                               [--nnc build/bin/nnc] [--baseline-nnc OLD/nnc]
                               [--rounds 5] [--memory-budget BYTES]

Without MODEL and -D: examples/chargpt.nn at GPT-3's shape (96 layers,
d_model 12288, 96 heads, context 2048, vocab 50257); with MODEL (e.g.
examples/gpt2.nn), only the -D given. Runs the report `rounds` times,
alternating with the baseline binary if given, and prints the fastest wall
time of each (the goal of issue 14: under 1 s, with no work or memory in the
compiler proportional to the parameter count). Checks that both binaries
print the same report. A benchmark, not a timed test: run it on a quiet
machine and compare numbers from the same run only.
"""
import argparse
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_MODEL = os.path.join(ROOT, "examples", "chargpt.nn")
GPT3 = ["layers=96", "d_model=12288", "heads=96", "context=2048", "vocab=50257"]
GOAL_S = 1.0


def report(nnc, command):
    """The report's text and its wall time."""
    t = time.perf_counter()
    p = subprocess.run([nnc] + command, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"{nnc} {' '.join(command)} failed:\n{p.stderr}")
    return p.stdout, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", help="model file (default: examples/chargpt.nn "
                        "at GPT-3's shape)")
    parser.add_argument("-D", dest="defines", action="append", default=[],
                        metavar="NAME=VALUE", help="hyperparameter override (repeatable)")
    parser.add_argument("--batch", type=int, help="batch (default: the model's)")
    parser.add_argument("--memory-budget", metavar="BYTES",
                        help="also fit the training arena into BYTES (--memory-budget)")
    parser.add_argument("--nnc", default=os.path.join(ROOT, "build", "bin", "nnc"))
    parser.add_argument("--baseline-nnc", metavar="PATH")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    model = args.model or DEFAULT_MODEL
    defines = args.defines if (args.model or args.defines) else GPT3
    command = ["report", model]
    for d in defines:
        command += ["-D", d]
    if args.batch:
        command += ["--batch", str(args.batch)]
    if args.memory_budget:
        command += ["--memory-budget", args.memory_budget]
    binaries = [args.nnc] + ([args.baseline_nnc] if args.baseline_nnc else [])
    print("nnc " + " ".join(os.path.relpath(c, ROOT) if c == model else c for c in command))
    best = [float("inf")] * len(binaries)
    texts = [None] * len(binaries)
    for _ in range(args.rounds):
        for i, binary in enumerate(binaries):
            texts[i], seconds = report(binary, command)
            best[i] = min(best[i], seconds)
    print(f"best of {args.rounds}: {best[0]:.3f} s (goal {GOAL_S:.0f} s)"
          + ("" if best[0] <= GOAL_S else "  over the goal"))
    if args.baseline_nnc:
        print(f"baseline: {best[1]:.3f} s; new/old {best[0] / best[1]:.2f}; reports "
              + ("identical" if texts[0] == texts[1] else "DIFFER"))


if __name__ == "__main__":
    main()
