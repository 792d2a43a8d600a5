"""Runs a model artifact's forward on `threads` kernel threads (the runtime's
nnc_set_num_threads, as nnc's --threads) and prints how many threads the
process has afterwards (OpenMP keeps its workers alive), after checking the
result against softmax(relu(x)) computed here.

Usage: count_threads.py model.so threads
"""
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "runtime"))
from nnc_abi import Artifact  # noqa: E402

art = Artifact(sys.argv[1])
art.lib.nnc_set_num_threads(int(sys.argv[2]))
region = art.regions["forward.x"]
rows, cols = region["shape"]
x = [math.sin(0.37 * i) * 3.0 for i in range(rows * cols)]
art.write("forward.x", x)
before = len(os.listdir("/proc/self/task"))
art.run("forward")
threads = len(os.listdir("/proc/self/task"))
y = art.read("forward.y")
worst = 0.0
for r in range(rows):
    row = [max(v, 0.0) for v in x[r * cols:(r + 1) * cols]]
    top = max(row)
    total = sum(math.exp(v - top) for v in row)
    for c, v in enumerate(row):
        worst = max(worst, abs(y[r * cols + c] - math.exp(v - top) / total))
print(f"rows {rows}: threads before {before}, after {threads}; max error {worst:.1e}")
if worst > 1e-6:
    sys.exit("wrong result")
