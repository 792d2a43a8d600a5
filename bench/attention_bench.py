#!/usr/bin/python3
"""nnc vs PyTorch (CPU): the train step of a GPT-shaped stack of attention layers.

    /usr/bin/python3 bench/attention_bench.py [--nnc build/bin/nnc] [--rounds 2] [--iters 10]

The model is the char GPT of issue 14 without its layer norms and position
embedding (not part of the attention work): token embedding (65 -> 128), 4
blocks of causal attention (4 heads, d 128, context 128) with a residual add
and an MLP (128 -> 512 -> gelu -> 128) with a residual add, and a per-position
linear head to 65; mse loss on [32, 128, 65] (the train step costs about what
cross-entropy would), adam, batch 32. PyTorch runs the same model with
attention written by hand (torch 1.13 has no scaled_dot_product_attention:
scripts/torch_forward_reference.py's SelfAttention). Both at 1 and 2 threads,
alternating in rounds; each keeps its best median. Not a test: the numbers
depend on the machine and its load.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from torch_forward_reference import SelfAttention  # noqa: E402

VOCAB, T, D, HEADS, LAYERS, BATCH = 65, 128, 128, 4, 4, 32


def model_source():
    blocks = "\n".join(f"""  a{i} = attention(x, heads={HEADS}, causal=true)
  x = add(x, a{i})
  h{i} = gelu(linear(x, {4 * D}))
  x = add(x, linear(h{i}, {D}))""" for i in range(LAYERS))
    return f"""model gpt_attention(vocab = {VOCAB}, length = {T}) {{
  input tokens: i64[N, length]
  x = embedding(tokens, num=vocab, dim={D})
{blocks}
  output y = linear(x, vocab)
  train {{ loss = mse; optimizer = adam; lr = 0.0001; batch = {BATCH}; epochs = 1 }}
}}
"""


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = SelfAttention(D, HEADS, causal=True)
        self.fc1, self.fc2 = nn.Linear(D, 4 * D), nn.Linear(4 * D, D)

    def forward(self, x):
        x = x + self.attn(x)
        return x + self.fc2(F.gelu(self.fc1(x)))


class Gpt(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, D)
        self.blocks = nn.Sequential(*[Block() for _ in range(LAYERS)])
        self.head = nn.Linear(D, VOCAB)

    def forward(self, t):
        return self.head(self.blocks(self.embed(t)))


def torch_step_ms(threads, iters):
    torch.set_num_threads(threads)
    model = Gpt()
    opt = torch.optim.Adam(model.parameters(), 1e-4)
    tokens = torch.randint(0, VOCAB, (BATCH, T))
    target = torch.randn(BATCH, T, VOCAB)

    def step():
        opt.zero_grad()
        F.mse_loss(model(tokens), target).backward()
        opt.step()

    for _ in range(2):
        step()
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2] * 1000


def nnc_step_ms(nnc, path, threads, iters):
    out = subprocess.run([nnc, "bench", path, "--entry", "train_step", "--iterations",
                          str(iters), "--threads", str(threads)],
                         capture_output=True, text=True, check=True).stdout
    return float(re.search(r"train_step\s+([0-9.]+) ms", out).group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nnc", default=os.path.join(ROOT, "build", "bin", "nnc"))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--iters", type=int, default=10)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "gpt_attention.nn")
        with open(path, "w") as f:
            f.write(model_source())
        best = {}
        for _ in range(args.rounds):
            for threads in (1, 2):
                for name, run in (("nnc", lambda: nnc_step_ms(args.nnc, path, threads, args.iters)),
                                  ("torch", lambda: torch_step_ms(threads, args.iters))):
                    ms = run()
                    if name not in best or ms < best[name][0]:
                        best[name] = (ms, threads)
    print(f"train step, batch {BATCH}, {LAYERS} layers, d {D}, {HEADS} heads, context {T}"
          f" (torch {torch.__version__})")
    for name in ("nnc", "torch"):
        print(f"  {name:6s} {best[name][0]:9.1f} ms ({best[name][1]} threads)")
    print(f"  torch/nnc {best['torch'][0] / best['nnc'][0]:.2f}")


if __name__ == "__main__":
    main()
