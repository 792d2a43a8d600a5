"""Checks that a model built with `nnc build --gpu-emulate` (its generated
kernels mapped to the GPU, gpu.launch run as loops over block and thread ids)
computes what the normal CPU artifact computes, through the C ABI
(docs/abi.md).

gpu_emulate.py CPU.so EMULATED.so [--tolerance T]

Both artifacts get the same seeded parameters, buffers, optimizer state and
inputs; every entry runs in the model table's order (forward, loss,
train_step) and after each, every output region and (after train_step) every
parameter, buffer and state region must be equal: bit for bit by default
(the mapping changes which thread computes an element, not its arithmetic),
else within the relative tolerance T (|a - b| / (1 + |b|)). Prints one line
per artifact pair; exit 1 on the first mismatch.
"""
import argparse
import ctypes
import os
import random
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nnc_abi import REGION_FORMATS, Artifact  # noqa: E402

# The period of the seeded values (a prime).
PERIOD = 4099


def pattern(values, nbytes, fmt):
    """`values` packed as `fmt` and repeated to `nbytes` bytes (a period of
    a prime number of elements, so that no tile size lines up with it)."""
    one = struct.pack(f"<{len(values)}{fmt}", *values)
    return (one * (nbytes // len(one) + 1))[:nbytes]


def seeded_bytes(model, region, rng):
    """The bytes of an input or persistent region: f32 in [-1, 1] (running
    variances and second moments in [0.5, 1.5]), labels below the class
    count, tokens below the vocabulary size, step 1, seed 5, lr 0.01."""
    name, nbytes = region["name"], region["bytes"]
    if region["dtype"] != "f32":
        fmt = REGION_FORMATS[region["dtype"]]
        if name.endswith(".step"):
            return pattern([1], nbytes, fmt)
        if name.endswith(".seed"):
            return pattern([5], nbytes, fmt)
        if name.endswith(".labels"):
            classes = next(r["shape"][-1] for r in model.info["regions"]
                           if r["kind"] == "output" and r["name"].startswith("forward."))
            return pattern([rng.randrange(classes) for _ in range(PERIOD)], nbytes, fmt)
        if region["kind"] == "buffer":
            return pattern([3], nbytes, fmt)
        vocab = model.info["hparams"].get("vocab", 2)
        return pattern([rng.randrange(vocab) for _ in range(PERIOD)], nbytes, fmt)
    if name.endswith(".lr"):
        return pattern([0.01], nbytes, "f")
    lo = 0.5 if name.endswith("running_var") or name.endswith("exp_avg_sq") else -1.0
    return pattern([rng.uniform(lo, lo + (1.0 if lo > 0 else 2.0)) for _ in range(PERIOD)],
                   nbytes, "f")


def raw(model, region):
    return ctypes.string_at(model.arena + region["offset"], region["bytes"])


def worst(got, want):
    """(relative error, index) of the worst element; NaN on one side only
    counts as infinite."""
    err, at = 0.0, -1
    for i, (g, w) in enumerate(zip(got, want)):
        if g == w or (g != g and w != w):
            continue
        e = abs(g - w) / (1 + abs(w))
        e = float("inf") if e != e else e
        if e > err:
            err, at = e, i
    return err, at


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("cpu")
    parser.add_argument("emulated")
    parser.add_argument("--tolerance", type=float, default=0.0)
    args = parser.parse_args()
    cpu, emu = Artifact(args.cpu), Artifact(args.emulated)
    if cpu.info["regions"] != emu.info["regions"]:
        print("MISMATCH: the two artifacts' model tables differ")
        return 1
    rng = random.Random(11)
    for region in cpu.info["regions"]:
        if region["kind"] != "output":
            data = seeded_bytes(cpu, region, rng)
            for model in (cpu, emu):
                ctypes.memmove(model.arena + region["offset"], data, len(data))
    checked, biggest = 0, 0.0
    for entry in cpu.info["entries"]:
        cpu.run(entry)
        emu.run(entry)
        for region in cpu.info["regions"]:
            if region["kind"] == "output" and region["name"].startswith(entry + "."):
                pass
            elif entry == "train_step" and region["kind"] in ("param", "buffer", "state"):
                pass
            else:
                continue
            checked += 1
            if raw(emu, region) == raw(cpu, region):
                continue
            err, at = worst(emu.read(region["name"]), cpu.read(region["name"]))
            biggest = max(biggest, err)
            if err > args.tolerance:
                print(f"MISMATCH {entry}: {region['name']}[{at}] emulated "
                      f"{emu.read(region['name'])[at]!r} cpu {cpu.read(region['name'])[at]!r} "
                      f"(relative error {err:.3g} > {args.tolerance:g})")
                return 1
    print(f"OK {cpu.info['model']} entries {','.join(cpu.info['entries'])}: {checked} regions, "
          f"max relative error {biggest:.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
