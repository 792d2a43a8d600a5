#!/usr/bin/env python3
"""Prints one table of a built model's `nnc_model_info` (docs/abi.md).

Usage: model_info.py MODEL.so [KEY]   (KEY default: train)
Prints `KEY.name = value` per entry, sorted by name (JSON values), or
`KEY: absent`.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nnc_abi import Artifact  # noqa: E402

key = sys.argv[2] if len(sys.argv) > 2 else "train"
table = Artifact(sys.argv[1]).info.get(key)
if table is None:
    print(f"{key}: absent")
elif isinstance(table, dict):
    for name in sorted(table):
        print(f"{key}.{name} = {json.dumps(table[name])}")
else:
    print(f"{key} = {json.dumps(table)}")
