"""Checks an nnc metrics file (JSON lines) for the training tests.

check_metrics.py FILE --epochs N [--falling-loss] [--min-test-accuracy A]
check_metrics.py --same-except-timing A B
"""
import json
import sys

args = sys.argv[1:]
if args[0] == "--same-except-timing":
    # Two runs' metrics may differ only in throughput and step time; every
    # loss and accuracy must be bit-identical.
    strip = lambda l: {k: v for k, v in json.loads(l).items()
                       if k not in ("samples_per_second", "step_ms")}
    a = [strip(l) for l in open(args[1])]
    b = [strip(l) for l in open(args[2])]
    if a != b:
        sys.exit(f"metrics differ beyond timing:\n{a}\n{b}")
    sys.exit(0)
records = [json.loads(l) for l in open(args[0])]
epochs = int(args[args.index("--epochs") + 1])
if len(records) != epochs:
    sys.exit(f"expected {epochs} records, got {len(records)}")
if "--falling-loss" in args:
    losses = [r["loss"] for r in records]
    if any(b >= a for a, b in zip(losses, losses[1:])):
        sys.exit(f"the loss did not fall: {losses}")
if "--min-test-accuracy" in args:
    floor = float(args[args.index("--min-test-accuracy") + 1])
    if records[-1]["test_accuracy"] < floor:
        sys.exit(f"test accuracy {records[-1]['test_accuracy']} < {floor}")
