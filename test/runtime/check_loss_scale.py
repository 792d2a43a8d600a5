#!/usr/bin/env python3
"""Checks the dynamic loss scaling of an f16 run's --metrics step records
(docs/training.md, "Loss scaling").

Usage: check_loss_scale.py METRICS.jsonl INITIAL_SCALE GROWTH
Replays the rule: a skipped step halves the scale, GROWTH good steps in a row
double it; each record's loss_scale is the scale after its step. Prints the
number of skipped steps and the final scale; exits 1 on a mismatch or when
the epoch records' skipped_steps disagree with the step records.
"""
import json
import sys

path, scale, growth = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
good = skipped = 0
with open(path) as f:
    records = [json.loads(line) for line in f]
for r in records:
    if r["kind"] == "step":
        if r["skipped"]:
            scale, good, skipped = scale / 2, 0, skipped + 1
        else:
            good += 1
            if good >= growth:
                scale, good = scale * 2, 0
        if abs(r["loss_scale"] - scale) > 1e-5 * scale:
            sys.exit(f"step {r['step']}: loss_scale {r['loss_scale']}, expected {scale}")
    elif r["skipped_steps"] != skipped:
        sys.exit(f"epoch {r['epoch']}: skipped_steps {r['skipped_steps']}, expected {skipped}")
print(f"skipped {skipped} steps, final scale {scale:g}")
