"""Runs a model's forward on one input with several sets of weights in one
process and checks that each result equals, bit for bit, a fresh process's
forward with those weights: the runtime keeps weights reordered into
oneDNN's layout across calls (runtime/KernelsConv.cpp) and must never serve a
stale copy after the weights change.

Usage: weights_change.py MODEL.so     (prints one line per check)
       weights_change.py MODEL.so --fresh SEED [BUMP]   (one forward; internal)
"""
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nnc_abi import Artifact  # noqa: E402


def write_weights(model, seed, bump):
    """Seeded weights (positive running variances); `bump` adds 2 to the
    last element of conv2.weight."""
    rng = random.Random(seed)
    for r in model.info["regions"]:
        if r["kind"] not in ("param", "buffer") or r["dtype"] != "f32":
            continue
        n = model.count(r)
        lo = 0.5 if r["name"].endswith("running_var") else -0.5
        values = [rng.uniform(lo, lo + 1.0) for _ in range(n)]
        if bump and r["name"] == "conv2.weight":
            values[-1] += 2.0
        model.write(r["name"], values)


def forward(model):
    rng = random.Random(7)
    image = model.regions["forward.image"]
    model.write("forward.image", [rng.uniform(-1, 1) for _ in range(model.count(image))])
    model.run("forward")
    return model.read("forward.logits")


def fresh(path, seed, bump):
    """The logits of a new process's first forward with these weights."""
    out = subprocess.run([sys.executable, __file__, path, "--fresh", str(seed), str(bump)],
                         check=True, capture_output=True, text=True).stdout
    return [float.fromhex(v) for v in out.split()]


def main():
    path = sys.argv[1]
    if len(sys.argv) > 2 and sys.argv[2] == "--fresh":
        model = Artifact(path)
        write_weights(model, int(sys.argv[3]), int(sys.argv[4]))
        print(" ".join(v.hex() for v in forward(model)))
        return
    model = Artifact(path)
    seen = []
    # Weights A twice, new weights B at the same addresses, B with one
    # element changed in place (the last one), then A again.
    for label, seed, bump in [("A", 1, 0), ("A again", 1, 0), ("B", 2, 0),
                              ("B with its last conv2 weight changed", 2, 1),
                              ("A after B", 1, 0)]:
        write_weights(model, seed, bump)
        got = forward(model)
        want = fresh(path, seed, bump)
        status = "equals" if got == want else "DIFFERS from"
        print(f"{label}: logits {status} a fresh process's")
        seen.append(got)
    distinct = len({tuple(v) for v in seen})
    print(f"{distinct} distinct results")


if __name__ == "__main__":
    main()
