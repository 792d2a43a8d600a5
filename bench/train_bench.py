#!/usr/bin/python3
"""nnc vs PyTorch (CPU): training-step time and inference throughput.

Run with Debian's python3-torch:  /usr/bin/python3 bench/train_bench.py [--nnc build/bin/nnc]

For LeNet-5 and the 28-row LSTM classifier (batch 64) it measures, alternating
nnc and PyTorch in the same run (rounds x each), the median training-step time
(forward + loss + backward + Adam update) and the inference time at batch 1
and 64. PyTorch runs at its best thread count on this machine (1 and 2 are
tried, the faster is kept); nnc's thread counts are tried the same way and
stated. Prints the ratios PyTorch time / nnc time (> 1: nnc is faster).
Nothing here is a pass/fail test: the numbers depend on the machine and load.
"""
import argparse
import os
import re
import subprocess
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc3(F.relu(self.fc2(x)))


class LstmRows(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm1 = nn.LSTM(28, 128, batch_first=True)
        self.fc1 = nn.Linear(128, 10)

    def forward(self, x):
        _, (h, _) = self.lstm1(x.view(-1, 28, 28))
        return self.fc1(h[-1])


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def torch_times(model_cls, threads, iters):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    m = model_cls()
    opt = torch.optim.Adam(m.parameters(), lr=1e-6)
    x, y = torch.rand(64, 1, 28, 28), torch.randint(0, 10, (64,))
    step = []
    for i in range(iters + 3):
        t = time.perf_counter()
        loss = F.cross_entropy(m(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i >= 3:
            step.append((time.perf_counter() - t) * 1e3)
    infer = {}
    with torch.no_grad():
        for b in (1, 64):
            xb, ts = torch.rand(b, 1, 28, 28), []
            for i in range(iters + 3):
                t = time.perf_counter()
                m(xb)
                if i >= 3:
                    ts.append((time.perf_counter() - t) * 1e3)
            infer[b] = median(ts)
    return {"step": median(step), 1: infer[1], 64: infer[64]}


def nnc_times(nnc, model_file, threads, iters):
    out = {}
    for batch in (64, 1):
        text = subprocess.run(
            [nnc, "bench", model_file, "--batch", str(batch), "--threads", str(threads),
             "--iterations", str(iters)],
            check=True, capture_output=True, text=True).stdout
        ms = dict(re.findall(r"^(\w+)\s+([0-9.]+) ms", text, re.M))
        out[batch] = float(ms["forward"])
        if batch == 64:
            out["step"] = float(ms["train_step"])
    return out


def best(results):
    """The fastest thread count by training-step time, with its numbers."""
    threads = min(results, key=lambda t: results[t]["step"])
    return threads, results[threads]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--nnc", default=os.path.join(ROOT, "build", "bin", "nnc"))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--iters", type=int, default=30)
    args = parser.parse_args()
    cases = [("LeNet-5", LeNet, "examples/lenet.nn"),
             ("LSTM(28->128)", LstmRows, "examples/lstm_rows.nn")]
    print(f"torch {torch.__version__}, {os.cpu_count()} cores; batch 64 training, "
          f"{args.rounds} alternating rounds, median of {args.iters} iterations")
    for name, cls, path in cases:
        tr, nr = {}, {}
        for _ in range(args.rounds):
            for t in (1, 2):
                r = nnc_times(args.nnc, os.path.join(ROOT, path), t, args.iters)
                nr[t] = min((nr.get(t, r), r), key=lambda x: x["step"])
                r = torch_times(cls, t, args.iters)
                tr[t] = min((tr.get(t, r), r), key=lambda x: x["step"])
        tt, tres = best(tr)
        nt, nres = best(nr)
        print(f"\n{name}: PyTorch best at {tt} thread(s), nnc best at {nt} thread(s)")
        print(f"  {'':24} {'PyTorch':>10} {'nnc':>10} {'ratio':>8}")
        for key, label in (("step", "train step (ms)"), (64, "inference b=64 (ms)"),
                           (1, "inference b=1 (ms)")):
            print(f"  {label:24} {tres[key]:10.3f} {nres[key]:10.3f} "
                  f"{tres[key] / nres[key]:7.2f}x")


if __name__ == "__main__":
    main()
