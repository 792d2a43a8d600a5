"""Compares the losses of two `nnc eval -o` results.

compare_eval.py A.json B.json TOLERANCE: exits 1 if the sample counts differ
or |loss_a - loss_b| / (1 + |loss_b|) exceeds TOLERANCE.
"""
import json
import sys

a, b = (json.load(open(p)) for p in sys.argv[1:3])
difference = abs(a["loss"] - b["loss"]) / (1 + abs(b["loss"]))
print(f"{a['samples']} samples, loss difference {difference:.1e}")
if a["samples"] != b["samples"] or difference > float(sys.argv[3]):
    sys.exit(f"mismatch: {a} vs {b}")
