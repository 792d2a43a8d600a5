#!/usr/bin/env python3
"""Runs two built models through the C ABI (docs/abi.md) with ctypes: NORMED
(a train section with normalize) on raw inputs in [0, 1] and PLAIN (the same
model without it) on inputs normalized here. Both get the same weights.

Usage: abi_normalize.py NORMED.so PLAIN.so OUT.safetensors
Prints the largest difference of the outputs and exits 1 if the artifacts
disagree or NORMED did not normalize; writes the weights, the raw input
(`__input`) and PLAIN's output (`__output`) to OUT for `nnc run --check`.
"""
import os
import random
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nnc_abi import Artifact, write_safetensors  # noqa: E402

MEAN, STD = [0.5, 0.4, 0.3], [0.25, 0.2, 0.1]


def f32(v):
    return struct.unpack("<f", struct.pack("<f", v))[0]


def main():
    normed, plain = Artifact(sys.argv[1]), Artifact(sys.argv[2])
    if "normalize" in normed.info:
        sys.exit("the model table still carries 'normalize' for the caller to apply")
    rng = random.Random(7)
    weights = {}
    for r in normed.info["regions"]:
        if r["kind"] == "param":
            weights[r["name"]] = (r["shape"], [f32(rng.uniform(-0.5, 0.5))
                                               for _ in range(r["bytes"] // 4)])
    for model in (normed, plain):
        for name, (_, values) in weights.items():
            model.write(name, values)
    shape = normed.regions["forward.image"]["shape"]
    plane = shape[2] * shape[3]
    raw = [f32(rng.random()) for _ in range(normed.regions["forward.image"]["bytes"] // 4)]
    # (x - mean[c]) * (1 / std[c]), each step rounded to f32 as the artifact does.
    scaled = [f32(f32(x - f32(MEAN[i // plane % 3])) * f32(1 / f32(STD[i // plane % 3])))
              for i, x in enumerate(raw)]
    normed.write("forward.image", raw)
    plain.write("forward.image", scaled)
    normed.run("forward")
    plain.run("forward")
    got, want = normed.read("forward.logits"), plain.read("forward.logits")
    worst = max(abs(a - b) / (1 + abs(b)) for a, b in zip(got, want))
    print(f"normed(x) vs plain((x - mean) / std): {len(got)} outputs, max difference {worst:.1e}")
    plain.write("forward.image", raw)
    plain.run("forward")
    unnormalized = plain.read("forward.logits")
    gap = max(abs(a - b) for a, b in zip(got, unnormalized))
    print(f"normed(x) vs plain(x): max difference {'large' if gap > 0.1 else 'small'}")

    tensors = dict(weights)
    tensors["__input"] = (shape, raw)
    tensors["__output"] = (normed.regions["forward.logits"]["shape"], want)
    write_safetensors(sys.argv[3], tensors)
    sys.exit(0 if worst <= 1e-6 and gap > 0.1 else 1)


main()
