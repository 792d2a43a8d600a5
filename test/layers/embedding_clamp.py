"""Out-of-range token ids in generated embedding code (plain Python, ctypes).

embedding_clamp.py MODEL.so
embedding_clamp.py --bad-input OUT.safetensors   (an I32 [2, 6] `__input`
                                                  with id 25 at index 3)

MODEL.so: test/layers/Inputs/embedding_i32.nn built with --train --optimizer
sgd. An id outside [0, vocab) is clamped into it by the generated lookup and
its gradient: forward outputs and one SGD step with ids vocab + 5 and -3
equal those with ids vocab - 1 and 0, and differ from those with other ids
(so the table is really read at the clamped rows).
"""
import json
import os
import random
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "runtime"))
from nnc_abi import Artifact  # noqa: E402


def write_bad_input(path):
    ids = [1, 2, 3, 25, 4, 5, 6, 7, 8, 9, 10, 11]
    data = struct.pack(f"<{len(ids)}i", *ids)
    header = json.dumps({"__input": {"dtype": "I32", "shape": [2, 6],
                                     "data_offsets": [0, len(data)]}}).encode()
    header += b" " * (-len(header) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + data)


def main():
    if sys.argv[1] == "--bad-input":
        return write_bad_input(sys.argv[2])
    m = Artifact(sys.argv[1])
    vocab = m.info["hparams"]["vocab"]
    rng = random.Random(5)
    weights = {r["name"]: [rng.uniform(-1, 1) for _ in range(m.count(r))]
               for r in m.info["regions"] if r["kind"] == "param"}
    ids = m.regions["forward.tokens"]
    n = m.count(ids)
    base = [rng.randrange(1, vocab - 1) for _ in range(n)]

    def forward(first, last):
        for name, v in weights.items():
            m.write(name, v)
        m.write("forward.tokens", [first] + base[1:-1] + [last])
        m.run("forward")
        return m.read("forward.logits")

    def step(first, last):
        for name, v in weights.items():
            m.write(name, v)
        m.write("train_step.tokens", [first] + base[1:-1] + [last])
        m.write("train_step.labels", [1] * m.count(m.regions["train_step.labels"]))
        m.write("train_step.lr", [1.0])
        m.write("train_step.step", [1])
        m.write("train_step.seed", [0])
        m.run("train_step")
        return {name: m.read(name) for name in weights}

    for run in (forward, step):
        clamped = run(vocab + 5, -3)
        if clamped != run(vocab - 1, 0):
            sys.exit(f"{run.__name__}: ids {vocab + 5} and -3 do not read rows {vocab - 1} and 0")
        if clamped == run(vocab - 2, 1):
            sys.exit(f"{run.__name__}: the ids do not change the result")
    print(f"out-of-range ids read and update the clamped rows (vocab {vocab})")


if __name__ == "__main__":
    main()
