"""Finite-difference check of a compiled model's gradients (plain Python).

gradcheck.py MODEL.so [--samples K] [--eps E] [--tolerance T] [--seed S]

MODEL.so must be built with `nnc build --train --optimizer sgd` (plain SGD,
no weight decay): one train_step with learning rate lr turns each parameter
w into w - lr * dL/dw, so the step reveals the analytic gradient
g = (w - w') / lr. For K elements of every parameter (spread over it) the
script compares g with the central difference (L(w + eps) - L(w - eps)) /
2 eps of the loss that train_step reports, on the same seeded batch (inputs,
labels, step and dropout seed fixed; batchnorm uses batch statistics, as the
gradient does). Error: |g - numeric| / max(1, |numeric|); fails above the
tolerance. Uses only ctypes and the model table (docs/abi.md).
"""
import argparse
import os
import random
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "runtime"))
from nnc_abi import Artifact  # noqa: E402


def f32(x):
    """x rounded to float32."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


class Model(Artifact):
    """The artifact with its train_step entry; get/put read and write regions."""

    get = Artifact.read
    put = Artifact.write

    def train_step(self):
        self.run("train_step")
        return self.read("train_step.loss")[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--samples", type=int, default=6)
    ap.add_argument("--eps", type=float, default=1e-3)
    ap.add_argument("--tolerance", type=float, default=5e-3)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    m = Model(args.model)
    params = [r for r in m.info["regions"] if r["kind"] == "param"]
    if not params:
        sys.exit("the model has no parameters")
    if any(r["kind"] == "state" for r in m.info["regions"]):
        sys.exit("build the model with --optimizer sgd (it has optimizer state)")
    # Seeded parameters, batch, labels; the same step and seed every time.
    weights = {}
    for r in m.info["regions"]:
        name, kind, n = r["name"], r["kind"], m.count(r)
        if kind == "param":
            scale = r.get("scale") or 0.5
            weights[name] = [f32(v) for v in [rng.uniform(-scale, scale) if r.get("init") in
                             ("uniform", "normal") else 1.0 + rng.uniform(-0.2, 0.2)
                             if r.get("init") == "ones" else rng.uniform(-0.1, 0.1)
                             for _ in range(n)]]
        elif kind == "buffer":
            m.put(name, [1.0 if "var" in name else 0.0] * n if r["dtype"] == "f32"
                  else [0] * n)
    inputs = {}
    for r in m.info["regions"]:
        name = r["name"]
        if r["kind"] != "input" or not name.startswith("train_step."):
            continue
        local, n = name.split(".", 1)[1], m.count(r)
        if local == "lr":
            inputs[name] = [1.0]
        elif local in ("step", "seed"):
            inputs[name] = [3]
        elif local == "labels" and r["dtype"] == "i64":
            out = [o for o in m.info["regions"] if o["name"].startswith("forward.")
                   and o["kind"] == "output"][0]
            inputs[name] = [rng.randrange(out["shape"][-1]) for _ in range(n)]
        elif r["dtype"] in ("i64", "i32"):
            vocab = int(m.info.get("hparams", {}).get("vocab", 10))
            inputs[name] = [rng.randrange(vocab) for _ in range(n)]
        else:
            inputs[name] = [rng.uniform(-1, 1) for _ in range(n)]

    def load(overrides=None, lr=1.0):
        for name, values in weights.items():
            m.put(name, values)
        if overrides:
            for name, (i, v) in overrides.items():
                vals = list(weights[name])
                vals[i] = v
                m.put(name, vals)
        for name, values in inputs.items():
            m.put(name, [lr] if name == "train_step.lr" else values)

    load()
    m.train_step()
    updated = {r["name"]: m.get(r["name"]) for r in params}
    load(lr=0.0)
    base = m.train_step()
    worst, checked = 0.0, 0
    for r in params:
        name, n = r["name"], m.count(r)
        w0 = weights[name]
        w1 = updated[name]
        grad = [a - b for a, b in zip(w0, w1)]  # lr = 1
        idx = sorted(set(int(k * n / args.samples) for k in range(args.samples)))
        for i in idx:
            hi, lo = f32(w0[i] + args.eps), f32(w0[i] - args.eps)
            load({name: (i, hi)}, lr=0.0)
            up = m.train_step()
            load({name: (i, lo)}, lr=0.0)
            down = m.train_step()
            # At a kink (relu, max pooling) between w - eps and w + eps the
            # central difference mixes two slopes: the analytic gradient must
            # match it or one of the one-sided differences.
            slopes = [(up - down) / (hi - lo), (up - base) / (hi - w0[i]),
                      (base - down) / (w0[i] - lo)]
            err, numeric = min((abs(grad[i] - d) / max(1.0, abs(d)), d) for d in slopes)
            checked += 1
            if err > worst:
                worst = err
            if err > args.tolerance:
                sys.exit(f"{name}[{i}]: analytic {grad[i]:.6g}, numeric {numeric:.6g} "
                         f"(error {err:.2e} > {args.tolerance:g})")
    print(f"gradcheck: {len(params)} parameters, {checked} elements, "
          f"worst error {worst:.2e}")


if __name__ == "__main__":
    main()
