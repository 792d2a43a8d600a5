"""PyTorch's pooling and batchnorm semantics, checked on compiled models
against plain-Python arithmetic (no PyTorch).

pool_bn_semantics.py ties.so special.so stats.so
(models of Inputs/pool_bn_semantics.nn: `ties` and `stats` built with
--train --batch 4, `special` without, at batch 2.)

- ties: every element of the pooled [4, 4] map is equal; the gradient of
  each overlapping 2x2 window goes to its first maximum in row-major order
  (its top-left element), as PyTorch's CPU kernel does.
- special: max pooling of padded windows propagates NaN (the first NaN of
  a window) and returns -inf for a window of -inf; padding never wins.
- stats: one train_step normalizes with the batch's mean and biased
  variance, updates running_mean/running_var with momentum (the variance
  unbiased) and num_batches_tracked; forward then uses the running ones.
"""
import math
import os
import random
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nnc_abi import Artifact  # noqa: E402


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def close(got, want, tol, what):
    for i, (g, w) in enumerate(zip(got, want)):
        if not (abs(g - w) <= tol * max(1.0, abs(w))):
            sys.exit(f"{what}[{i}]: got {g!r}, expected {w!r}")
    if len(got) != len(want):
        sys.exit(f"{what}: {len(got)} values, expected {len(want)}")


def softmax_ce_grad(logits, label, batch):
    """d(mean cross-entropy)/d logits of one sample."""
    m = max(logits)
    e = [math.exp(v - m) for v in logits]
    s = sum(e)
    return [(v / s - (1.0 if c == label else 0.0)) / batch for c, v in enumerate(e)]


def check_ties(path, rng):
    m = Artifact(path)
    n, classes = m.regions["train_step.x"]["shape"][0], 3
    # Every row of fc1 equal, every bias equal: all 16 values of the map tie.
    row = [f32(rng.uniform(-1, 1)) for _ in range(4)]
    m.write("fc1.weight", row * 16)
    m.write("fc1.bias", [0.25] * 16)
    w2 = [f32(rng.uniform(-1, 1)) for _ in range(classes * 9)]
    m.write("fc2.weight", w2)
    m.write("fc2.bias", [0.0] * classes)
    x = [f32(rng.uniform(-1, 1)) for _ in range(n * 4)]
    labels = [i % classes for i in range(n)]
    m.write("train_step.x", x)
    m.write("train_step.labels", labels)
    m.write("train_step.lr", [1.0])
    m.write("train_step.step", [1])
    m.write("train_step.seed", [1])
    m.run("train_step")
    grad_b1 = [0.25 - v for v in m.read("fc1.bias")]
    # The expected gradient: window (r, c) sends dL/dpooled to element
    # (r, c) of the map, its first maximum.
    want = [0.0] * 16
    for s in range(n):
        v = 0.25 + sum(row[k] * x[s * 4 + k] for k in range(4))
        logits = [sum(w2[c * 9 + j] for j in range(9)) * v for c in range(classes)]
        dlogits = softmax_ce_grad(logits, labels[s], n)
        for r in range(3):
            for c in range(3):
                want[r * 4 + c] += sum(w2[k * 9 + r * 3 + c] * dlogits[k]
                                       for k in range(classes))
    close(grad_b1, want, 1e-5, "ties: dL/d fc1.bias")
    print("ties: gradients go to the first maximum of each window")


