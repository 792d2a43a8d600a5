"""Compares one tensor of two safetensors files (F32).

read_safetensors.py A NAME_A B NAME_B TOLERANCE
Prints the shape and the max |a - b| / (1 + |b|); exits 1 if the shapes
differ or the difference exceeds TOLERANCE.
"""
import json
import struct
import sys


def tensor(path, name):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    entry = header[name]
    assert entry["dtype"] == "F32", entry
    begin, end = entry["data_offsets"]
    raw = data[8 + n + begin:8 + n + end]
    return entry["shape"], struct.unpack(f"<{len(raw) // 4}f", raw)


a_shape, a = tensor(sys.argv[1], sys.argv[2])
b_shape, b = tensor(sys.argv[3], sys.argv[4])
worst = max(abs(x - y) / (1 + abs(y)) for x, y in zip(a, b))
print(f"shape {a_shape}, max difference {worst:.3g}")
if a_shape != b_shape or worst > float(sys.argv[5]):
    sys.exit(f"mismatch: {a_shape} vs {b_shape}, difference {worst}")
