"""Checks that fine-tuning kept pruned weights at exactly zero.

check_masks.py PRUNED.safetensors TUNED.safetensors NAME... [--expect-regrown]
For each weight NAME: every element that is exactly 0 in PRUNED must be
exactly 0 in TUNED, and some kept element must have changed (fine-tuning
ran). With --expect-regrown (a control without masks) it reports instead
that pruned elements became non-zero, and fails if none did.
"""
import json
import struct
import sys


def tensors(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, entry in header.items():
        if name == "__metadata__" or entry["dtype"] != "F32":
            continue
        begin, end = entry["data_offsets"]
        raw = data[8 + n + begin:8 + n + end]
        out[name] = struct.unpack(f"<{len(raw) // 4}f", raw)
    return out


args = [a for a in sys.argv[1:] if not a.startswith("--")]
regrown_expected = "--expect-regrown" in sys.argv
pruned, tuned = tensors(args[0]), tensors(args[1])
total_pruned = total_regrown = 0
for name in args[2:]:
    p, t = pruned[name], tuned[name]
    zeros = [i for i, x in enumerate(p) if x == 0.0]
    regrown = sum(1 for i in zeros if t[i] != 0.0)
    changed = sum(1 for i, x in enumerate(p) if x != 0.0 and t[i] != x)
    total_pruned += len(zeros)
    total_regrown += regrown
    print(f"{name}: {len(zeros)} pruned, {regrown} non-zero after training, "
          f"{changed} kept weights changed")
    if changed == 0:
        sys.exit(f"{name}: training changed no kept weight")
print(f"total: {total_pruned} pruned, {total_regrown} non-zero after training")
if regrown_expected and total_regrown == 0:
    sys.exit("expected pruned weights to become non-zero without masks")
if not regrown_expected and total_regrown:
    sys.exit("pruned weights became non-zero")
