"""Runs the forward of test/codegen/library-epilogue.mlir's artifact on random
parameters and input and compares its four outputs with a plain-Python
reference (no numpy: the tests need only Debian's python3): conv2d and
linear without an epilogue keep their negative values, with
`nn.epilogue = "relu"` they equal relu of the same op.
Usage: check_epilogue.py buffers.mlir model.so (the arena layout is read from
the nn.layout attribute of the buffers IR)."""
import ctypes
import math
import random
import re
import sys


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


def conv2d(x, w, b, xs, ws, pad):
    """Reference conv2d (stride 1, dilation 1, no groups) on flat NCHW / OIHW
    lists, in double precision; returns the flat NCHW output."""
    n, c, h, wd = xs
    o, _, kh, kw = ws
    oh, ow = h + 2 * pad - kh + 1, wd + 2 * pad - kw + 1
    y = []
    for ni in range(n):
        for oi in range(o):
            for yi in range(oh):
                for xi in range(ow):
                    acc = b[oi]
                    for ci in range(c):
                        for i in range(kh):
                            for j in range(kw):
                                r, q = yi + i - pad, xi + j - pad
                                if 0 <= r < h and 0 <= q < wd:
                                    acc += (x[((ni * c + ci) * h + r) * wd + q] *
                                            w[((oi * c + ci) * kh + i) * kw + j])
                    y.append(acc)
    return y


def main():
    regions, arena_bytes = layout(sys.argv[1])
    lib = ctypes.CDLL(sys.argv[2])
    buf = ctypes.create_string_buffer(arena_bytes + 64)
    base = ctypes.addressof(buf) + (-ctypes.addressof(buf) % 64)

    def view(name):
        offset, shape = regions[name]
        return (ctypes.c_float * math.prod(shape)).from_address(base + offset)

    rng = random.Random(7)
    for name in ["conv1.weight", "conv1.bias", "fc1.weight", "fc1.bias", "forward.x"]:
        v = view(name)
        for i in range(len(v)):
            v[i] = rng.uniform(-1, 1)
    memref = MemRef1D(base, base, 0, arena_bytes, 1)
    fn = lib._mlir_ciface_nnc_forward
    fn.argtypes = [ctypes.POINTER(MemRef1D)]
    fn(ctypes.byref(memref))

    # The reference reads the (float32) values the artifact read.
    conv = conv2d(list(view("forward.x")), list(view("conv1.weight")),
                  list(view("conv1.bias")), regions["forward.x"][1],
                  regions["conv1.weight"][1], pad=1)
    outs, ins = regions["fc1.weight"][1]
    batch = regions["forward.x"][1][0]
    fw, fb = list(view("fc1.weight")), list(view("fc1.bias"))
    fc = [fb[o] + sum(conv[n * ins + i] * fw[o * ins + i] for i in range(ins))
          for n in range(batch) for o in range(outs)]
    for out, want in [("conv", conv), ("fc", fc)]:
        got, got_relu = list(view("forward." + out)), list(view("forward." + out + "_relu"))
        assert len(got) == len(want) == len(got_relu), out
        close = max(abs(g - r) for g, r in zip(got, want)) < 1e-5
        relu_close = max(abs(g - max(r, 0.0)) for g, r in zip(got_relu, want)) < 1e-5
        print(f"{out}: keeps {sum(g < 0 for g in got)} negative values, matches the "
              f"reference: {'yes' if close else 'NO'}; relu epilogue matches "
              f"relu(reference): {'yes' if relu_close else 'NO'}, negative values "
              f"{sum(g < 0 for g in got_relu)}")

main()
