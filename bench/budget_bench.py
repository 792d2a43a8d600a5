#!/usr/bin/env python3
"""What training under a memory budget costs: step time and compile time.

For each model, the planned training arena without a budget (nnc report's
training_memory.arena) and with budgets of a fraction of it
(--memory-budget, docs/training.md): the arena the plan reaches, the extra
FLOPs of recomputation, the `nnc build --train` time and the train step time
(`nnc bench --entry train_step`). The lines of one model are timed in
alternating rounds and the best time of each is kept; the ratio against no
budget is from the same run. Not a test: run it on a quiet machine.

  python3 bench/budget_bench.py [--nnc build/bin/nnc] [--rounds 3]
      [--fractions 0.75,0.5] [--threads 1,2] [--only resnet]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (name, model file, batch, extra compiler flags)
MODELS = [
    ("resnet", "examples/resnet.nn", 64, []),
    ("lenet", "examples/lenet.nn", 64, []),
]


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def report(nnc, path, batch, flags, budget):
    cmd = [nnc, "report", path, "--batch", str(batch), "--format", "json"] + flags
    if budget:
        cmd += ["--memory-budget", str(budget)]
    rc, out, err = run(cmd)
    if rc != 0:
        return None, err.strip().splitlines()[-1] if err.strip() else "failed"
    d = json.loads(out)
    extra = d.get("memory_budget", {}).get("extra_flops", 0)
    recomputed = d.get("memory_budget", {}).get("recomputed", [])
    return (d["training_memory"]["arena"], extra, recomputed, d["training_step_flops"]
            if "training_step_flops" in d else None), None


def step_ms(nnc, path, batch, flags, budget, threads, iters):
    cmd = [nnc, "bench", path, "--batch", str(batch), "--entry", "train_step",
           "--iterations", str(iters), "--warmup", "2", "--threads", str(threads)] + flags
    if budget:
        cmd += ["--memory-budget", str(budget)]
    rc, out, err = run(cmd)
    if rc != 0:
        sys.exit("nnc bench failed: " + " ".join(cmd) + "\n" + err)
    for line in out.splitlines():
        if line.startswith("train_step"):
            return float(line.split()[1])
    sys.exit("no train_step line in: " + out)


def build_s(nnc, path, batch, flags, budget):
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [nnc, "build", "--train", path, "--batch", str(batch), "-o",
               os.path.join(tmp, "m.so")] + flags
        if budget:
            cmd += ["--memory-budget", str(budget)]
        start = time.perf_counter()
        rc, _, err = run(cmd)
        if rc != 0:
            sys.exit("nnc build failed: " + err)
        return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nnc", default=os.path.join(ROOT, "build/bin/nnc"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iters", type=int, default=8)
    ap.add_argument("--fractions", default="0.75,0.5")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    fractions = [float(f) for f in args.fractions.split(",")]
    threads = [int(t) for t in args.threads.split(",")]

    for name, rel, batch, flags in MODELS:
        if args.only not in name:
            continue
        path = os.path.join(ROOT, rel)
        base, why = report(args.nnc, path, batch, flags, None)
        if base is None:
            sys.exit(why)
        arena = base[0]
        lines = [("no budget", None, base)]
        for f in fractions:
            budget = int(arena * f)
            got, why = report(args.nnc, path, batch, flags, budget)
            if got is None:
                print(f"{name} @ {f:.0%} ({budget:,} B): does not fit: {why}")
                continue
            lines.append((f"{f:.0%} budget", budget, got))
        best = {label: float("inf") for label, _, _ in lines}
        for _ in range(args.rounds):
            for label, budget, _ in lines:
                for t in threads:
                    best[label] = min(best[label],
                                      step_ms(args.nnc, path, batch, flags, budget, t, args.iters))
        print(f"{name}, batch {batch}, train step (best of {args.rounds} rounds, threads "
              f"{args.threads}):")
        print(f"  {'line':<12} {'arena B':>14} {'extra FLOP':>14} {'build s':>8} "
              f"{'step ms':>9} {'time ratio':>10}  recomputed")
        for label, budget, (planned, extra, recomputed, _) in lines:
            seconds = build_s(args.nnc, path, batch, flags, budget)
            ratio = best[label] / best["no budget"]
            print(f"  {label:<12} {planned:>14,} {extra:>14,} {seconds:>8.2f} "
                  f"{best[label]:>9.2f} {ratio:>10.2f}  {len(recomputed)} layer(s)")


if __name__ == "__main__":
    main()
