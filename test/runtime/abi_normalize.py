#!/usr/bin/env python3
"""Runs two built models through the C ABI (docs/abi.md) with ctypes: NORMED
(a train section with normalize) on raw inputs in [0, 1] and PLAIN (the same
model without it) on inputs normalized here. Both get the same weights.

Usage: abi_normalize.py NORMED.so PLAIN.so OUT.safetensors
Prints the largest difference of the outputs and exits 1 if the artifacts
disagree or NORMED did not normalize; writes the weights, the raw input
(`__input`) and PLAIN's output (`__output`) to OUT for `nnc run --check`.
"""
import ctypes
import json
import random
import struct
import sys

MEAN, STD = [0.5, 0.4, 0.3], [0.25, 0.2, 0.1]


def f32(v):
    return struct.unpack("<f", struct.pack("<f", v))[0]


class MemRef1D(ctypes.Structure):
    _fields_ = [("allocated", ctypes.c_void_p), ("aligned", ctypes.c_void_p),
                ("offset", ctypes.c_int64), ("size", ctypes.c_int64),
                ("stride", ctypes.c_int64)]


class Artifact:
    def __init__(self, path):
        self.lib = ctypes.CDLL(path)
        table = ctypes.addressof(ctypes.c_char.in_dll(self.lib, "nnc_model_info"))
        self.info = json.loads(ctypes.string_at(table).decode())
        size = self.info["arena_bytes"]
        self.buffer = ctypes.create_string_buffer(size + 64)
        base = ctypes.addressof(self.buffer)
        self.arena = base + (-base % 64)
        self.memref = MemRef1D(self.arena, self.arena, 0, size, 1)
        self.regions = {r["name"]: r for r in self.info["regions"]}

    def write(self, name, values):
        r = self.regions[name]
        data = struct.pack(f"<{len(values)}f", *values)
        assert len(data) == r["bytes"], name
        ctypes.memmove(self.arena + r["offset"], data, len(data))

    def read(self, name):
        r = self.regions[name]
        return list(struct.unpack(f"<{r['bytes'] // 4}f",
                                  ctypes.string_at(self.arena + r["offset"], r["bytes"])))

    def forward(self):
        fn = self.lib._mlir_ciface_nnc_forward
        fn.argtypes = [ctypes.POINTER(MemRef1D)]
        fn(ctypes.byref(self.memref))
        return self.read("forward.logits")


def main():
    normed, plain = Artifact(sys.argv[1]), Artifact(sys.argv[2])
    if "normalize" in normed.info:
        sys.exit("the model table still carries 'normalize' for the caller to apply")
    rng = random.Random(7)
    weights = {}
    for r in normed.info["regions"]:
        if r["kind"] == "param":
            weights[r["name"]] = (r["shape"], [f32(rng.uniform(-0.5, 0.5))
                                               for _ in range(r["bytes"] // 4)])
    for model in (normed, plain):
        for name, (_, values) in weights.items():
            model.write(name, values)
    shape = normed.regions["forward.image"]["shape"]
    plane = shape[2] * shape[3]
    raw = [f32(rng.random()) for _ in range(normed.regions["forward.image"]["bytes"] // 4)]
    # (x - mean[c]) * (1 / std[c]), each step rounded to f32 as the artifact does.
    scaled = [f32(f32(x - f32(MEAN[i // plane % 3])) * f32(1 / f32(STD[i // plane % 3])))
              for i, x in enumerate(raw)]
    normed.write("forward.image", raw)
    plain.write("forward.image", scaled)
    got, want = normed.forward(), plain.forward()
    worst = max(abs(a - b) / (1 + abs(b)) for a, b in zip(got, want))
    print(f"normed(x) vs plain((x - mean) / std): {len(got)} outputs, max difference {worst:.1e}")
    plain.write("forward.image", raw)
    unnormalized = plain.forward()
    gap = max(abs(a - b) for a, b in zip(got, unnormalized))
    print(f"normed(x) vs plain(x): max difference {'large' if gap > 0.1 else 'small'}")

    tensors = {name: ("F32", s, v) for name, (s, v) in weights.items()}
    tensors["__input"] = ("F32", shape, raw)
    tensors["__output"] = ("F32", normed.regions["forward.logits"]["shape"], want)
    header, blobs, offset = {}, [], 0
    for name, (dtype, s, values) in tensors.items():
        blob = struct.pack(f"<{len(values)}f", *values)
        header[name] = {"dtype": dtype, "shape": s, "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(sys.argv[3], "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    sys.exit(0 if worst <= 1e-6 and gap > 0.1 else 1)


main()
