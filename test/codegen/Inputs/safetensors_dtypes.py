#!/usr/bin/env python3
"""Prints each tensor of a safetensors file as "name dtype", sorted by name.

Usage: safetensors_dtypes.py FILE.safetensors
"""
import json
import struct
import sys

with open(sys.argv[1], "rb") as f:
    (size,) = struct.unpack("<Q", f.read(8))
    header = json.loads(f.read(size))
for name in sorted(k for k in header if k != "__metadata__"):
    print(name, header[name]["dtype"])
