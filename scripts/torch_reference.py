#!/usr/bin/python3
# ===- scripts/torch_reference.py - PyTorch reference numbers for reports -===#
#
# Builds the PyTorch equivalent of every model in examples/ (same architecture,
# same layer and parameter names as nnc gives them) and prints what
# `nnc report` must agree with: sum(p.numel()) over parameters, the number of
# buffer elements, per-layer parameter counts, per-layer output shapes at batch
# 64, the f32 state_dict bytes and the size of the safetensors file holding the
# state_dict (computed here from the format specification, independently of
# runtime/Safetensors.cpp).
#
# Run with Debian's PyTorch:   /usr/bin/python3 scripts/torch_reference.py
# Its output is committed as   test/report/Inputs/torch-reference.txt
# and is the documented source of every reference number in test/report/ and
# test/unit/ModelReportTest.cpp.
#
# ===----------------------------------------------------------------------===#

import json
import math
import struct
import sys
from collections import OrderedDict

import torch
from torch import nn

BATCH = 64


# --- The models of examples/*.nn ------------------------------------------- #


class LeNet(nn.Module):
    """examples/lenet.nn"""

    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, classes)

    def forward(self, x):
        x = nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.fc3(x)

    example_input = staticmethod(lambda: torch.zeros(BATCH, 1, 28, 28))


class ImageCNN(nn.Module):
    """examples/image_cnn.nn"""

    def __init__(self, channels=64, hidden=128, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, channels, 3, padding=1)
        self.fc1 = nn.Linear(channels * 112 * 112, hidden)
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, x):
        x = nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.relu(self.fc1(torch.flatten(x, 1)))
        return self.fc2(x)

    example_input = staticmethod(lambda: torch.zeros(BATCH, 3, 224, 224))


class Linear1000(nn.Module):
    """examples/linear.nn"""

    def __init__(self, features=1000, classes=10):
        super().__init__()
        self.features = features
        self.fc1 = nn.Linear(features, classes)

    def forward(self, x):
        return self.fc1(x)

    def example_input(self):
        return torch.zeros(BATCH, self.features)


class LSTMRows(nn.Module):
    """examples/lstm_rows.nn"""

    def __init__(self, hidden=128, classes=10):
        super().__init__()
        self.lstm1 = nn.LSTM(28, hidden, batch_first=True)
        self.fc1 = nn.Linear(hidden, classes)

    def forward(self, x):
        _, (h, _) = self.lstm1(x.reshape(x.shape[0], 28, 28))
        return self.fc1(h[-1])

    example_input = staticmethod(lambda: torch.zeros(BATCH, 1, 28, 28))


class SeqRNN(nn.Module):
    """examples/seq_rnn.nn"""

    def __init__(self, steps=50, features=100, hidden=128, classes=10):
        super().__init__()
        self.steps, self.features = steps, features
        self.rnn1 = nn.RNN(features, hidden, batch_first=True)
        self.fc1 = nn.Linear(hidden, classes)

    def forward(self, x):
        _, h = self.rnn1(x)
        return self.fc1(h[-1])

    def example_input(self):
        return torch.zeros(BATCH, self.steps, self.features)


class GRUText(nn.Module):
    """examples/gru_text.nn"""

    def __init__(self, vocab=20000, dim=64, hidden=128, length=100, classes=4):
        super().__init__()
        self.length = length
        self.embed1 = nn.Embedding(vocab, dim)
        self.gru1 = nn.GRU(dim, hidden, batch_first=True, bidirectional=True)
        self.drop1 = nn.Dropout(0.2)
        self.fc1 = nn.Linear(2 * hidden, classes)

    def forward(self, ids):
        _, h = self.gru1(self.embed1(ids))
        h = torch.cat([h[-2], h[-1]], dim=1)
        return self.fc1(self.drop1(h))

    def example_input(self):
        return torch.zeros(BATCH, self.length, dtype=torch.int64)


