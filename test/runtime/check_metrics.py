"""Checks an nnc metrics file (JSON lines) for the training tests.

check_metrics.py FILE --epochs N [--falling-loss] [--min-test-accuracy A]
                 [--steps S [--every K]]
check_metrics.py --same-except-timing A B

Epoch records carry "kind": "epoch"; with --steps, the file must also hold
exactly S step records {"kind","epoch","step","loss","lr","time_s"} (in that
order) at every K-th global step, with time never going back.
"""
import json
import sys

TIMING = ("samples_per_second", "step_ms", "time_s")
args = sys.argv[1:]
if args[0] == "--same-except-timing":
    # Two runs' metrics may differ only in throughput and time; every loss,
    # accuracy and learning rate must be bit-identical.
    strip = lambda l: {k: v for k, v in json.loads(l).items() if k not in TIMING}
    a = [strip(l) for l in open(args[1])]
    b = [strip(l) for l in open(args[2])]
    if a != b:
        sys.exit(f"metrics differ beyond timing:\n{a}\n{b}")
    sys.exit(0)
lines = [json.loads(l) for l in open(args[0])]
records = [r for r in lines if r.get("kind") == "epoch"]
steps = [r for r in lines if r.get("kind") == "step"]
if len(records) + len(steps) != len(lines):
    sys.exit(f"records without a known kind: {lines}")
epochs = int(args[args.index("--epochs") + 1])
if len(records) != epochs:
    sys.exit(f"expected {epochs} epoch records, got {len(records)}")
if "--falling-loss" in args:
    losses = [r["loss"] for r in records]
    if any(b >= a for a, b in zip(losses, losses[1:])):
        sys.exit(f"the loss did not fall: {losses}")
if "--min-test-accuracy" in args:
    floor = float(args[args.index("--min-test-accuracy") + 1])
    if records[-1]["test_accuracy"] < floor:
        sys.exit(f"test accuracy {records[-1]['test_accuracy']} < {floor}")
if "--steps" in args:
    want = int(args[args.index("--steps") + 1])
    every = int(args[args.index("--every") + 1]) if "--every" in args else 1
    if len(steps) != want:
        sys.exit(f"expected {want} step records, got {len(steps)}")
    keys = ["kind", "epoch", "step", "loss", "lr", "time_s"]
    for i, r in enumerate(steps):
        if list(r) != keys:
            sys.exit(f"step record {r} does not have the keys {keys}")
        if r["step"] != (i + 1) * every:
            sys.exit(f"step record {i} is at step {r['step']}, expected {(i + 1) * every}")
        if not all(isinstance(r[k], (int, float)) for k in keys[1:]):
            sys.exit(f"step record {r} has a non-number")
    times = [r["time_s"] for r in steps]
    if any(b < a for a, b in zip(times, times[1:])):
        sys.exit(f"time_s goes back: {times}")
