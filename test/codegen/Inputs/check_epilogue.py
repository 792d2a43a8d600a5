"""Runs the forward of test/codegen/library-epilogue.mlir's artifact on random
parameters and input and compares its four outputs with numpy: conv2d and
linear without an epilogue keep their negative values, with
`nn.epilogue = "relu"` they equal relu of the same op.
Usage: check_epilogue.py buffers.mlir model.so (the arena layout is read from
the nn.layout attribute of the buffers IR)."""
import ctypes
import re
import sys

import numpy as np


class MemRef1D(ctypes.Structure):
    _fields_ = [("allocated", ctypes.c_void_p), ("aligned", ctypes.c_void_p),
                ("offset", ctypes.c_int64), ("size", ctypes.c_int64),
                ("stride", ctypes.c_int64)]


def layout(buffers_ir):
    """{region name: (offset, shape)} and the arena size from the IR."""
    text = open(buffers_ir).read()
    arena = int(re.search(r"nn\.arena_bytes = (\d+)", text).group(1))
    regions = {}
    for entry in re.finditer(r"\{bytes = [^{}]*\}", text):
        e = entry.group(0)
        if 'name = "' not in e:
            continue  # a buffer of the memory plan (nn.memplan), not a region
        name = re.search(r'name = "([^"]+)"', e).group(1)
        offset = int(re.search(r"offset = (\d+)", e).group(1))
        shape = tuple(int(d) for d in re.search(r"shape = array<i64(?:: ([\d, ]*))?>", e)
                      .group(1).split(","))
        regions[name] = (offset, shape)
    return regions, arena


def conv2d(x, w, b, pad):
    """Reference conv2d (stride 1, dilation 1, no groups), NCHW / OIHW."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = h + 2 * pad - kh + 1, wd + 2 * pad - kw + 1
    y = np.zeros((n, o, oh, ow))
    for i in range(kh):
        for j in range(kw):
            y += np.einsum("nchw,oc->nohw", xp[:, :, i:i + oh, j:j + ow], w[:, :, i, j])
    return y + b[None, :, None, None]


def main():
    regions, arena_bytes = layout(sys.argv[1])
    lib = ctypes.CDLL(sys.argv[2])
    buf = ctypes.create_string_buffer(arena_bytes + 64)
    base = ctypes.addressof(buf) + (-ctypes.addressof(buf) % 64)

    def view(name):
        offset, shape = regions[name]
        count = int(np.prod(shape))
        arr = np.ctypeslib.as_array((ctypes.c_float * count).from_address(base + offset))
        return arr.reshape(shape)

    rng = np.random.default_rng(7)
    for name in ["conv1.weight", "conv1.bias", "fc1.weight", "fc1.bias", "forward.x"]:
        view(name)[...] = rng.uniform(-1, 1, regions[name][1])
    memref = MemRef1D(base, base, 0, arena_bytes, 1)
    fn = lib._mlir_ciface_nnc_forward
    fn.argtypes = [ctypes.POINTER(MemRef1D)]
    fn(ctypes.byref(memref))

    conv = conv2d(view("forward.x").astype(np.float64), view("conv1.weight"),
                  view("conv1.bias"), pad=1)
    fc = conv.reshape(conv.shape[0], -1) @ view("fc1.weight").T.astype(np.float64) \
        + view("fc1.bias")
    for out, want in [("conv", conv), ("fc", fc)]:
        got, got_relu = view("forward." + out), view("forward." + out + "_relu")
        close = np.abs(got - want).max() < 1e-5
        relu_close = np.abs(got_relu - np.maximum(want, 0)).max() < 1e-5
        print(f"{out}: keeps {int((got < 0).sum())} negative values, matches the "
              f"reference: {'yes' if close else 'NO'}; relu epilogue matches "
              f"relu(reference): {'yes' if relu_close else 'NO'}, negative values "
              f"{int((got_relu < 0).sum())}")

main()