class CausalSelfAttention(nn.Module):
    """attention(x, heads, causal=true): GPT-2's c_attn (query, key and value
    rows, head-major) and c_proj, written by hand (torch 1.13 has no
    scaled_dot_product_attention)."""

    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)

    def forward(self, x):
        n, t, d = x.shape
        hd = d // self.heads
        q, k, v = self.qkv(x).split(d, dim=2)
        q, k, v = (z.view(n, t, self.heads, hd).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
        mask = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
        att = att.masked_fill(mask, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(n, t, d)
        return self.out(y)


class GPTBlock(nn.Module):
    """One pre-LN block of examples/chargpt.nn."""

    def __init__(self, d, heads):
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.attn = CausalSelfAttention(d, heads)
        self.ln2 = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, 4 * d)
        self.fc2 = nn.Linear(4 * d, d)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.fc2(nn.functional.gelu(self.fc1(self.ln2(x))))


class CharGPT(nn.Module):
    """examples/chargpt.nn: token and learned position embeddings, pre-LN
    blocks, a final layernorm and the head tied to the token embedding."""

    def __init__(self, layers=4, d_model=128, heads=4, context=128, vocab=256):
        super().__init__()
        self.context = context
        self.wte = nn.Embedding(vocab, d_model)
        self.pos = nn.Embedding(context, d_model)
        self.blocks = nn.ModuleList(GPTBlock(d_model, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d_model)

    def forward(self, ids):
        x = self.wte(ids) + self.pos.weight[: ids.shape[1]]
        for block in self.blocks:
            x = block(x)
        # Tied head: linear(x, vocab, bias=false, tie="wte").
        return self.ln_f(x) @ self.wte.weight.t()

    def example_input(self):
        return torch.zeros(BATCH, self.context, dtype=torch.int64)


class Basic(nn.Module):
    """block basic(channels) of examples/resnet.nn"""

    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(x + y)


class Down(nn.Module):
    """block down(channels) of examples/resnet.nn"""

    def __init__(self, cin, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, channels, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv3 = nn.Conv2d(cin, channels, 1, stride=2, bias=False)
        self.bn3 = nn.BatchNorm2d(channels)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(self.bn3(self.conv3(x)) + y)


class ResNet(nn.Module):
    """examples/resnet.nn; block instances are named basic1, down1, ... as
    nnc names block calls (kind name + counter within the model)."""

    def __init__(self, depth=2, width=16, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.blocks = []
        counters = {"basic": 0, "down": 0}

        def add(kind, module):
            counters[kind] += 1
            name = "%s%d" % (kind, counters[kind])
            self.add_module(name, module)
            self.blocks.append(name)

        for _ in range(depth):
            add("basic", Basic(width))
        add("down", Down(width, 2 * width))
        for _ in range(depth - 1):
            add("basic", Basic(2 * width))
        add("down", Down(2 * width, 4 * width))
        for _ in range(depth - 1):
            add("basic", Basic(4 * width))
        self.fc1 = nn.Linear(4 * width, classes)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        for name in self.blocks:
            x = getattr(self, name)(x)
        return self.fc1(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))

    example_input = staticmethod(lambda: torch.zeros(BATCH, 3, 32, 32))


# (example name, model name, class, overrides); overrides use the .nn names.
CASES = [
    ("lenet.nn", "lenet", LeNet, {}),
    ("image_cnn.nn", "image_cnn", ImageCNN, {}),
    ("image_cnn.nn", "image_cnn", ImageCNN, {"channels": 32}),
    ("linear.nn", "linear1000", Linear1000, {}),
    ("lstm_rows.nn", "lstm_rows", LSTMRows, {}),
    ("lstm_rows.nn", "lstm_rows", LSTMRows, {"hidden": 256}),
    ("seq_rnn.nn", "seq_rnn", SeqRNN, {}),
    ("seq_rnn.nn", "seq_rnn", SeqRNN, {"hidden": 64}),
    ("gru_text.nn", "gru_text", GRUText, {}),
    ("gru_text.nn", "gru_text", GRUText, {"vocab": 1000}),
    ("resnet.nn", "resnet", ResNet, {}),
    ("resnet.nn", "resnet", ResNet, {"depth": 3, "width": 32}),
]

# --- safetensors, from the format specification ---------------------------- #

SAFETENSORS_DTYPE = {
    torch.float32: ("F32", 4),
    torch.float16: ("F16", 2),
    torch.bfloat16: ("BF16", 2),
    torch.int64: ("I64", 8),
    torch.int32: ("I32", 4),
    torch.int8: ("I8", 1),
}


def safetensors_size(state_dict):
    """Size of a safetensors file holding `state_dict` in its order: 8-byte
    little-endian header length, compact JSON header padded with spaces to a
    multiple of 8, then the tensors back to back."""
    header = OrderedDict()
    offset = 0
    for name, t in state_dict.items():
        dtype, size = SAFETENSORS_DTYPE[t.dtype]
        nbytes = t.numel() * size
        header[name] = {
            "dtype": dtype,
            "shape": list(t.shape),
            "data_offsets": [offset, offset + nbytes],
        }
        offset += nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    return len(struct.pack("<Q", len(text))) + len(text) + offset


# --- Report ---------------------------------------------------------------- #


def layer_of(param_name):
    return param_name.rsplit(".", 1)[0]


def report(example, model_name, cls, overrides, out):
    torch.manual_seed(0)
    model = cls(**overrides)
    model.eval()
    params = OrderedDict(model.named_parameters())
    buffers = OrderedDict(model.named_buffers())
    state = model.state_dict()

    title = model_name
    if overrides:
        title += " " + " ".join("-D %s=%s" % kv for kv in overrides.items())
    out.write("== %s (examples/%s)\n" % (title, example))

    per_layer = OrderedDict()
    for name, p in params.items():
        per_layer[layer_of(name)] = per_layer.get(layer_of(name), 0) + p.numel()
    for layer, count in per_layer.items():
        out.write("layer %-20s params %d\n" % (layer, count))

    shapes = OrderedDict()

    def hook(name):
        def record(_module, _inputs, output):
            if isinstance(_module, nn.RNNBase):
                # nnc's recurrent layers (sequence=false) return the final
                # hidden state of the top layer, directions concatenated.
                dirs = 2 if _module.bidirectional else 1
                shapes[name] = [output[0].shape[0], _module.hidden_size * dirs]
                return
            shapes[name] = list(output.shape)
        return record

    handles = [m.register_forward_hook(hook(n))
               for n, m in model.named_modules() if n and "." not in n
               and not isinstance(m, (Basic, Down))]
    handles += [m.register_forward_hook(hook(n))
                for n, m in model.named_modules() if isinstance(m, (Basic, Down))]
    with torch.no_grad():
        logits = model(model.example_input())
    for h in handles:
        h.remove()
    for name, shape in shapes.items():
        out.write("output %-19s %s\n" % (name, shape))

    num_params = sum(p.numel() for p in params.values())
    num_trainable = sum(p.numel() for p in params.values() if p.requires_grad)
    buffer_elems = sum(b.numel() for b in buffers.values())
    buffer_bytes = sum(b.numel() * b.element_size() for b in buffers.values())
    state_bytes = sum(t.numel() * t.element_size() for t in state.values())
    out.write("logits %s\n" % list(logits.shape))
    out.write("parameters %d\n" % num_params)
    out.write("trainable %d\n" % num_trainable)
    out.write("parameter_tensors %d\n" % len(params))
    out.write("buffer_elements %d\n" % buffer_elems)
    out.write("buffer_tensors %d\n" % len(buffers))
    out.write("buffer_bytes %d\n" % buffer_bytes)
    out.write("param_bytes_f32 %d\n" % (4 * num_params))
    out.write("param_bytes_f16 %d\n" % (2 * num_params))
    out.write("param_bytes_int8 %d\n" % num_params)
    out.write("state_dict_bytes %d\n" % state_bytes)
    out.write("safetensors_file_bytes %d\n" % safetensors_size(state))
    out.write("\n")


def main():
    out = sys.stdout
    out.write("# Generated by scripts/torch_reference.py with PyTorch %s; do not edit.\n"
              % torch.__version__)
    out.write("# Output shapes at batch %d. buffer_bytes / state_dict_bytes count each\n"
              "# tensor in its own dtype (num_batches_tracked is int64).\n\n" % BATCH)
    for case in CASES:
        report(*case, out)


if __name__ == "__main__":
    main()
