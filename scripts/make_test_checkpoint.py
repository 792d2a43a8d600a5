#!/usr/bin/env python3
#===- scripts/make_test_checkpoint.py - a tiny PyTorch safetensors file ---===#
# Writes test/runtime/Inputs/torch-tiny.safetensors, read by
# test/unit/CheckpointTest.cpp. Run once with Debian's python3-torch:
#   /usr/bin/python3 scripts/make_test_checkpoint.py
# The `safetensors` package is not in Debian, so this writes the format the
# way its Rust serializer does: tensors laid out by dtype alignment (largest
# first) then name, header keys sorted by name with "__metadata__" first,
# padded with spaces to a multiple of 8. The metadata holds each float
# tensor's sum (as float64 of the stored values) so the test can check data.
import json
import os
import struct

import torch

torch.manual_seed(0)
model = torch.nn.Sequential()
model.add_module("conv", torch.nn.Conv2d(1, 2, kernel_size=3))
model.add_module("bn", torch.nn.BatchNorm2d(2))
model.add_module("fc", torch.nn.Linear(8, 3))
model.train()
model.conv(torch.randn(4, 1, 4, 4))  # conv only: 2x2 outputs per channel
model.bn(torch.randn(4, 2, 2, 2))    # moves the running stats off 0 and 1
state = dict(model.state_dict())  # includes bn.num_batches_tracked (int64)
state["extra.half"] = torch.tensor([[1.5, -2.25], [0.099975586, 65504.0]],
                                   dtype=torch.float16)
state["extra.bf16"] = torch.tensor([3.140625, -0.5, 1e-3], dtype=torch.bfloat16)

def dtype_name(t):
    return {torch.float32: "F32", torch.float16: "F16",
            torch.bfloat16: "BF16", torch.int64: "I64"}[t.dtype]

def raw(t):
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().tobytes()  # little-endian on the x86/ARM hosts we use

order = sorted(state, key=lambda k: (-state[k].element_size(), k))
header = {"__metadata__": {"format": "pt"}}
data = b""
for name in order:
    b = raw(state[name])
    header[name] = {"dtype": dtype_name(state[name]),
                    "shape": list(state[name].shape),
                    "data_offsets": [len(data), len(data) + len(b)]}
    data += b
for name in sorted(state):
    if state[name].is_floating_point():
        header["__metadata__"]["sum." + name] = repr(
            float(state[name].double().sum()))
keys = ["__metadata__"] + sorted(k for k in header if k != "__metadata__")
text = json.dumps({k: header[k] for k in keys}, separators=(",", ":"))
text += " " * ((8 - len(text) % 8) % 8)
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test",
                   "runtime", "Inputs", "torch-tiny.safetensors")
with open(out, "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text.encode() + data)
print(out, len(text), len(data))
