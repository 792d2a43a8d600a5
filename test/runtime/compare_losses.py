#!/usr/bin/env python3
"""Trains two models with the same flags and compares their last epoch's
train and test losses (nnc train --metrics).

Usage: compare_losses.py NNC OUTDIR TOLERANCE MODEL_A.nn MODEL_B.nn [train flags...]
Prints "<model>: train loss X test loss Y test accuracy Z" for each and
exits 1 unless |loss_B - loss_A| <= TOLERANCE * loss_A for both losses.
"""
import json
import os
import subprocess
import sys

nnc, out, tol, a, b, flags = (sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4],
                              sys.argv[5], sys.argv[6:])
last = []
for model in (a, b):
    name = os.path.splitext(os.path.basename(model))[0]
    metrics = os.path.join(out, name + ".jsonl")
    subprocess.run([nnc, "train", model, "-o", os.path.join(out, name + ".safetensors"),
                    "--metrics", metrics, *flags],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(metrics) as f:
        epochs = [r for r in map(json.loads, f) if "test_loss" in r]
    r = epochs[-1]
    print(f"{name}: train loss {r['loss']:.4f} test loss {r['test_loss']:.4f} "
          f"test accuracy {r['test_accuracy']:.4f}")
    last.append(r)
ok = all(abs(last[1][k] - last[0][k]) <= tol * last[0][k] for k in ("loss", "test_loss"))
print("within tolerance" if ok else "NOT within tolerance")
sys.exit(0 if ok else 1)
