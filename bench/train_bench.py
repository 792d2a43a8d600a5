#!/usr/bin/python3
"""nnc vs PyTorch (CPU): training-step time and inference time, side by side.

Run with Debian's python3-torch:
  /usr/bin/python3 bench/train_bench.py [--nnc build/bin/nnc]
      [--baseline-nnc OLD/nnc] [--rounds 2] [--iters 30] [--compile-time]

Lines (the issue 9 table): LeNet-5 and the 28-row LSTM classifier (train step
and inference at batch 64, inference at batch 1) and the ResNet example
(32x32 RGB; train step at batch 128, inference at batch 64 and 1). The
PyTorch models are the project's own equivalents in scripts/torch_reference.py;
both sides use the model's optimizer (tiny learning rate) and synthetic data.

Each round runs every line with nnc, then the baseline nnc (if given), then
PyTorch, at 1 and 2 threads; a line keeps, per implementation, its fastest
median over rounds and thread counts (the thread count is printed next to the
time). Columns: times in ms; PyTorch/nnc (> 1: nnc is faster); the achieved
GFLOP/s of each (FLOPs from `nnc report --format json`: `training_step` for a
train step, `forward` for inference; the optimizer update is not counted);
nnc's library share (time inside library calls: GEMM, linear, conv2d,
recurrent layers; the rest is generated code, from `nnc bench --profile`) and
library calls per step; with --baseline-nnc, the old binary's time, new/old
(< 1: the new binary is faster) and the noise (how much the rounds of the
new or the old binary differ at their best thread count; `!` marks a line
slower by more than 5% and more than the noise).
The header states the machine's SGEMM rate through nnc_gemm
(bench/sgemm_rate.py), the ceiling of the GFLOP/s columns. --compile-time
also times `nnc build --train` of every example (bench/compile_time.py). See bench/README.md. Nothing here is a pass/fail
test: the numbers depend on the machine and its load.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from torch_reference import CharGPT, LeNet, LSTMRows, ResNet  # noqa: E402

THREADS = (1, 2)


class Case:
    """One model: its nnc file, PyTorch class, sample shape, optimizer, the
    batch of its train-step line and the share of --iters its lines run
    (the ResNet step at batch 128 takes about a second)."""

    def __init__(self, name, path, cls, sample, optimizer, step_batch, scale=1.0, vocab=0,
                 inference=(64, 1)):
        self.name, self.path, self.cls, self.sample = name, path, cls, sample
        self.optimizer, self.step_batch, self.scale = optimizer, step_batch, scale
        # A language model (vocab > 0): token ids in, a label per position.
        self.vocab, self.inference = vocab, inference

    def lines(self):
        """(key, label, entry, batch) of each line."""
        return ([("step", f"train step b{self.step_batch}", "train_step", self.step_batch)] +
                [(f"b{b}", f"inference b{b}", "forward", b) for b in self.inference])

    def batch(self, batch):
        """A random input batch and its labels (10 classes, or for a language
        model a token id per position)."""
        if self.vocab:
            return (torch.randint(0, self.vocab, (batch, *self.sample)),
                    torch.randint(0, self.vocab, (batch, *self.sample)))
        return torch.rand(batch, *self.sample), torch.randint(0, 10, (batch,))

    def iterations(self, key, iters):
        # Batch 1 inference is cheap everywhere: full --iters.
        return iters if key == "b1" else max(3, int(iters * self.scale))


CASES = [
    Case("LeNet-5", "examples/lenet.nn", LeNet, (1, 28, 28), "adam", 64),
    Case("LSTM(28->128)", "examples/lstm_rows.nn", LSTMRows, (1, 28, 28), "adam", 64),
    Case("ResNet 32x32", "examples/resnet.nn", ResNet, (3, 32, 32), "momentum", 128,
         scale=0.1),
    # examples/chargpt.nn: CharGPT() is the same model (layernorms, positions, tied head).
    Case("char GPT (4x128, T=128)", "examples/chargpt.nn", CharGPT, (128,), "adamw", 32,
         scale=0.3, vocab=256, inference=(1,)),
]


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def timed(fn, iters, warmup):
    ts = []
    for i in range(iters + warmup):
        t = time.perf_counter()
        fn()
        if i >= warmup:
            ts.append((time.perf_counter() - t) * 1e3)
    return median(ts)


def torch_times(case, threads, iters):
    """{key: {"ms": median ms}} of every line of `case` in PyTorch."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    m = case.cls()
    if case.optimizer == "adam":
        opt = torch.optim.Adam(m.parameters(), lr=1e-6)
    elif case.optimizer == "adamw":
        opt = torch.optim.AdamW(m.parameters(), lr=1e-6)
    else:
        opt = torch.optim.SGD(m.parameters(), lr=1e-6, momentum=0.9)
    out = {}
    for key, _, entry, batch in case.lines():
        n = case.iterations(key, iters)
        x, y = case.batch(batch)
        if entry == "train_step":
            m.train()

            def step():
                logits = m(x)
                # A language model's logits [N, T, V]: every position is a row.
                loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
                opt.zero_grad()
                loss.backward()
                opt.step()
            out[key] = {"ms": timed(step, n, 1 if case.scale < 1 else 3)}
        else:
            m.eval()
            with torch.no_grad():
                out[key] = {"ms": timed(lambda: m(x), n, 3)}
    return out


