"""Checks a directory `bench/gpu_check.py prepare` wrote (test/tools/nnc-rt/gpu-check.test):
the manifest, the reference metrics of each example (one "step" record per step, steps
1..N, finite losses, then an "epoch" record), and writes perturbed copies of one reference
for the comparison's tests: OUT-step1.jsonl (step 1's loss off by 2e-3 relative),
OUT-late.jsonl (the last step's off by 2e-3: inside its grown tolerance) and
OUT-short.jsonl (one step fewer)."""
import json
import math
import os
import sys

d, example, out = sys.argv[1], sys.argv[2], sys.argv[3]
m = json.load(open(os.path.join(d, "manifest.json")))
spec = m["examples"][example]
print("examples", ",".join(sorted(m["examples"])), "epochs", spec["epochs"], "steps",
      spec["steps"], "batches", spec["batches"], "seed", m["seed"])
print("gpu tests", len(m["gpu_tests"]), "all skipped here:",
      all("." in t for t in m["gpu_tests"]))
print("syslibs", ",".join(m["syslibs"]))
records = [json.loads(l) for l in open(os.path.join(d, "ref", example + ".jsonl"))]
steps = [r for r in records if r["kind"] == "step"]
print("ref steps", [r["step"] for r in steps] == list(range(1, spec["steps"] + 1)),
      "finite", all(math.isfinite(r["loss"]) for r in steps),
      "last record", records[-1]["kind"])


def write(name, recs):
    with open(out + name, "w") as f:
        for r in recs:
            f.write(json.dumps(r) + "\n")


def bumped(i):
    recs = [dict(r) for r in steps]
    recs[i]["loss"] *= 1 + 2e-3
    return recs


write("-step1.jsonl", bumped(0))
write("-late.jsonl", bumped(-1))
write("-short.jsonl", steps[:-1])
