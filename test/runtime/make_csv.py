"""Writes small seeded CSV datasets for the data tests.

make_csv.py classify OUT N  -> header f1,f2,f3,f4,label; label = argmax of a
                               fixed linear map of the features (3 classes)
make_csv.py regress OUT N   -> header a,b,c,y,z; y = 0.5a - b + 0.25c + 0.1,
                               z = a + b (regression targets)
"""
import random
import sys

kind, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(7)
with open(out, "w") as f:
    if kind == "classify":
        f.write("f1,f2,f3,f4,label\n")
        w = [[1, -1, 0.5, 0], [-0.5, 1, 1, -1], [0, 0.5, -1, 1]]
        for _ in range(n):
            x = [rng.uniform(-1, 1) for _ in range(4)]
            scores = [sum(a * b for a, b in zip(row, x)) for row in w]
            f.write(",".join(f"{v:.4f}" for v in x) + f",{scores.index(max(scores))}\n")
    else:
        f.write("a,b,c,y,z\n")
        for _ in range(n):
            a, b, c = (rng.uniform(-1, 1) for _ in range(3))
            f.write(f"{a:.4f},{b:.4f},{c:.4f},{0.5 * a - b + 0.25 * c + 0.1:.4f},{a + b:.4f}\n")
