#!/usr/bin/python3
"""Reference forward outputs for every example, computed by PyTorch.

Run once with Debian's python3-torch; the outputs are committed:
    /usr/bin/python3 scripts/torch_forward_reference.py [NAME...]
(names select cases; none: all). For each example (at batch 2, with hyperparameters shrunk where the default
model would make a large file) it writes test/runtime/Inputs/<name>.safetensors
holding the model's weights under their state_dict names, plus `__input` (the
batch) and `__output` (PyTorch's forward output, including the input normalization of
the example's train section). `nnc run --check` loads the
weights, runs the compiled forward pass on `__input` and compares with
`__output`. The models of test/layers/Inputs/ (together they use every
layer of docs/language.md) get their references next to them.
"""
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "test", "runtime", "Inputs")
LAYERS_OUT = os.path.join(ROOT, "test", "layers", "Inputs")


def save(path, tensors):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        a = t.detach().contiguous().numpy()
        dtype = {"float32": "F32", "int64": "I64", "int32": "I32"}[str(a.dtype)]
        data = a.tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape),
                        "data_offsets": [off, off + len(data)]}
        off += len(data)
        blobs.append(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


# The train section's `normalize = [0.2860, 0.3530]` of lenet.nn and
# lstm_rows.nn: compiled into nnc's forward pass, so the reference applies it
# to the raw [0, 1] input too.
FASHION_MEAN, FASHION_STD = 0.2860, 0.3530


def fashion_normalize(x):
    return (x - FASHION_MEAN) / FASHION_STD


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 6, 5, padding=2), nn.Conv2d(6, 16, 5)
        self.fc1, self.fc2, self.fc3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)

    def forward(self, x):
        x = fashion_normalize(x)
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x.flatten(1))))))


