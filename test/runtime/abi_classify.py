#!/usr/bin/env python3
"""Classifies the first Fashion-MNIST test images with a built LeNet through
the C ABI, feeding the pixels exactly as the dataset reader produces them
(pixel / 255, no normalization by the caller).

Usage: abi_classify.py MODEL.so WEIGHTS.safetensors
Prints "<correct> of <batch> correct" and the predicted classes.
"""
import gzip
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nnc_abi import Artifact, read_safetensors  # noqa: E402

ROOT = "/usr/share/datasets/fashion-mnist/"
model = Artifact(sys.argv[1])
for name, values in read_safetensors(sys.argv[2]).items():
    model.write(name, values)
shape = model.regions["forward.image"]["shape"]
n, per = shape[0], shape[1] * shape[2] * shape[3]
images = gzip.open(ROOT + "t10k-images-idx3-ubyte.gz").read()[16:16 + n * per]
labels = gzip.open(ROOT + "t10k-labels-idx1-ubyte.gz").read()[8:8 + n]
model.write("forward.image", [p / 255 for p in images])
model.run("forward")
logits = model.read("forward.logits")
classes = len(logits) // n
predicted = [max(range(classes), key=lambda c: logits[i * classes + c]) for i in range(n)]
print(f"{sum(p == l for p, l in zip(predicted, labels))} of {n} correct")
print("predicted:", " ".join(map(str, predicted)))
