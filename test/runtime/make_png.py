"""Writes Fashion-MNIST test images as 8-bit grayscale PNGs (for nnc predict).

make_png.py OUT_DIR N   -> OUT_DIR/img<i>.png for the first N test images, and
                           OUT_DIR/labels.txt with their labels.
"""
import gzip
import os
import struct
import sys
import zlib

out, n = sys.argv[1], int(sys.argv[2])
os.makedirs(out, exist_ok=True)
root = "/usr/share/datasets/fashion-mnist/"
images = gzip.open(root + "t10k-images-idx3-ubyte.gz").read()[16:]
labels = gzip.open(root + "t10k-labels-idx1-ubyte.gz").read()[8:]


def chunk(kind, data):
    c = struct.pack(">I", len(data)) + kind + data
    return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


for i in range(n):
    rows = b"".join(b"\0" + images[i * 784 + r * 28:i * 784 + r * 28 + 28] for r in range(28))
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 28, 28, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    open(os.path.join(out, f"img{i}.png"), "wb").write(png)
open(os.path.join(out, "labels.txt"), "w").write(" ".join(str(l) for l in labels[:n]) + "\n")
