"""Checks a built model artifact against a reference written by PyTorch
(scripts/difftest.py), through the artifact's C ABI (docs/abi.md); needs
neither PyTorch nor numpy.

check_artifact.py MODEL.so REF.safetensors [--tolerance T] [--train-tolerance T]
                  [--forward-only] [--optimizer NAME]

REF holds the model's parameters and buffers under their state_dict names,
`__input` (the batch) and `__output` (PyTorch's eval-mode output). When it
also holds `__loss` and the artifact has `train_step`, it holds one training
step: `__labels`, `__lr`, `__step`, `__seed`, the optimizer state before the
step (`__state.<param>.exp_avg`, ...) and PyTorch's values after it
(`__after.<name>` for every parameter, buffer and state region, `__loss`).

Oracles, in order (the first that fails is printed, exit 1):
  info:    with --optimizer, the model table's train.optimizer names it;
  names:   the artifact's param and buffer regions are exactly the reference's
           state_dict names;
  forward: max |nnc - pytorch| / (1 + |pytorch|) over the output <= tolerance;
  train:   the same measure over the loss and every parameter, buffer and
           optimizer state after one train_step <= train tolerance
           (num_batches_tracked exactly).
"""
import argparse
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "runtime"))
from nnc_abi import Artifact, read_safetensors  # noqa: E402


def worst_error(got, want):
    """(error, index) of the worst element, |g - w| / (1 + |w|); a NaN or
    Inf on either side (but not both equal) is an infinite error."""
    worst, where = 0.0, -1
    for i, (g, w) in enumerate(zip(got, want)):
        if g == w:
            continue
        err = abs(g - w) / (1 + abs(w))
        if math.isnan(err):
            err = math.inf
        if err > worst:
            worst, where = err, i
    return worst, where


def show(values, at):
    lo = max(0, at - 3)
    return "[" + ", ".join("%.7g" % v for v in values[lo:lo + 8]) + (", ...]" if
                                                                      len(values) > lo + 8 else "]")


def compare(what, got, want, tolerance):
    """Prints the comparison; returns False (after printing both values) on a
    mismatch."""
    if len(got) != len(want):
        print(f"MISMATCH {what}: nnc has {len(got)} values, pytorch {len(want)}")
        return False
    err, at = worst_error(got, want)
    if err <= tolerance:
        return True
    print(f"MISMATCH {what}: error {err:.3e} > {tolerance:g} at element {at}: "
          f"nnc {got[at]!r}, pytorch {want[at]!r}")
    print(f"  nnc     {show(got, at)}")
    print(f"  pytorch {show(want, at)}")
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("reference")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    ap.add_argument("--train-tolerance", type=float, default=1e-4)
    ap.add_argument("--forward-only", action="store_true")
    ap.add_argument("--optimizer", help="the optimizer the artifact was built with")
    args = ap.parse_args()
    m = Artifact(args.model)
    said = m.info.get("train", {}).get("optimizer")
    if args.optimizer and said != args.optimizer:
        print(f"MISMATCH info optimizer: nnc_model_info says {said!r}, "
              f"the artifact was built with {args.optimizer!r}")
        return 1
    ref = read_safetensors(args.reference, ("F32", "I64", "I32"))
    persistent = [r["name"] for r in m.info["regions"] if r["kind"] in ("param", "buffer")]
    expected = sorted(n for n in ref if not n.startswith("__"))
    if sorted(persistent) != expected:
        print(f"MISMATCH names: nnc has {sorted(set(persistent) - set(expected))}, "
              f"pytorch has {sorted(set(expected) - set(persistent))} in addition")
        return 1

    def load_weights():
        for name in persistent:
            m.write(name, ref[name])

    inputs = [r["name"] for r in m.info["regions"]
              if r["kind"] == "input" and r["name"].startswith("forward.")]
    outputs = [r["name"] for r in m.info["regions"]
               if r["kind"] == "output" and r["name"].startswith("forward.")]
    load_weights()
    m.write(inputs[0], ref["__input"])
    m.run("forward")
    ok = compare("forward " + outputs[0], m.read(outputs[0]), ref["__output"], args.tolerance)
    if not ok:
        return 1
    print(f"forward: {len(ref['__output'])} outputs match")
    if args.forward_only or "__loss" not in ref:
        return 0
    if "train_step" not in m.info["entries"]:
        print("the artifact has no train_step (build it with --train)")
        return 1
    load_weights()
    x = inputs[0].split(".", 1)[1]
    m.write("train_step." + x, ref["__input"])
    m.write("train_step.labels", ref["__labels"])
    m.write("train_step.lr", ref["__lr"])
    m.write("train_step.step", ref["__step"])
    m.write("train_step.seed", ref["__seed"])
    states = [r["name"] for r in m.info["regions"] if r["kind"] == "state"]
    for name in states:
        m.write(name, ref["__state." + name])
    m.run("train_step")
    ok = compare("train_step loss", m.read("train_step.loss"), ref["__loss"],
                 args.train_tolerance)
    for name in persistent + states:
        got, want = m.read(name), ref["__after." + name]
        if name.endswith("num_batches_tracked"):
            ok = compare("after train_step " + name, got, want, 0) and ok
        else:
            ok = compare("after train_step " + name, got, want, args.train_tolerance) and ok
    if not ok:
        return 1
    print(f"train_step: loss and {len(persistent) + len(states)} tensors match")
    return 0


if __name__ == "__main__":
    sys.exit(main())
