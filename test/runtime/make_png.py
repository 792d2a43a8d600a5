"""Writes Fashion-MNIST test images as 8-bit grayscale PNGs (for nnc predict).

make_png.py OUT_DIR N [--size S] [--rgb]
    -> OUT_DIR/img<i>.png for the first N test images, and OUT_DIR/labels.txt
       with their labels. --size S writes them S x S (nearest pixel), --rgb as
       RGB (grey in all three channels), to test size and colour checks.
"""
import gzip
import os
import struct
import sys
import zlib

out, n = sys.argv[1], int(sys.argv[2])
size = int(sys.argv[sys.argv.index("--size") + 1]) if "--size" in sys.argv else 28
rgb = "--rgb" in sys.argv
os.makedirs(out, exist_ok=True)
root = "/usr/share/datasets/fashion-mnist/"
images = gzip.open(root + "t10k-images-idx3-ubyte.gz").read()[16:]
labels = gzip.open(root + "t10k-labels-idx1-ubyte.gz").read()[8:]


def chunk(kind, data):
    c = struct.pack(">I", len(data)) + kind + data
    return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


for i in range(n):
    img = images[i * 784:(i + 1) * 784]
    px = lambda y, x: img[(y * 28 // size) * 28 + x * 28 // size]
    rows = b"".join(b"\0" + bytes(v for x in range(size) for v in [px(y, x)] * (3 if rgb else 1))
                    for y in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 2 if rgb else 0, 0, 0, 0)
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
           + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    open(os.path.join(out, f"img{i}.png"), "wb").write(png)
open(os.path.join(out, "labels.txt"), "w").write(" ".join(str(l) for l in labels[:n]) + "\n")
