"""Checks what nnc quantize wrote against what it printed and nnc eval measures.

usage: quantize_check.py OUT.txt EVAL.json Q.safetensors
- the chosen method's test accuracy (printed, 2 decimals) equals nnc eval's on Q;
- Q holds conv1 in f32 (--keep-f32 first), the other layers as I8 weights with
  F32 per-channel scales and biases, and the table in its metadata.
"""
import json
import re
import struct
import sys

out, evaluation, qpath = sys.argv[1:4]
text = open(out).read()
m = re.search(r"chosen: (\w+) \(best validation accuracy\); accuracy [0-9.]+% -> ([0-9.]+)%", text)
assert m, "no 'chosen:' line in " + out
method, printed = m.group(1), float(m.group(2))
accuracy = json.load(open(evaluation))["accuracy"]
assert abs(round(100 * accuracy, 2) - printed) < 1e-9, (printed, accuracy)

with open(qpath, "rb") as f:
    (n,) = struct.unpack("<Q", f.read(8))
    header = json.loads(f.read(n))
table = json.loads(header["__metadata__"]["nnc.quantization"])
assert table["method"] == method, (table["method"], method)
assert table["f32_layers"] == ["first"], table["f32_layers"]
layers = [l["layer"] for l in table["layers"]]
assert layers == ["conv2", "fc1", "fc2", "fc3"], layers
assert header["conv1.weight"]["dtype"] == "F32"
for name, out_channels in [("conv2", 16), ("fc1", 120), ("fc2", 84), ("fc3", 10)]:
    assert header[name + ".weight"]["dtype"] == "I8", name
    assert header[name + ".weight_scale"]["dtype"] == "F32", name
    assert header[name + ".weight_scale"]["shape"] == [out_channels], name
    assert header[name + ".bias"]["dtype"] == "F32", name
for l in table["layers"]:
    # Post-relu inputs: u8 with zero point 0.
    assert (l["input"]["qmin"], l["input"]["qmax"], l["input"]["zero_point"]) == (0, 255, 0), l
print("quantize_check: ok (%s, %.2f%%)" % (method, printed))