PROFILE = re.compile(r"^  mean step ([0-9.]+) ms = library ([0-9.]+) ms .*; "
                     r"[0-9.]+ library calls per step \((\d+) in (\d+) steps\)", re.M)


class Nnc:
    """An nnc binary and what its `bench` supports (older ones lack --entry,
    --warmup and --profile; they then time both entry points with 3 warm-up
    runs, and the script keeps the one it needs)."""

    def __init__(self, path):
        self.path = path
        help_text = subprocess.run([path, "bench", "--help"], capture_output=True,
                                   text=True).stdout
        self.new = "--entry" in help_text and "--profile" in help_text

    def times(self, case, threads, iters):
        """{key: {"ms", and with --profile "share", "calls"}} for `case`."""
        out = {}
        for key, _, entry, batch in case.lines():
            cmd = [self.path, "bench", os.path.join(ROOT, case.path), "--batch", str(batch),
                   "--threads", str(threads), "--iterations", str(case.iterations(key, iters))]
            if self.new:
                cmd += ["--entry", entry, "--profile"]
                if case.scale < 1:
                    cmd += ["--warmup", "1"]
            text = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            # The line of `entry` and, with --profile, the profile line after it.
            m = re.search(rf"^{entry}\s+([0-9.]+) ms.*\n(  mean step.*\n)?", text, re.M)
            r = {"ms": float(m.group(1))}
            p = PROFILE.match(m.group(2) or "")
            if p:
                step, lib, calls, steps = map(float, p.groups())
                r["share"] = lib / step if step > 0 else 0.0
                r["calls"] = calls / steps
            out[key] = r
        return out


def report_flops(nnc, case):
    """FLOPs of each line of `case` from nnc's own cost report."""
    out = {}
    for key, _, entry, batch in case.lines():
        text = subprocess.run([nnc, "report", os.path.join(ROOT, case.path), "--batch",
                               str(batch), "--format", "json"],
                              check=True, capture_output=True, text=True).stdout
        flops = json.loads(text)["flops"]
        out[key] = flops["training_step" if entry == "train_step" else "forward"]
    return out


def sgemm_rate(nnc):
    """bench/sgemm_rate.py's line for `nnc` (its own process), or None."""
    r = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "sgemm_rate.py"),
                        "--nnc", nnc], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None


def keep_best(best, threads, results):
    """Per line, the fastest run so far (with its thread count) and the
    times of every round at that thread count (the spread between them is
    the noise of the line)."""
    for key, r in results.items():
        rounds = best.get(key, {}).get("rounds", {})
        rounds.setdefault(threads, []).append(r["ms"])
        if key not in best or r["ms"] < best[key]["ms"]:
            best[key] = dict(r, threads=threads)
        best[key]["rounds"] = rounds


