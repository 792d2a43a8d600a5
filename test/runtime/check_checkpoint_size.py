#!/usr/bin/env python3
"""Trains a model briefly and checks that the weights file `nnc train -o`
writes has exactly the size `nnc report` predicts.

Usage: check_checkpoint_size.py NNC MODEL.nn OUT.safetensors [train flags...]
`-D NAME=VALUE` flags are passed to the report as well. Prints
"<model>: file N B, report N B" and exits 1 when the two differ.
"""
import json
import os
import subprocess
import sys

nnc, model, out, flags = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
defines = []  # -D NAME=VALUE pairs
for i, f in enumerate(flags):
    if f == "-D":
        defines += flags[i:i + 2]
report = json.loads(subprocess.run([nnc, "report", model, "--format", "json", *defines],
                                   check=True, capture_output=True, text=True).stdout)
predicted = report["checkpoint"]["bytes"]
subprocess.run([nnc, "train", model, "-o", out, *flags], check=True,
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
actual = os.path.getsize(out)
print(f"{report['model']}: file {actual} B, report {predicted} B")
sys.exit(0 if actual == predicted else 1)
