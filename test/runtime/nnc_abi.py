"""A model artifact driven through its C ABI (docs/abi.md) with ctypes, and a
minimal safetensors reader: shared by the tests' scripts."""
import ctypes
import json
import struct

# struct formats of the region dtypes (docs/abi.md) and safetensors dtypes.
REGION_FORMATS = {"f32": "f", "i64": "q", "i32": "i"}
SAFETENSORS_FORMATS = {"F32": "f", "I64": "q", "I32": "i"}


class MemRef1D(ctypes.Structure):
    _fields_ = [("allocated", ctypes.c_void_p), ("aligned", ctypes.c_void_p),
                ("offset", ctypes.c_int64), ("size", ctypes.c_int64),
                ("stride", ctypes.c_int64)]


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
        """Writes `values` (in the region's dtype) into region `name`."""
        r = self.regions[name]
        data = struct.pack(f"<{len(values)}{REGION_FORMATS[r['dtype']]}", *values)
        if len(data) != r["bytes"]:
            raise ValueError(f"region '{name}' holds {r['bytes']} bytes, "
                             f"{len(values)} values make {len(data)}")
        ctypes.memmove(self.arena + r["offset"], data, len(data))

    def read(self, name):
        """The values of region `name` (floats or ints by its dtype)."""
        r = self.regions[name]
        fmt = REGION_FORMATS[r["dtype"]]
        count = r["bytes"] // struct.calcsize(fmt)
        return list(struct.unpack(f"<{count}{fmt}",
                                  ctypes.string_at(self.arena + r["offset"], r["bytes"])))

    def run(self, entry):
        fn = getattr(self.lib, "_mlir_ciface_nnc_" + entry)
        fn.argtypes = [ctypes.POINTER(MemRef1D)]
        fn(ctypes.byref(self.memref))


def read_safetensors(path, dtypes=("F32",)):
    """{name: list of values} of the tensors of a safetensors file whose dtype
    is one of `dtypes` (F32, I64, I32)."""
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, t in header.items():
        if name == "__metadata__" or t["dtype"] not in dtypes:
            continue
        fmt = SAFETENSORS_FORMATS[t["dtype"]]
        begin, end = t["data_offsets"]
        out[name] = list(struct.unpack(f"<{(end - begin) // struct.calcsize(fmt)}{fmt}",
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