def spread(r):
    """How much slower the slowest round was than the fastest at the line's
    best thread count (0 with one round)."""
    times = r["rounds"][r["threads"]]
    return max(times) / min(times) - 1


def fmt_time(r):
    return f"{r['ms']:9.3f} ({r['threads']})"


def main():
    parser = argparse.ArgumentParser(
        description="nnc vs PyTorch: train step and inference, alternating in one run")
    parser.add_argument("--nnc", default=os.path.join(ROOT, "build", "bin", "nnc"))
    parser.add_argument("--baseline-nnc", metavar="PATH",
                        help="another nnc binary run alternately on the same lines; "
                             "prints its times and new/old")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--iters", type=int, default=30,
                        help="timed iterations per line (the ResNet step and b64 "
                             "inference run a tenth, at least 3)")
    parser.add_argument("--compile-time", action="store_true",
                        help="also time `nnc build --train` of every example "
                             "(bench/compile_time.py)")
    parser.add_argument("--only", metavar="NAME",
                        help="only the models whose name contains NAME")
    args = parser.parse_args()

    cases = [c for c in CASES if not args.only or args.only.lower() in c.name.lower()]
    impls = [("nnc", Nnc(args.nnc))]
    if args.baseline_nnc:
        impls.append(("old", Nnc(args.baseline_nnc)))
    print(f"nnc {args.nnc}" + (f" vs old {args.baseline_nnc}" if args.baseline_nnc else "")
          + f"; torch {torch.__version__}; {os.cpu_count()} cores; {args.rounds} "
          f"alternating rounds at {' and '.join(map(str, THREADS))} thread(s); "
          f"median of {args.iters} iterations (ResNet step and b64: "
          f"{CASES[2].iterations('step', args.iters)})")
    sgemm = sgemm_rate(args.nnc)
    if sgemm:
        print(f"the machine's SGEMM rate, 1024^3 through nnc_gemm (bench/sgemm_rate.py): "
              f"{sgemm.removeprefix('sgemm ')}")
    header = (f"{'':28} {'PyTorch ms':>14} {'nnc ms':>14} {'PT/nnc':>7} {'PT GF/s':>8} "
              f"{'nnc GF/s':>8} {'nnc lib':>8} {'calls':>6}")
    if args.baseline_nnc:
        header += f" {'old nnc ms':>14} {'new/old':>8} {'noise':>6}"
    print("\n" + header)
    start = time.perf_counter()
    for case in cases:
        flops = report_flops(args.nnc, case)
        best = {name: {} for name in ["torch"] + [n for n, _ in impls]}
        for _ in range(args.rounds):
            for t in THREADS:
                for name, nnc in impls:
                    keep_best(best[name], t, nnc.times(case, t, args.iters))
                keep_best(best["torch"], t, torch_times(case, t, args.iters))
        for key, label, _, _ in case.lines():
            tr, nr = best["torch"][key], best["nnc"][key]
            gf = flops[key] * 1e-6
            row = (f"{case.name + ' ' + label:28} {fmt_time(tr):>14} {fmt_time(nr):>14} "
                   f"{tr['ms'] / nr['ms']:6.2f}x {gf / tr['ms']:8.2f} {gf / nr['ms']:8.2f}")
            if "share" in nr:
                row += f" {100 * nr['share']:7.1f}% {nr['calls']:6.0f}"
            else:
                row += f" {'-':>8} {'-':>6}"
            if args.baseline_nnc:
                orow = best["old"][key]
                ratio = nr["ms"] / orow["ms"]
                noise = max(spread(nr), spread(orow))
                slower = ratio - 1 > max(0.05, noise)
                row += (f" {fmt_time(orow):>14} {ratio:7.2f}{'!' if slower else ' '}"
                        f" {100 * noise:5.0f}%")
            print(row, flush=True)
    print(f"(bench time {time.perf_counter() - start:.0f} s)")

    if args.compile_time:
        import compile_time
        print()
        compile_time.run(args.nnc, args.baseline_nnc, args.rounds)


if __name__ == "__main__":
    main()
