"""A model artifact driven through its C ABI (docs/abi.md) with ctypes, and a
minimal safetensors reader: shared by the tests' scripts."""
import ctypes
import json
import struct


class MemRef1D(ctypes.Structure):
    _fields_ = [("allocated", ctypes.c_void_p), ("aligned", ctypes.c_void_p),
                ("offset", ctypes.c_int64), ("size", ctypes.c_int64),
                ("stride", ctypes.c_int64)]


# struct formats of the region dtypes (docs/abi.md).
FORMATS = {"f32": "f", "i64": "q", "i32": "i"}


class Artifact:
    """One loaded model.so with its own 64-byte aligned arena."""

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

    def count(self, region):
        """The number of elements of a region (of the model table)."""
        n = 1
        for d in region["shape"]:
            n *= d
        return n

    def write(self, name, values):
        """Writes `values` into region `name`, in the region's dtype."""
        r = self.regions[name]
        data = struct.pack("<%d%s" % (len(values), FORMATS[r["dtype"]]), *values)
        assert len(data) == r["bytes"], name
        ctypes.memmove(self.arena + r["offset"], data, len(data))

    def read(self, name):
        """The values of region `name`, in the region's dtype."""
        r = self.regions[name]
        raw = ctypes.string_at(self.arena + r["offset"], r["bytes"])
        return list(struct.unpack("<%d%s" % (self.count(r), FORMATS[r["dtype"]]), raw))

    def run(self, entry):
        fn = getattr(self.lib, "_mlir_ciface_nnc_" + entry)
        fn.argtypes = [ctypes.POINTER(MemRef1D)]
        fn(ctypes.byref(self.memref))


def read_safetensors(path):
    """{name: list of floats} of the F32 tensors of a safetensors file."""
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, t in header.items():
        if name == "__metadata__" or t["dtype"] != "F32":
            continue
        begin, end = t["data_offsets"]
        out[name] = list(struct.unpack(f"<{(end - begin) // 4}f",
                                       data[8 + n + begin:8 + n + end]))
    return out


def write_safetensors(path, tensors):
    """Writes {name: (shape, list of floats)} as F32 tensors."""
    header, blobs, offset = {}, [], 0
    for name, (shape, values) in tensors.items():
        blob = struct.pack(f"<{len(values)}f", *values)
        header[name] = {"dtype": "F32", "shape": shape,
                        "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
