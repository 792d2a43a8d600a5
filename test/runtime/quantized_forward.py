#!/usr/bin/env python3
"""Runs a LeNet built with `nnc build --quantize-table` against its f32 build.

Usage: quantized_forward.py NNC MODEL.nn WEIGHTS.safetensors TMPDIR

WEIGHTS holds the f32 weights, `__input` (batch 2) and `__output` (PyTorch's
logits). The f32 model built with --quantize-observe gives each layer's input;
their min/max make the table (u8, asymmetric); the int8 model gets the weights
quantized per output channel (symmetric, -127..127). Prints the largest logit
error of both builds relative to the largest PyTorch logit, the agreement of
the predicted classes, and the int8 regions' dtypes.
"""
import ctypes
import json
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nnc_abi import Artifact, read_safetensors  # noqa: E402

nnc, model, weights, tmp = sys.argv[1:5]
os.makedirs(tmp, exist_ok=True)
tensors = read_safetensors(weights)
layers = ["conv1", "conv2", "fc1", "fc2", "fc3"]


def build(path, *flags):
    # Under the sanitizers %python-model preloads the ASan runtime into Python;
    # nnc (built with its own) must not inherit it.
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    subprocess.check_call([nnc, "build", model, "--batch", "2", "-o", path, *flags], env=env)
    return Artifact(path)


def put(art, name, fmt, values):
    region = art.regions[name]
    data = struct.pack(f"<{len(values)}{fmt}", *values)
    assert len(data) == region["bytes"], name
    ctypes.memmove(art.arena + region["offset"], data, len(data))


def get(art, name):
    region = art.regions[name]
    return struct.unpack(f"<{region['bytes'] // 4}f",
                         ctypes.string_at(art.arena + region["offset"], region["bytes"]))


# Calibration: the f32 model with observe outputs.
observed = build(os.path.join(tmp, "observe.so"), "--quantize-observe")
for layer in layers:
    put(observed, layer + ".weight", "f", tensors[layer + ".weight"])
    put(observed, layer + ".bias", "f", tensors[layer + ".bias"])
put(observed, "forward.image", "f", tensors["__input"])
observed.run("forward")
table = {"version": 1, "method": "minmax", "f32_layers": [], "layers": []}
for layer in layers:
    values = get(observed, "forward.observe." + layer)
    lo, hi = min(0.0, min(values)), max(0.0, max(values))
    scale = (hi - lo) / 255
    table["layers"].append({"layer": layer, "batchnorm": None, "input": {
        "scale": scale, "zero_point": round(-lo / scale), "qmin": 0, "qmax": 255}})
table_path = os.path.join(tmp, "table.json")
with open(table_path, "w") as f:
    json.dump(table, f)

quantized = build(os.path.join(tmp, "int8.so"), "--quantize-table", table_path)
for layer in layers:
    w = tensors[layer + ".weight"]
    channels = len(tensors[layer + ".bias"])
    k = len(w) // channels
    scales, q = [], []
    for c in range(channels):
        row = w[c * k:(c + 1) * k]
        s = max(abs(v) for v in row) / 127 or 1.0
        scales.append(s)
        q += [max(-127, min(127, round(v / s))) for v in row]
    put(quantized, layer + ".weight", "b", q)
    put(quantized, layer + ".weight_scale", "f", scales)
    put(quantized, layer + ".bias", "f", tensors[layer + ".bias"])
put(quantized, "forward.image", "f", tensors["__input"])
quantized.run("forward")

want = tensors["__output"]
top = max(abs(v) for v in want)
for name, art in (("f32", observed), ("int8", quantized)):
    got = get(art, "forward.logits")
    err = max(abs(a - b) for a, b in zip(got, want)) / top
    same = sum(max(range(10), key=lambda j: got[i * 10 + j]) ==
               max(range(10), key=lambda j: want[i * 10 + j]) for i in range(2))
    print(f"{name}: relative error {'below 1e-5' if err < 1e-5 else 'below 3e-2' if err < 3e-2 else err}, "
          f"classes {same}/2")
print("int8 regions:", " ".join(r["name"] for r in quantized.info["regions"] if r["dtype"] == "i8"
                              and r["kind"] == "param"))