class LstmRows(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm1, self.fc1 = nn.LSTM(28, 128, batch_first=True), nn.Linear(128, 10)

    def forward(self, x):
        _, (h, _) = self.lstm1(fashion_normalize(x).view(-1, 28, 28))
        return self.fc1(h[-1])


class ImageCnn(nn.Module):  # examples/image_cnn.nn with -D channels=4 -D hidden=8
    def __init__(self):
        super().__init__()
        self.conv1, self.fc1, self.fc2 = nn.Conv2d(3, 4, 3, padding=1), nn.Linear(4 * 112 * 112, 8), nn.Linear(8, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


class SeqRnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn1, self.fc1 = nn.RNN(100, 128, batch_first=True), nn.Linear(128, 10)

    def forward(self, x):
        _, h = self.rnn1(x)
        return self.fc1(h[-1])


class Linear1000(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(1000, 10)

    def forward(self, x):
        return self.fc1(x)


class Basic(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(x + self.bn2(self.conv2(y)))


class Down(nn.Module):
    def __init__(self, cin, c):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(cin, c, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.conv3, self.bn3 = nn.Conv2d(cin, c, 1, stride=2, bias=False), nn.BatchNorm2d(c)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(self.bn3(self.conv3(x)) + y)


class ResNet(nn.Module):  # examples/resnet.nn, depth 2, width 16
    def __init__(self, w=16):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, w, 3, padding=1, bias=False), nn.BatchNorm2d(w)
        self.basic1, self.basic2 = Basic(w), Basic(w)
        self.down1, self.basic3 = Down(w, 2 * w), Basic(2 * w)
        self.down2, self.basic4 = Down(2 * w, 4 * w), Basic(4 * w)
        self.fc1 = nn.Linear(4 * w, 10)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        for m in (self.basic1, self.basic2, self.down1, self.basic3, self.down2, self.basic4):
            x = m(x)
        return self.fc1(x.mean((2, 3)))


class GruText(nn.Module):  # examples/gru_text.nn with -D vocab=1000
    def __init__(self):
        super().__init__()
        self.embed1 = nn.Embedding(1000, 64)
        self.gru1 = nn.GRU(64, 128, batch_first=True, bidirectional=True)
        self.drop1, self.fc1 = nn.Dropout(0.2), nn.Linear(256, 4)

    def forward(self, t):
        _, h = self.gru1(self.embed1(t))
        return self.fc1(self.drop1(torch.cat([h[-2], h[-1]], 1)))


class ConcatInception(nn.Module):  # test/layers/Inputs/concat_inception.nn
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(3, 4, 1), nn.Conv2d(3, 6, 3, padding=1)
        self.conv3, self.bn1 = nn.Conv2d(3, 2, 1), nn.BatchNorm2d(12)
        self.fc1, self.fc2, self.fc3 = nn.Linear(192, 16), nn.Linear(192, 8), nn.Linear(24, 10)

    def forward(self, x):
        a = F.relu(self.conv1(x))
        b = torch.tanh(self.conv2(x))
        c = torch.sigmoid(self.conv3(F.avg_pool2d(x, 3, stride=1, padding=1)))
        y = F.max_pool2d(self.bn1(torch.cat([a, b, c], 1)), 2).flatten(1)
        g, h = F.gelu(self.fc1(y)), F.leaky_relu(self.fc2(y), 0.1)
        return self.fc3(torch.cat([g, h], -1))


class LayerMix(nn.Module):  # test/layers/Inputs/layer_mix.nn
    def __init__(self):
        super().__init__()
        self.fc1, self.bn1 = nn.Linear(12, 48), nn.BatchNorm1d(48)
        self.bn2, self.drop1, self.fc2 = nn.BatchNorm2d(3), nn.Dropout(0.25), nn.Linear(51, 5)

    def forward(self, x):
        y = F.relu(self.bn1(self.fc1(x)))
        a = self.bn2(y.view(-1, 3, 4, 4)).mean((2, 3))
        s = F.softmax(y.view(-1, 6, 8), -1).flatten(1)
        t = F.log_softmax(y.view(-1, 6, 8), 2).flatten(1)
        return self.fc2(torch.cat([a, self.drop1(s + t)], 1))


class PoolNorm(nn.Module):  # test/layers/Inputs/pool_norm.nn
    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4)
        self.bn2, self.conv2 = nn.BatchNorm1d(4), nn.Conv2d(4, 3, 1)
        self.fc1 = nn.Linear(147, 4)

    def forward(self, image):
        x = self.bn1(self.conv1(image))
        a = F.max_pool2d(x, (3, 2), 2, 1)
        b = F.avg_pool2d(F.max_pool2d(x, 3, 1), 2, 3)
        c = F.avg_pool2d(x, (3, 2), (2, 1), (1, 1), count_include_pad=True).mean((2, 3))
        d = self.bn2(a.reshape(-1, 4, 25)).flatten(1)
        e = F.max_pool2d(self.conv2(x), 2, 3).flatten(1)
        return self.fc1(torch.cat([d, b.flatten(1), c, e], 1))


class RecurrentMix(nn.Module):  # test/layers/Inputs/recurrent_mix.nn
    def __init__(self):
        super().__init__()
        self.embed1 = nn.Embedding(20, 8)
        self.rnn1 = nn.RNN(8, 8, nonlinearity="relu", batch_first=True)
        self.lstm1 = nn.LSTM(8, 6, batch_first=True, bidirectional=True)
        self.gru1 = nn.GRU(12, 8, num_layers=2, batch_first=True)
        self.fc1 = nn.Linear(8, 4)

    def forward(self, t):
        x, _ = self.rnn1(self.embed1(t))
        x, _ = self.lstm1(x)
        _, h = self.gru1(x)
        return self.fc1(h[-1])


class EmbeddingI32(nn.Module):  # test/layers/Inputs/embedding_i32.nn
    def __init__(self):
        super().__init__()
        self.embed1, self.fc1 = nn.Embedding(20, 5), nn.Linear(30, 4)

    def forward(self, t):
        return self.fc1(self.embed1(t).flatten(1))


class SelfAttention(nn.Module):
    """nnc's attention(x, heads, kv_heads, causal, bias): torch 1.13 has no
    scaled_dot_product_attention, so written out (GPT-2's c_attn + c_proj,
    grouped-query when kv_heads < heads)."""

    def __init__(self, d, heads, kv_heads=None, causal=False, bias=True):
        super().__init__()
        self.heads, self.kv_heads = heads, kv_heads or heads
        self.hd, self.causal = d // heads, causal
        self.qkv = nn.Linear(d, (self.heads + 2 * self.kv_heads) * self.hd, bias=bias)
        self.out = nn.Linear(d, d, bias=bias)

    def forward(self, x):
        n, t, d = x.shape
        h, k, hd = self.heads, self.kv_heads, self.hd
        q, key, v = self.qkv(x).split([h * hd, k * hd, k * hd], dim=-1)
        q = q.view(n, t, h, hd).transpose(1, 2)                  # [n, h, t, hd]
        key = key.view(n, t, k, hd).transpose(1, 2).repeat_interleave(h // k, dim=1)
        v = v.view(n, t, k, hd).transpose(1, 2).repeat_interleave(h // k, dim=1)
        s = q @ key.transpose(-1, -2) / hd ** 0.5
        if self.causal:
            s = s.masked_fill(torch.ones(t, t, dtype=torch.bool).triu(1), float("-inf"))
        y = s.softmax(-1) @ v                                     # [n, h, t, hd]
        return self.out(y.transpose(1, 2).reshape(n, t, d))


class AttentionMix(nn.Module):  # test/layers/Inputs/attention_mix.nn
    def __init__(self):
        super().__init__()
        self.embed1 = nn.Embedding(20, 8)
        self.attn1 = SelfAttention(8, 2)
        self.attn2 = SelfAttention(8, 4, kv_heads=2, causal=True)
        self.attn3 = SelfAttention(8, 2, kv_heads=1, causal=True, bias=False)
        self.fc1 = nn.Linear(48, 4)

    def forward(self, t):
        x = self.attn3(self.attn2(self.attn1(self.embed1(t))))
        return self.fc1(x.flatten(1))


class SoftmaxDims(nn.Module):  # test/layers/Inputs/softmax_dims.nn
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(5, 5), nn.Linear(60, 4)

    def forward(self, x):
        h = self.fc1(x)
        a = F.softmax(h, 1).flatten(1)
        b = F.log_softmax(h, 2).flatten(1)
        c = F.softmax(h, 0).flatten(1)
        d = F.log_softmax(h, 3).flatten(1)
        return self.fc2(a + b + c + d)


class RecurrentConfigs(nn.Module):  # test/layers/Inputs/recurrent_configs.nn
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.lstm1 = nn.LSTM(4, 4, num_layers=2, batch_first=True, bidirectional=True)
        self.gru1 = nn.GRU(4, 5, batch_first=True, bidirectional=True)
        self.rnn1 = nn.RNN(10, 4, num_layers=2, bias=False, batch_first=True)
        self.gru2 = nn.GRU(4, 3, num_layers=2, bias=False, batch_first=True)
        self.rnn2 = nn.RNN(4, 4, nonlinearity="relu", batch_first=True, bidirectional=True)
        self.fc2 = nn.Linear(55, 3)

    def forward(self, x):
        p = self.fc1(x)
        _, (ha, _) = self.lstm1(p)
        b, _ = self.gru1(p)
        _, hc = self.rnn1(b)
        _, hd = self.gru2(p)
        e, _ = self.rnn2(p)
        return self.fc2(torch.cat([ha[-2], ha[-1], hc[-1], hd[-1], e.flatten(1)], 1))


class LayerNormSeq(nn.Module):  # test/layers/Inputs/layernorm_seq.nn
    def __init__(self):
        super().__init__()
        self.embed1, self.ln1 = nn.Embedding(20, 8), nn.LayerNorm(8)
        self.fc1 = nn.Linear(8, 12)
        self.ln2 = nn.LayerNorm(12, eps=1e-3, elementwise_affine=False)
        self.ln3, self.fc2 = nn.LayerNorm(72), nn.Linear(72, 4)
        # Weights and biases other than ones and zeros, so that they count.
        with torch.no_grad():
            for ln in (self.ln1, self.ln3):
                ln.weight.uniform_(0.5, 1.5)
                ln.bias.uniform_(-0.5, 0.5)

    def forward(self, t):
        h = F.gelu(self.fc1(self.ln1(self.embed1(t))))
        return self.fc2(self.ln3(self.ln2(h).flatten(1)))



class GptTied(nn.Module):  # test/layers/Inputs/gpt_tied.nn
    def __init__(self):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(20, 8), nn.Embedding(10, 8)
        self.ln1, self.lnf = nn.LayerNorm(8), nn.LayerNorm(8)
        self.attn = SelfAttention(8, 2, causal=True)
        self.head = nn.Linear(8, 20, bias=False)
        self.head.weight = self.wte.weight  # tied: one parameter
        self.fc = nn.Linear(120, 4)
        with torch.no_grad():
            for ln in (self.ln1, self.lnf):
                ln.weight.uniform_(0.5, 1.5)
                ln.bias.uniform_(-0.5, 0.5)

    def forward(self, t):
        x = self.wte(t) + self.wpe.weight[: t.shape[1]]
        x = x + self.attn(self.ln1(x))
        return self.fc(self.head(self.lnf(x)).flatten(1))


def main():
    torch.manual_seed(1234)
    os.makedirs(OUT, exist_ok=True)
    cases = [("lenet", LeNet(), torch.rand(2, 1, 28, 28)),
             ("lstm_rows", LstmRows(), torch.rand(2, 1, 28, 28)),
             ("image_cnn", ImageCnn(), torch.rand(2, 3, 224, 224)),
             ("seq_rnn", SeqRnn(), torch.randn(2, 50, 100)),
             ("linear", Linear1000(), torch.randn(2, 1000)),
             ("resnet", ResNet(), torch.randn(2, 3, 32, 32)),
             ("gru_text", GruText(), torch.randint(0, 1000, (2, 100)))]
    chosen = set(sys.argv[1:])
    for name, model, x in cases:
        if not chosen or name in chosen:
            write(OUT, name, model, x,
                  (lambda: torch.randn(8, 3, 32, 32)) if name == "resnet" else None)
    # The layer models have their own seed, so adding one leaves the other
    # references unchanged.
    torch.manual_seed(4321)
    layer_cases = [("concat_inception", ConcatInception(), torch.randn(2, 3, 8, 8),
                    lambda: torch.randn(8, 3, 8, 8)),
                   ("layer_mix", LayerMix(), torch.randn(2, 12), lambda: torch.randn(8, 12)),
                   ("recurrent_mix", RecurrentMix(), torch.randint(0, 20, (2, 6)), None),
                   ("pool_norm", PoolNorm(), torch.randn(2, 2, 9, 8),
                    lambda: torch.randn(8, 2, 9, 8))]
    for name, model, x, warm in layer_cases:
        if not chosen or name in chosen:
            write(LAYERS_OUT, name, model, x, warm)
    # Regression models of the differential-testing issue, one seed each.
    regression_cases = [("embedding_i32", EmbeddingI32,
                         lambda: torch.randint(0, 20, (2, 6), dtype=torch.int32)),
                        ("softmax_dims", SoftmaxDims, lambda: torch.randn(3, 3, 4, 5)),
                        ("recurrent_configs", RecurrentConfigs, lambda: torch.randn(2, 5, 3))]
    # Transformer layers (issue 14): seed 9000 each (they were added on
    # separate branches, each as the first after the three above).
    transformer_cases = [("attention_mix", AttentionMix, lambda: torch.randint(0, 20, (2, 6))),
                         ("layernorm_seq", LayerNormSeq, lambda: torch.randint(0, 20, (2, 6))),
                         ("gpt_tied", GptTied, lambda: torch.randint(0, 20, (2, 6)))]
    for seed, (name, make, x) in enumerate(regression_cases):
        if not chosen or name in chosen:
            torch.manual_seed(8000 + seed)
            write(LAYERS_OUT, name, make(), x(), None)
    for name, make, x in transformer_cases:
        if not chosen or name in chosen:
            torch.manual_seed(9000)
            write(LAYERS_OUT, name, make(), x(), None)


def write(out_dir, name, model, x, warm):
    """Saves the weights, `__input` x and PyTorch's `__output` of `model`."""
    # Non-trivial batchnorm statistics: a few training-mode batches first.
    if warm:
        model.train()
        with torch.no_grad():
            for _ in range(3):
                model(warm())
    model.eval()
    with torch.no_grad():
        y = model(x)
    # A tied weight is one parameter: keep it under its first name only.
    tensors, seen = {}, set()
    for key, value in model.state_dict(keep_vars=True).items():
        if id(value) not in seen:
            seen.add(id(value))
            tensors[key] = value.detach()
    tensors["__input"], tensors["__output"] = x, y
    save(os.path.join(out_dir, name + ".safetensors"), tensors)
    print(f"{name}: {sum(p.numel() for p in model.parameters())} parameters, "
          f"output {list(y.shape)}")


if __name__ == "__main__":
    main()
