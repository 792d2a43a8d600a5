"""The order in which -nn-gpu-launch-to-loops combines a gpu.all_reduce
against a reference of upstream MLIR's all-reduce lowering
(mlir/lib/Dialect/GPU/Transforms/AllReduceLowering.cpp): each warp of 32
lanes reduces by butterfly shuffles at distances 1, 2, 4, 8, 16, lane L
combining `own + lane (L xor d)` where that lane is below the warp's active
width (the last warp of a block can be partial), lane 0 holding the warp's
value; then the first warp reduces the warps' values the same way.

all_reduce_order.py gen            prints an MLIR module whose main runs one
                                   gpu.launch per block size and prints the
                                   f32 sums' bit patterns
all_reduce_order.py check OUTPUT   compares those with the reference; prints
                                   one line, exit 1 on a mismatch
"""
import random
import struct
import sys

# Block sizes (x, y): odd sizes, partial warps, a 2-D block (13 x 5).
BLOCKS = [(1, 1), (31, 1), (33, 1), (13, 5), (256, 1)]
WARP = 32


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def bits(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def values():
    """256 f32 values of magnitudes 2^-8 to 2^24, both signs: their sum
    depends on the order."""
    rng = random.Random(7)
    return [f32(rng.choice((-1, 1)) * rng.uniform(1, 2) * 2.0 ** rng.randint(-8, 24))
            for _ in range(256)]


def warp_reduce(lanes, width):
    lanes = list(lanes) + [0.0] * (WARP - len(lanes))
    d = 1
    while d < WARP:
        for lane in range(0, WARP, 2 * d):
            if lane + d < width:
                lanes[lane] = f32(lanes[lane] + lanes[lane + d])
        d *= 2
    return lanes[0]


def upstream_order(vals):
    warps = [warp_reduce(vals[w:w + WARP], min(WARP, len(vals) - w))
             for w in range(0, len(vals), WARP)]
    return warp_reduce(warps, len(warps))


def sequential(vals):
    s = vals[0]
    for v in vals[1:]:
        s = f32(s + v)
    return s


def gen():
    vals = values()
    dense = ", ".join("0x%08X" % bits(v) for v in vals)
    print('module {')
    print('  llvm.mlir.global internal constant @fmt("%u\\0A\\00") {addr_space = 0 : i32}')
    print('  llvm.func @printf(!llvm.ptr, ...) -> i32')
    print(f'  memref.global "private" constant @values : memref<256xf32> = dense<[{dense}]>')
    print('  func.func @main() {')
    print('    %c0 = arith.constant 0 : index')
    print('    %c1 = arith.constant 1 : index')
    print('    %v = memref.get_global @values : memref<256xf32>')
    print(f'    %out = memref.alloca() : memref<{len(BLOCKS)}xf32>')
    for i, (x, y) in enumerate(BLOCKS):
        print(f'    %x{i} = arith.constant {x} : index')
        print(f'    %y{i} = arith.constant {y} : index')
        print(f'    %i{i} = arith.constant {i} : index')
        print(f'    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)')
        print(f'               threads(%tx, %ty, %tz) in (%sx = %x{i}, %sy = %y{i}, %sz = %c1) {{')
        print('      %row = arith.muli %ty, %sx : index')
        print('      %t = arith.addi %row, %tx : index')
        print('      %e = memref.load %v[%t] : memref<256xf32>')
        print('      %s = gpu.all_reduce add %e uniform {} : (f32) -> f32')
        print('      %first = arith.cmpi eq, %t, %c0 : index')
        print('      scf.if %first {')
        print(f'        memref.store %s, %out[%i{i}] : memref<{len(BLOCKS)}xf32>')
        print('      }')
        print('      gpu.terminator')
        print('    }')
    print('    %fmt = llvm.mlir.addressof @fmt : !llvm.ptr')
    for i in range(len(BLOCKS)):
        print(f'    %r{i} = memref.load %out[%i{i}] : memref<{len(BLOCKS)}xf32>')
        print(f'    %b{i} = arith.bitcast %r{i} : f32 to i32')
        print(f'    llvm.call @printf(%fmt, %b{i}) vararg(!llvm.func<i32 (ptr, ...)>) : '
              '(!llvm.ptr, i32) -> i32')
    print('    return')
    print('  }')
    print('}')


def check(path):
    got = [int(line) for line in open(path).read().split()]
    vals = values()
    if len(got) != len(BLOCKS):
        print(f"MISMATCH: {len(got)} results for {len(BLOCKS)} block sizes")
        return 1
    reordered = 0
    for (x, y), g in zip(BLOCKS, got):
        want = upstream_order(vals[:x * y])
        if g != bits(want):
            print(f"MISMATCH block {x}x{y}: emulated 0x{g:08x}, upstream order 0x{bits(want):08x}")
            return 1
        reordered += bits(want) != bits(sequential(vals[:x * y]))
    print(f"OK {len(BLOCKS)} block sizes: the emulated all-reduce sums equal upstream's order; "
          f"{reordered} differ from the sequential sum")
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen()
        sys.exit(0)
    sys.exit(check(sys.argv[2]))
