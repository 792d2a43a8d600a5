"""Checks `nnc memplan --format json --entry all` output against the planner's targets.

check_memplan.py LABEL=FILE.json...
check_memplan.py --run NNC EXAMPLES OUTDIR  (every example at batch 1 and 64,
                                             inference and training)
For every entry point of every file: the plan fits (lower bound <= planned
<= 1.05 x lower bound) and reuses memory (planned <= naive), the buffers lie
in the arena without overlapping while live, and an in-place buffer sits at
the offset of the buffer it overwrites, which dies where it is first written.
Prints one row per file (its largest entry): planned, lower bound, ratio,
naive, in-place buffers.
"""
import json
import os
import subprocess
import sys

specs = sys.argv[1:]
if specs[:1] == ["--run"]:
    nnc, examples, out = specs[1:4]
    specs = []
    for name in sorted(os.listdir(examples)):
        if not name.endswith(".nn"):
            continue
        for batch in ("1", "64"):
            for train in ([], ["--train"]):
                label = f"{name[:-3]}-b{batch}{'-train' if train else ''}"
                path = os.path.join(out, label + ".json")
                subprocess.run([nnc, "memplan", os.path.join(examples, name), "--batch", batch,
                                "--entry", "all", "--format", "json", "-o", path] + train,
                               check=True)
                specs.append(f"{label}={path}")

print(f"{'model':22} {'entry':11} {'planned':>15} {'lower bound':>15} {'ratio':>6} "
      f"{'naive':>15} {'in place':>8}")
for spec in specs:
    label, path = spec.split("=", 1)
    plan = json.load(open(path))
    for e in plan["entries"]:
        where = f"{label} {e['entry']}"
        assert e["lower_bound"] <= e["planned"] <= 1.05 * e["lower_bound"], (where, e["planned"])
        assert e["planned"] <= e["naive"], where
        bufs = e["buffers"]
        assert e["in_place"] == sum("in_place_of" in b for b in bufs), where
        for i, b in enumerate(bufs):
            assert b["index"] == i and b["first"] <= b["last"] < len(e["steps"]), (where, b)
            assert plan["persistent_bytes"] <= b["offset"], (where, b)
            assert b["offset"] + b["bytes"] <= e["planned"], (where, b)
            if "in_place_of" in b:
                a = bufs[b["in_place_of"]]
                assert a["offset"] == b["offset"] and a["bytes"] == b["bytes"], (where, a, b)
                assert a["last"] == b["first"], (where, a, b)
        # No two buffers share a byte while both are live (an in-place pair
        # meets at one step, where the kernel reads one and writes the other).
        for i, b in enumerate(bufs):
            for j in range(i + 1, len(bufs)):
                c = bufs[j]
                if b["last"] < c["first"] or c["last"] < b["first"]:
                    continue
                if b["offset"] + b["bytes"] <= c["offset"] or c["offset"] + c["bytes"] <= b["offset"]:
                    continue
                assert b.get("in_place_of") == j or c.get("in_place_of") == i, (where, b, c)
    e = max(plan["entries"], key=lambda e: e["planned"])
    print(f"{label:22} {e['entry']:11} {e['planned']:>15,} {e['lower_bound']:>15,} "
          f"{e['planned'] / e['lower_bound']:>6.3f} {e['naive']:>15,} "
          f"{sum(x['in_place'] for x in plan['entries']):>8}")
print("memplan ok")