def check_special(path):
    m = Artifact(path)
    n, H, W = 2, 4, 5
    inf, nan = float("inf"), float("nan")
    x = [f32(0.1 * ((i * 7) % 11) - 0.5) for i in range(n * H * W)]
    x[1] = nan          # sample 0, row 0
    x[7] = nan          # row 1: the second NaN of some windows
    for i in range(n * H * W // 2, n * H * W):
        x[i] = -inf     # sample 1: all -inf
    x[n * H * W - 1] = nan
    m.write("forward.x", x)
    m.run("forward")
    got = m.read("forward.y")
    kh, kw, sh, sw, ph, pw = 2, 3, 2, 1, 1, 1
    OH, OW = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    want = []
    for s in range(n):
        for oh in range(OH):
            for ow in range(OW):
                best = -inf
                for i in range(kh):
                    for j in range(kw):
                        h, w = oh * sh - ph + i, ow * sw - pw + j
                        if 0 <= h < H and 0 <= w < W:
                            v = x[(s * H + h) * W + w]
                            if (v > best or math.isnan(v)) and not math.isnan(best):
                                best = v
                want.append(best)
    if len(got) != len(want):
        sys.exit(f"special: {len(got)} outputs, expected {len(want)}")
    for i, (g, w) in enumerate(zip(got, want)):
        if not (g == w or (math.isnan(g) and math.isnan(w))):
            sys.exit(f"special: y[{i}] = {g!r}, expected {w!r}")
    print(f"special: {sum(math.isnan(v) for v in want)} NaN and "
          f"{sum(v == -inf for v in want)} -inf windows as expected")


def check_stats(path, rng):
    m = Artifact(path)
    n, C, L, classes = 4, 3, 5, 3
    eps, momentum, M = f32(0.001), 0.25, n * L
    g = [f32(rng.uniform(0.5, 1.5)) for _ in range(C)]
    b = [f32(rng.uniform(-0.5, 0.5)) for _ in range(C)]
    rm = [f32(rng.uniform(-1, 1)) for _ in range(C)]
    rv = [f32(rng.uniform(0.5, 2)) for _ in range(C)]
    w = [f32(rng.uniform(-0.3, 0.3)) for _ in range(classes * C * L)]
    for name, values in [("bn1.weight", g), ("bn1.bias", b), ("bn1.running_mean", rm),
                         ("bn1.running_var", rv), ("fc1.weight", w),
                         ("fc1.bias", [0.0] * classes)]:
        m.write(name, values)
    m.write("bn1.num_batches_tracked", [5])
    x = [f32(rng.uniform(-2, 3) + 0.5 * (i // L % C)) for i in range(n * C * L)]
    labels = [i % classes for i in range(n)]
    m.write("train_step.x", x)
    m.write("train_step.labels", labels)
    m.write("train_step.lr", [0.0])  # parameters stay; the statistics move
    m.write("train_step.step", [1])
    m.write("train_step.seed", [1])
    m.run("train_step")

    def channel(c):
        return [x[(s * C + c) * L + i] for s in range(n) for i in range(L)]

    mean = [sum(channel(c)) / M for c in range(C)]
    sq = [sum((v - mean[c]) ** 2 for v in channel(c)) for c in range(C)]

    def loss_of(norm):
        total = 0.0
        for s in range(n):
            y = [norm(c, x[(s * C + c) * L + i]) for c in range(C) for i in range(L)]
            logits = [sum(w[k * C * L + j] * y[j] for j in range(C * L)) for k in range(classes)]
            mx = max(logits)
            total += mx + math.log(sum(math.exp(v - mx) for v in logits)) - logits[labels[s]]
        return total / n

    want_loss = loss_of(lambda c, v: (v - mean[c]) / math.sqrt(sq[c] / M + eps) * g[c] + b[c])
    close(m.read("train_step.loss"), [want_loss], 1e-5, "stats: train_step.loss")
    new_rm = [(1 - momentum) * rm[c] + momentum * mean[c] for c in range(C)]
    new_rv = [(1 - momentum) * rv[c] + momentum * sq[c] / (M - 1) for c in range(C)]
    close(m.read("bn1.running_mean"), new_rm, 1e-6, "stats: running_mean")
    close(m.read("bn1.running_var"), new_rv, 1e-6, "stats: running_var")
    if m.read("bn1.num_batches_tracked") != [6]:
        sys.exit(f"stats: num_batches_tracked = {m.read('bn1.num_batches_tracked')}, expected [6]")
    # Inference normalizes with the running statistics.
    m.write("forward.x", x)
    m.run("forward")
    got = m.read("forward.logits")
    want = []
    for s in range(n):
        y = [(x[(s * C + c) * L + i] - new_rm[c]) / math.sqrt(new_rv[c] + eps) * g[c] + b[c]
             for c in range(C) for i in range(L)]
        want += [sum(w[k * C * L + j] * y[j] for j in range(C * L)) for k in range(classes)]
    close(got, want, 1e-5, "stats: forward.logits")
    print("stats: batch statistics, running statistics and inference as expected")


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    rng = random.Random(11)
    check_ties(sys.argv[1], rng)
    check_special(sys.argv[2])
    check_stats(sys.argv[3], rng)


if __name__ == "__main__":
    main()
