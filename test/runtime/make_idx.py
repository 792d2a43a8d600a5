"""Writes a small MNIST-layout IDX dataset for the runtime's error tests.

make_idx.py DIR [--count N] [--size S] [--max-label L] [--truncate-images BYTES]
           [--corrupt-gzip]
"""
import argparse
import gzip
import os
import struct

p = argparse.ArgumentParser()
p.add_argument("dir")
p.add_argument("--count", type=int, default=100)
p.add_argument("--size", type=int, default=28)
p.add_argument("--max-label", type=int, default=9)
p.add_argument("--truncate-images", type=int, default=0)
p.add_argument("--corrupt-gzip", action="store_true")
a = p.parse_args()
os.makedirs(a.dir, exist_ok=True)
pixels = bytes((i * 37) % 256 for i in range(a.count * a.size * a.size))
images = struct.pack(">IIII", 0x803, a.count, a.size, a.size) + pixels
labels = struct.pack(">II", 0x801, a.count) + bytes(i % (a.max_label + 1) for i in range(a.count))
if a.truncate_images:
    images = images[:a.truncate_images]
for split in ("train", "t10k"):
    img = gzip.compress(images)
    if a.corrupt_gzip:
        img = img[:20] + bytes(b ^ 0x5A for b in img[20:60]) + img[60:]
    open(os.path.join(a.dir, f"{split}-images-idx3-ubyte.gz"), "wb").write(img)
    open(os.path.join(a.dir, f"{split}-labels-idx1-ubyte.gz"), "wb").write(gzip.compress(labels))
