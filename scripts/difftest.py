#!/usr/bin/python3
"""Differential testing of nnc against PyTorch: random valid models.

    /usr/bin/python3 scripts/difftest.py [--seconds S] [--seed-start N] [--count K]
                                         [--replay SEED] [--nnc PATH] [--keep DIR]
                                         [--enable-known-bugs]

(scripts/difftest.sh wraps it.) Each seed makes one random model in nnc's
language (docs/language.md) from a seeded generator: a CNN, MLP, sequence
(f32 steps or i64 tokens through an embedding) model, with every documented
layer and option (conv2d stride/padding incl. "same"/"valid"/dilation/groups/
bias, max/avg/global pooling, batchnorm 1d/2d, layernorm, the activations, softmax/
log_softmax, dropout, flatten/reshape, linear, add and concat branches,
embedding, rnn/lstm/gru with layers/bidirectional/sequence/nonlinearity/bias,
attention with heads/kv_heads/causal/bias, pos_embedding, linear tied to the
embedding with tie=),
blocks with parameters called under `repeat` (also `repeat i in n`), `as`
names, a model hyperparameter used as a size, optional `normalize`, random
small shapes (one model in five wide), batch sizes 1, 2, 3, 5, 1 or 2
threads. The same description builds the PyTorch module (float64) with the
same state_dict names, layer by layer. Details: docs/difftest.md.

Oracles, for each model (the first failure stops the model):
  1. `nnc report --format json`: parameter and buffer counts equal PyTorch's.
  2. eval-mode forward on random inputs, random weights and random batchnorm
     running statistics: `nnc run --check` and the built artifact's `forward`
     equal PyTorch's (reference in float64 on the same f32 values).
  3. one training step through the artifact's C ABI `train_step` (built once
     with `nnc build --train`, reused for 2): train-mode batchnorm, dropout
     with p = 0 (a model with p > 0 skips this oracle), a random optimizer
     (sgd, momentum with or without Nesterov, adam, adamw; weight decay
     sometimes; random initial optimizer state and step, so Adam is not a
     sign function) gives the loss, the updated parameters, buffers and
     optimizer state of PyTorch (float64; PyTorch's f32 RNN gradients were
     not always finite on this machine). A step where PyTorch in f32 already
     differs from PyTorch in f64 by more than TRAIN_TOLERANCE / 4 is
     ill-conditioned (e.g. batchnorm over nearly equal values) and skipped.
  4. every nnc configuration of NNC_CONFIGS gives the same: the default
     (fusion on), `--no-fuse`, and `--gpu-emulate` (the GPU mapping's kernels
     run on the CPU).
  5. no crash, hang (60 s per command) or error: an error on a model that
     PyTorch runs is a failure.

Tolerances (error |nnc - pytorch| / (1 + |pytorch|), as `nnc run --check`):
forward 1e-4 and train 1e-4. nnc computes in f32 (about 6e-8 relative per
rounding); the models are small (reductions of at most a few hundred terms,
at most ~10 layers), so accumulated f32 error stays below ~1e-5 while a real
bug (a wrong index, a missing term) moves values by 1e-2 or more. Values are
kept where the two should agree: PyTorch's default initialization, inputs in
[-1, 1], batchnorm statistics near 1, learning rates <= 0.1, no losses on
saturated softmax.

Known nnc bugs being fixed elsewhere are avoided by the generator while
KNOWN_BUGS lists them (`--enable-known-bugs` generates them anyway): remove a
name from KNOWN_BUGS once its fix is merged.

A failing model is minimized (statements dropped, sizes shrunk, batch
reduced, while the same oracle still fails) and written as a regression test
under test/difftest/regress/ (Inputs/<name>.nn, Inputs/<name>.safetensors
with PyTorch's reference, <name>.test running `nnc run --check` and the
train-step check without PyTorch). Prints the seed, the minimized model and
both outputs; exit status 1 when any model failed.
"""
import argparse
import copy
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from torch_forward_reference import SelfAttention, save  # noqa: E402

CHECKER = os.path.join(ROOT, "test", "difftest", "check_artifact.py")
REGRESS = os.path.join(ROOT, "test", "difftest", "regress")

# Known bugs (issue 8) fixed on another branch; the generator avoids each one
# listed here. Remove a name when its fix is merged.
KNOWN_BUGS = set()  # i32-ids, softmax-dim, bn-single-value, info-optimizer: fixed

# The nnc configurations every model is compared under: (name, extra build/run flags).
# gpu-emulate runs the kernels as the GPU back end maps them (one gpu.launch
# per kernel, its block and thread ids turned into loops on the CPU;
# docs/gpu.md), so every random model also checks the GPU mapping's indexing.
NNC_CONFIGS = [("default", []), ("no-fuse", ["--no-fuse"]), ("gpu-emulate", ["--gpu-emulate"])]

FORWARD_TOLERANCE = 1e-4
TRAIN_TOLERANCE = 1e-4
TIMEOUT = 60
# A training step where some relu/leaky_relu input lies within KINK of 0 is
# ill-conditioned: f32 rounding can flip the input's side, and the gradient
# with it (seen: difftest seed 100947, an input 8.5e-9 from 0).
KINK = 1e-5
ILL = object()  # torch_step's answer for an ill-conditioned step

# Name prefixes of the automatic layer names (docs/language.md, Names).
PREFIX = {"conv2d": "conv", "linear": "fc", "embedding": "embed", "batchnorm": "bn",
          "batchnorm1d": "bn", "batchnorm2d": "bn", "rnn": "rnn", "lstm": "lstm",
          "gru": "gru", "maxpool2d": "pool", "avgpool2d": "pool", "dropout": "drop",
          "attention": "attn", "layernorm": "ln", "pos_embedding": "pos"}
# Positional order of each layer's non-tensor arguments.
POSITIONAL = {
    "conv2d": ["out", "kernel", "stride", "padding", "dilation", "groups", "bias"],
    "linear": ["out", "bias"], "embedding": ["num", "dim"], "leaky_relu": ["slope"],
    "softmax": ["dim"], "log_softmax": ["dim"], "maxpool2d": ["kernel", "stride", "padding"],
    "avgpool2d": ["kernel", "stride", "padding"], "batchnorm": ["eps", "momentum"],
    "batchnorm1d": ["eps", "momentum"], "batchnorm2d": ["eps", "momentum"],
    "dropout": ["p"], "reshape": ["shape"], "layernorm": ["eps", "affine"],
    "rnn": ["hidden", "layers", "bidirectional", "sequence", "nonlinearity", "bias"],
    "lstm": ["hidden", "layers", "bidirectional", "sequence", "bias"],
    "gru": ["hidden", "layers", "bidirectional", "sequence", "bias"],
    "attention": ["heads", "kv_heads", "causal", "bias"],
    "pos_embedding": ["num"],
}
ACTIVATIONS = ["relu", "sigmoid", "tanh", "gelu", "leaky_relu"]



class Sym(str):
    """A block or model parameter used as a layer argument."""


class Expr(str):
    """An integer expression over the names in scope (e.g. `2 * i + 1`)."""


def resolve(v, bind):
    if isinstance(v, Sym):
        return bind[v]
    if isinstance(v, Expr):
        return eval(v, {"__builtins__": {}}, dict(bind))
    if isinstance(v, list):
        return [resolve(e, bind) for e in v]
    return v


def render_value(v):
    if isinstance(v, (Sym, Expr)):
        return str(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"%s"' % v
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(render_value(e) for e in v) + "]"
    return str(v)


# ---------------------------------------------------------------------------
# The model description and its PyTorch interpretation.
#
# spec = {"batch", "inputs": [(name, dtype, dims)], "blocks": {name: (params
# [(name, default)], stmts)}, "stmts", "train": {...}, "normalize"}; stmts:
#   ("chain", out, inp, [(layer, [(key, value)], npos)], piped)
#   ("add", out, a, b)            ("concat", out, [vars], dim)
#   ("call", out, block, inp, [(key, value)], npos)
#   ("repeat", n, [stmts])        ("output", name, var)
# ---------------------------------------------------------------------------


class Net(nn.Module):
    """Interprets a spec; creates each layer's module at its first use under
    its nnc name, so named_parameters() are nnc's names."""

    def __init__(self, spec):
        super().__init__()
        self.spec = spec
        self.made = {}

    def module(self, path, factory):
        if path not in self.made:
            mod = factory().double()
            mod.train(self.training)  # created during forward: take the net's mode
            parent = self
            parts = path.split(".")
            for p in parts[:-1]:
                if not hasattr(parent, p):
                    parent.add_module(p, nn.Module())
                parent = getattr(parent, p)
            parent.add_module(parts[-1], mod)
            self.made[path] = mod
        return self.made[path]

    def forward(self, x):
        spec = self.spec
        if spec.get("normalize") and x.is_floating_point():
            mean, std = spec["normalize"]
            shape = [1, -1] + [1] * (x.dim() - 2) if isinstance(mean, list) else []
            m = torch.tensor(mean, dtype=x.dtype)
            s = torch.tensor(std, dtype=x.dtype)
            if shape:
                m, s = m.view(shape), s.view(shape)
            x = (x - m) / s
        env = {spec["inputs"][0][0]: x}
        scope = {"prefix": "", "counters": {}}
        outs = self.run(spec["stmts"], env, scope, dict(spec.get("hparams", [])))
        return outs[0]

    def name(self, scope, kind, alias=None):
        if alias:  # `as alias`: no counter is used
            return scope["prefix"] + alias
        p = PREFIX.get(kind, kind)
        scope["counters"][p] = scope["counters"].get(p, 0) + 1
        return scope["prefix"] + p + str(scope["counters"][p])

    def run(self, stmts, env, scope, bind):
        outs = []
        for s in stmts:
            kind = s[0]
            if kind == "chain":
                _, out, inp, ops, _ = s
                v = env[inp]
                for op in ops:
                    v = self.layer(op[0], {k: resolve(a, bind) for k, a in op[1]}, v, scope,
                                   alias(op))
                env[out] = v
            elif kind == "add":
                env[s[1]] = env[s[2]] + env[s[3]]
            elif kind == "concat":
                env[s[1]] = torch.cat([env[v] for v in s[2]], s[3])
            elif kind == "call":
                out, block, inp, args = s[1:5]
                params, body = self.spec["blocks"][block]
                inner = dict(params)
                inner.update({k: resolve(a, bind) for k, a in args})
                name = self.name(scope, block, call_alias(s))
                sub = {"prefix": name + ".", "counters": {}}
                env[out] = self.run(body, {"x": env[inp]}, sub, inner)[0]
            elif kind == "repeat":
                for i in range(s[1]):
                    inner = dict(bind, **{s[3]: i}) if len(s) > 3 else bind
                    self.run(s[2], env, scope, inner)
            elif kind == "output":
                outs.append(env[s[2]])
        return outs

    def layer(self, layer, a, x, scope, alias=None):
        if layer in ("relu", "leaky_relu") and x.numel():
            # the closest input to the kink (see torch_step)
            self.kink = min(getattr(self, "kink", math.inf), x.abs().min().item())
        if layer in ("relu", "sigmoid", "tanh", "gelu"):
            return getattr(torch, layer)(x) if layer != "gelu" else F.gelu(x)
        if layer == "leaky_relu":
            return F.leaky_relu(x, a.get("slope", 0.01))
        if layer in ("softmax", "log_softmax"):
            return getattr(F, layer)(x, a.get("dim", -1))
        if layer == "flatten":
            return x.flatten(1)
        if layer == "reshape":
            return x.reshape(x.shape[0], *a["shape"])
        if layer == "global_avgpool":
            return x.mean((2, 3))
        name = self.name(scope, layer, alias)
        if layer == "conv2d":
            pad = a.get("padding", 0)
            pad = 0 if pad == "valid" else pad
            mod = self.module(name, lambda: nn.Conv2d(
                x.shape[1], a["out"], a["kernel"], a.get("stride", 1), pad,
                a.get("dilation", 1), a.get("groups", 1), a.get("bias", True)))
            return mod(x)
        if layer == "linear":
            mod = self.module(name, lambda: nn.Linear(x.shape[-1], a["out"], a.get("bias", True)))
            if "tie" in a:  # the embedding's weight, one parameter (docs/language.md)
                mod.weight = self.made[a["tie"]].weight
            return mod(x)
        if layer == "pos_embedding":
            return x + self.module(name, lambda: nn.Embedding(a["num"], x.shape[-1])).weight[
                :x.shape[1]]
        if layer == "embedding":
            return self.module(name, lambda: nn.Embedding(a["num"], a["dim"]))(x)
        if layer == "layernorm":
            return self.module(name, lambda: nn.LayerNorm(
                x.shape[-1], a.get("eps", 1e-5), a.get("affine", True)))(x)
        if layer.startswith("batchnorm"):
            cls = nn.BatchNorm2d if x.dim() == 4 else nn.BatchNorm1d
            return self.module(name, lambda: cls(x.shape[1], a.get("eps", 1e-5),
                                                 a.get("momentum", 0.1)))(x)
        if layer in ("maxpool2d", "avgpool2d"):
            k = a["kernel"]
            s = a.get("stride", k)
            if layer == "maxpool2d":
                return F.max_pool2d(x, k, s, a.get("padding", 0))
            return F.avg_pool2d(x, k, s, a.get("padding", 0), count_include_pad=True)
        if layer == "dropout":
            return F.dropout(x, a.get("p", 0.5), self.training)
        if layer == "attention":
            return self.module(name, lambda: SelfAttention(
                x.shape[-1], a["heads"], a.get("kv_heads"), a.get("causal", False),
                a.get("bias", True)))(x)
        if layer in ("rnn", "lstm", "gru"):
            kw = dict(input_size=x.shape[-1], hidden_size=a["hidden"],
                      num_layers=a.get("layers", 1), bias=a.get("bias", True),
                      batch_first=True, bidirectional=a.get("bidirectional", False))
            if layer == "rnn":
                kw["nonlinearity"] = a.get("nonlinearity", "tanh")
            mod = self.module(name, lambda: {"rnn": nn.RNN, "lstm": nn.LSTM,
                                             "gru": nn.GRU}[layer](**kw))
            y, h = mod(x)
            if a.get("sequence", False):
                return y
            if layer == "lstm":
                h = h[0]
            return torch.cat([h[-2], h[-1]], 1) if kw["bidirectional"] else h[-1]
        raise ValueError("unknown layer " + layer)


# ---------------------------------------------------------------------------
# Rendering a spec as an nnc model file.
# ---------------------------------------------------------------------------


def alias(op):
    """The `as` name of an op (layer, args, npos[, alias]), else None."""
    return op[3] if len(op) > 3 else None


def call_alias(s):
    """The `as` name of a call statement (..., npos[, alias]), else None."""
    return s[6] if len(s) > 6 else None


def render_call(layer, args, npos, first=None, name=None):
    parts = [first] if first is not None else []
    for i, (k, v) in enumerate(args):
        parts.append(render_value(v) if i < npos else "%s=%s" % (k, render_value(v)))
    text = "%s(%s)" % (layer, ", ".join(parts)) if parts else layer
    return text + (" as " + name if name else "")


def render_op(op, first=None):
    return render_call(op[0], op[1], op[2], first, alias(op))


def render_stmts(stmts, indent):
    pad = "  " * indent
    lines = []
    for s in stmts:
        kind = s[0]
        if kind == "chain":
            _, out, inp, ops, piped = s
            if piped:
                text = inp + "".join(" |> " + render_op(op) for op in ops)
            else:
                text = render_op(ops[0], inp) + "".join(" |> " + render_op(op) for op in ops[1:])
            lines.append("%s%s = %s" % (pad, out, text))
        elif kind == "add":
            lines.append("%s%s = add(%s, %s)" % (pad, s[1], s[2], s[3]))
        elif kind == "concat":
            lines.append("%s%s = concat(%s, dim=%d)" % (pad, s[1], ", ".join(s[2]), s[3]))
        elif kind == "call":
            out, block, inp, args, npos = s[1:6]
            lines.append("%s%s = %s" % (pad, out, render_call(block, args, npos, inp,
                                                               call_alias(s))))
        elif kind == "repeat":
            index = (s[3] + " in ") if len(s) > 3 else ""
            lines.append("%srepeat %s%d {" % (pad, index, s[1]))
            lines += render_stmts(s[2], indent + 1)
            lines.append(pad + "}")
        elif kind == "output":
            lines.append("%soutput %s%s" % (pad, (s[1] + " = ") if s[1] else "", s[2]))
    return lines


def render(spec):
    lines = ["# difftest model (scripts/difftest.py)"]
    for name, (params, body) in spec["blocks"].items():
        ps = ", ".join(p if d is None else "%s = %s" % (p, render_value(d)) for p, d in params)
        lines.append("block %s(%s) {" % (name, ps))
        lines.append("  input x")
        lines += render_stmts(body, 1)
        lines.append("}")
    hparams = ", ".join("%s = %s" % (k, render_value(v)) for k, v in spec.get("hparams", []))
    lines.append("model m%s {" % ("(%s)" % hparams if hparams else ""))
    for name, dtype, dims in spec["inputs"]:
        lines.append("  input %s: %s[N%s]" % (name, dtype, "".join(", %d" % d for d in dims)))
    lines += render_stmts(spec["stmts"], 1)
    t = spec["train"]
    items = ["loss = " + t["loss"], "lr = %r" % t["lr"], "batch = %d" % spec["batch"]]
    if t["in_section"]:
        items.append("optimizer = " + t["opt"])
        if t["opt"] == "momentum":
            items.append("momentum = %r" % t["momentum"])
        if t["wd"]:
            items.append("weight_decay = %r" % t["wd"])
    if spec.get("normalize"):
        items.append("normalize = " + render_value(list(spec["normalize"])))
    lines.append("  train { %s }" % "; ".join(items))
    lines.append("}")
    return "\n".join(lines) + "\n"


def build_flags(spec):
    t = spec["train"]
    flags = ["--batch", str(spec["batch"])]
    if not t["in_section"]:
        flags += ["--optimizer", t["opt"]]
        if t["opt"] == "momentum":
            flags += ["--momentum", repr(t["momentum"])]
        if t["wd"]:
            flags += ["--weight-decay", repr(t["wd"])]
    if t["nesterov"]:
        flags.append("--nesterov")
    return flags


# ---------------------------------------------------------------------------
# The generator.
# ---------------------------------------------------------------------------


class Gen:
    """Builds a random valid spec, executing each statement on a sample batch
    (float64) to know the shapes; a statement PyTorch refuses is dropped."""

    def __init__(self, seed, known_bugs):
        self.rng = random.Random(seed)
        self.seed = seed
        self.avoid = known_bugs
        # One model in five is "wide": sizes up to 4x larger (other kernel
        # code paths: blocked GEMMs, vector remainders, threads).
        self.wide = self.rng.random() < 0.2
        self.limit = 16384 if self.wide else 4096
        self.var = 0
        self.named = 0

    def size(self, lo, hi):
        """A random size in [lo, hi], or up to 4 hi for a wide model."""
        return self.rng.randint(lo, hi * 4 if self.wide else hi)

    def fresh(self):
        self.var += 1
        return "v%d" % self.var

    def try_stmt(self, stmts):
        """Runs the spec with `stmts` appended; True (and keeps them) when
        PyTorch accepts them and every value stays finite."""
        trial = dict(self.spec, stmts=self.spec["stmts"] + stmts)
        try:
            with torch.no_grad():
                net = Net(trial)
                net.eval()
                env = {}
                x = self.sample
                env[trial["inputs"][0][0]] = x
                scope = {"prefix": "", "counters": {}}
                net.run(trial["stmts"], env, scope, dict(trial.get("hparams", [])))
        except (RuntimeError, ValueError, IndexError):
            return False
        for s in stmts:
            if s[0] in ("chain", "add", "concat", "call"):
                v = env[s[1]]
                if v.numel() == 0 or v.numel() > self.limit or not torch.isfinite(v).all():
                    return False
                self.shapes[s[1]] = list(v.shape[1:])
        self.spec["stmts"] += stmts
        return True

    def kw(self, layer, pairs):
        """Keeps the (key, value) pairs whose value is not None; a random
        number of leading ones positional when they are in positional order."""
        args = [(k, v) for k, v in pairs if v is not None]
        order = POSITIONAL.get(layer, [])
        npos = 0
        while npos < len(args) and npos < len(order) and args[npos][0] == order[npos]:
            npos += 1
        return args, self.rng.randint(0, npos)

    def op(self, layer, pairs):
        args, npos = self.kw(layer, pairs)
        if layer in PREFIX and self.rng.random() < 0.08:
            self.named += 1
            return (layer, args, npos, "named%d" % self.named)
        return (layer, args, npos)

    def chain(self, out, inp, ops):
        return ("chain", out, inp, ops, self.rng.random() < 0.5)

    def activation(self):
        r = self.rng
        if r.random() < 0.05:
            return self.op(r.choice(["softmax", "log_softmax"]),
                           [("dim", -1)] if r.random() < 0.5 else [])
        act = r.choice(ACTIVATIONS)
        if act == "leaky_relu" and r.random() < 0.6:
            return self.op(act, [("slope", r.choice([0.1, 0.2, 0.01, 0.3]))])
        return self.op(act, [])

    def dropout(self):
        r = self.rng
        p = 0.0 if r.random() < 0.7 else r.choice([0.1, 0.25, 0.5])
        if p:
            self.dropout_on = True
        return self.op("dropout", [] if p == 0.5 and r.random() < 0.5 else [("p", p)])

    def batchnorm(self, rank):
        r = self.rng
        name = r.choice(["batchnorm", "batchnorm1d" if rank <= 3 else "batchnorm2d"])
        pairs = []
        if r.random() < 0.3:
            pairs.append(("eps", r.choice([1e-5, 1e-3, 0.01])))
        if r.random() < 0.3:
            pairs.append(("momentum", r.choice([0.1, 0.2, 0.5])))
        if pairs and pairs[0][0] == "momentum" and r.random() < 0.5:
            pairs.insert(0, ("eps", 1e-5))
        return self.op(name, pairs)

    def layernorm(self):
        r = self.rng
        pairs = []
        if r.random() < 0.3:
            pairs.append(("eps", r.choice([1e-5, 1e-3, 0.01])))
        if r.random() < 0.3:
            pairs.append(("affine", r.random() < 0.5))
        return self.op("layernorm", pairs)

    def conv(self, cin, h, w, out=None, same=False):
        r = self.rng
        out = out or self.size(1, 8)
        gs = [g for g in range(1, min(cin, out) + 1) if cin % g == 0 and out % g == 0]
        groups = r.choice(gs) if r.random() < 0.3 else 1
        if r.random() < 0.2:
            kernel = [r.randint(1, 3), r.randint(1, 3)]
        else:
            kernel = r.randint(1, 4)
        ks = kernel if isinstance(kernel, list) else [kernel, kernel]
        dilation = 1 if r.random() < 0.7 else r.choice([2, [1, 2], 3])
        ds = dilation if isinstance(dilation, list) else [dilation, dilation]
        eff = [(k - 1) * d + 1 for k, d in zip(ks, ds)]
        stride = 1 if same or r.random() < 0.6 else r.choice([2, [1, 2], 3])
        pairs = [("out", out), ("kernel", kernel), ("stride", stride if stride != 1 or
                                                    r.random() < 0.3 else None)]
        if (same or r.random() < 0.3) and stride == 1 and all(e % 2 == 1 for e in eff):
            pairs.append(("padding", "same"))
        elif same:
            return None
        elif r.random() < 0.15:
            pairs.append(("padding", "valid"))
        elif r.random() < 0.15:
            pairs.append(("padding", [r.randint(0, ks[0] // 2), r.randint(0, ks[1] // 2)]))
        else:
            p = r.randint(0, max(ks) // 2 if r.random() < 0.9 else max(ks))
            pairs.append(("padding", p if p else None))
        if dilation != 1:
            pairs.append(("dilation", dilation))
        if groups != 1:
            pairs.append(("groups", groups))
        if r.random() < 0.25:
            pairs.append(("bias", r.random() < 0.5))
        if r.random() < 0.1:
            pairs.append(("in", cin))  # checked against the inferred size
        return self.op("conv2d", pairs)

    def pool(self, h, w):
        r = self.rng
        layer = r.choice(["maxpool2d", "avgpool2d"])
        if r.random() < 0.25:  # [kh, kw] kernel, stride and padding
            ks = [r.randint(1, 3), r.randint(1, 3)]
            pairs = [("kernel", ks), ("stride", [r.randint(1, k) for k in ks]),
                     ("padding", [r.randint(0, k // 2) for k in ks])]
            return self.op(layer, pairs[:r.randint(1, 3)])
        k = r.randint(1, 3)
        pairs = [("kernel", k)]
        if r.random() < 0.4:
            pairs.append(("stride", r.randint(1, k + 1)))  # may skip inputs
        if r.random() < 0.3 and k >= 2:
            if len(pairs) == 1:
                pairs.append(("stride", k))
            pairs.append(("padding", r.randint(0, k // 2)))
        return self.op(layer, pairs)

    # -- blocks: shape-preserving bodies over the channel/feature count `c`
    def block(self, family, rank):
        r = self.rng
        c = Sym("c")
        body = []
        if family == "cnn":
            k = r.choice([1, 3])
            conv = ("conv2d", [("out", c), ("kernel", Sym("k") if r.random() < 0.5 else k),
                               ("padding", "same")], r.randint(0, 2))
            ops = [conv]
            if r.random() < 0.7:
                ops.append(self.batchnorm(4))
            ops.append(self.activation())
            body.append(self.chain("y", "x", ops))
        elif family == "seq" and rank == 2 and r.random() < 0.5:
            cell = r.choice(["lstm", "gru", "rnn"])
            body.append(self.chain("y", "x", [(cell, [("hidden", c), ("sequence", True)], 0)]))
        else:
            ops = [("linear", [("out", c)], r.randint(0, 1))]
            if r.random() < 0.5 and rank == 1:
                ops.append(self.batchnorm(2))
            ops.append(self.activation())
            body.append(self.chain("y", "x", ops))
        if r.random() < 0.7:
            body.append(("add", "y", "x", "y"))
        body.append(("output", None, "y"))
        uses_k = any(isinstance(v, Sym) and v == "k" for s in body if s[0] == "chain"
                     for op in s[3] for _, v in op[1])
        params = [("c", None)] + ([("k", 3)] if uses_k else [])
        return params, body

    # -- families
    def generate(self):
        r = self.rng
        family = r.choice(["cnn", "cnn", "mlp", "seq", "tokens"])
        batch = r.choice([1, 2, 2, 3, 3, 5])
        self.dropout_on = False
        if family == "cnn":
            dims = [self.size(1, 4), self.size(3, 9), self.size(3, 9)]
            inputs = [("x", "f32", dims)]
        elif family == "mlp":
            dims = [self.size(1, 12)]
            inputs = [("x", "f32", dims)]
        elif family == "seq":
            dims = [self.size(1, 5), self.size(1, 6)]
            inputs = [("x", "f32", dims)]
        else:
            dims = [r.randint(1, 6)] if r.random() < 0.85 else []
            dtype = "i64" if "i32-ids" in self.avoid or r.random() < 0.7 else "i32"
            inputs = [("tokens", dtype, dims)]
        vocab = r.randint(2, 12)
        self.vocab = vocab
        self.spec = {"batch": batch, "inputs": inputs, "blocks": {}, "stmts": [],
                     "family": family, "hparams": [("width", self.size(2, 8))]}
        if family != "tokens" and r.random() < 0.2:
            if family == "cnn" and r.random() < 0.5:
                self.spec["normalize"] = ([round(r.uniform(-0.5, 0.5), 3) for _ in range(dims[0])],
                                          [round(r.uniform(0.5, 2), 3) for _ in range(dims[0])])
            else:
                self.spec["normalize"] = (round(r.uniform(-0.5, 0.5), 3),
                                          round(r.uniform(0.5, 2), 3))
        sb = max(batch, 2)
        if family == "tokens":
            self.sample = torch.randint(0, vocab, [sb] + dims)
        else:
            self.sample = torch.rand([sb] + dims, dtype=torch.float64) * 2 - 1
        self.shapes = {inputs[0][0]: dims}
        cur = inputs[0][0]
        if family == "tokens":
            v = self.fresh()
            pairs = [("num", vocab), ("dim", self.size(1, 6))]
            op = self.op("embedding", pairs)
            ok = self.try_stmt([self.chain(v, cur, [op])])
            assert ok
            # (name, rows, dim) for linear's tie=.
            self.embedding = (alias(op) or "embed1", vocab, pairs[1][1])
            cur = v
        steps = r.randint(1, 5)
        for _ in range(steps * 3):
            if steps == 0:
                break
            nxt = self.step(cur, family)
            if nxt:
                cur = nxt
                steps -= 1
        cur = self.head(cur)
        return self.finish(cur)

    def step(self, cur, family):
        """One random statement (or a few) on `cur`; the new current value or None."""
        r = self.rng
        shape = self.shapes[cur]
        rank = len(shape)
        v = self.fresh()
        choice = r.random()
        if rank == 3:  # [C, H, W]
            c, h, w = shape
            if choice < 0.35:
                op = self.conv(c, h, w)
                ops = [op] + ([self.batchnorm(4)] if r.random() < 0.4 else []) + \
                      ([self.activation()] if r.random() < 0.6 else [])
                return v if self.try_stmt([self.chain(v, cur, ops)]) else None
            if choice < 0.5:
                return v if self.try_stmt([self.chain(v, cur, [self.pool(h, w)])]) else None
            if choice < 0.6:
                pick = r.random()
                ops = [self.batchnorm(4)] if pick < 0.4 else [self.dropout()] if pick < 0.7 \
                    else [self.op("linear", [("out", r.randint(1, 6))])]  # on W
                return v if self.try_stmt([self.chain(v, cur, ops)]) else None
            if choice < 0.72:  # residual
                op = self.conv(c, h, w, out=c, same=True)
                if op is None:
                    return None
                y = self.fresh()
                return v if self.try_stmt([self.chain(y, cur, [op, self.activation()]),
                                           ("add", v, cur, y)]) else None
            if choice < 0.85:  # concat branches
                a, b = self.fresh(), self.fresh()
                dim = r.choice([1, 1, 2, 3, -1])
                if dim == 1:
                    sa = self.conv(c, h, w, same=True)
                    sb = self.conv(c, h, w, same=True) if r.random() < 0.5 else \
                        ("maxpool2d", [("kernel", 3), ("stride", 1), ("padding", 1)], 1)
                    if sa is None or sb is None:
                        return None
                else:
                    sa, sb = self.activation(), self.activation()
                branches = [self.chain(a, cur, [sa]), self.chain(b, cur, [sb])]
                if r.random() < 0.3:  # a third input: the value itself
                    branches.append(("concat", v, [a, b, cur], dim))
                else:
                    branches.append(("concat", v, [a, b], dim))
                return v if self.try_stmt(branches) else None
            return self.repeat_block(cur, "cnn", v)
        if rank == 2:  # [T, F] or [C, L]
            t, f = shape
            if family in ("seq", "tokens") and choice < 0.1:
                op = self.op("pos_embedding", [("num", t + r.choice([0, 0, 1, 3]))])
                return v if self.try_stmt([self.chain(v, cur, [op])]) else None
            emb = getattr(self, "embedding", None)
            if family == "tokens" and emb and emb[2] == f and choice < 0.2:
                pairs = [("out", emb[1]), ("bias", r.random() < 0.5), ("tie", emb[0])]
                return v if self.try_stmt([self.chain(v, cur, [self.op("linear", pairs)])]) \
                    else None
            if choice < 0.4 and family in ("seq", "tokens") and r.random() < 0.3:
                heads = r.choice([h for h in range(1, min(f, 4) + 1) if f % h == 0])
                pairs = [("heads", heads)]
                if r.random() < 0.5:
                    pairs.append(("kv_heads", r.choice([k for k in range(1, heads + 1)
                                                        if heads % k == 0])))
                if r.random() < 0.6:
                    pairs.append(("causal", r.random() < 0.7))
                if r.random() < 0.2:
                    pairs.append(("bias", r.random() < 0.5))
                return v if self.try_stmt([self.chain(v, cur, [self.op("attention", pairs)])]) \
                    else None
            if choice < 0.4 and family in ("seq", "tokens"):
                cell = r.choice(["rnn", "lstm", "gru"])
                pairs = [("hidden", self.size(1, 6))]
                if r.random() < 0.4:
                    pairs.append(("layers", r.randint(1, 2)))
                if r.random() < 0.4:
                    pairs.append(("bidirectional", r.random() < 0.7))
                if r.random() < 0.7:
                    pairs.append(("sequence", r.random() < 0.6))
                if cell == "rnn" and r.random() < 0.4:
                    pairs.append(("nonlinearity", r.choice(["tanh", "relu"])))
                if r.random() < 0.2:
                    pairs.append(("bias", r.random() < 0.5))
                return v if self.try_stmt([self.chain(v, cur, [self.op(cell, pairs)])]) \
                    else None
            if choice < 0.5:
                ops = [self.op("linear", [("out", self.size(1, 8))])]
                if r.random() < 0.5:
                    ops.append(self.activation())
                return v if self.try_stmt([self.chain(v, cur, ops)]) else None
            if choice < 0.6:
                norm = self.layernorm() if r.random() < 0.4 else self.batchnorm(3)
                return v if self.try_stmt([self.chain(v, cur, [norm])]) else None
            if choice < 0.7:
                return v if self.try_stmt([self.chain(v, cur, [self.activation()])]) else None
            if choice < 0.8:
                dim = r.choice([1, 2, -1])
                a, b = self.fresh(), self.fresh()
                return v if self.try_stmt([self.chain(a, cur, [self.activation()]),
                                           self.chain(b, cur, [self.op("linear", [(
                                               "out", f if dim == 1 else r.randint(1, 4))])]),
                                           ("concat", v, [a, b], dim)]) else None
            if choice < 0.9 and family in ("seq", "tokens"):
                return self.repeat_block(cur, "seq", v)
            return v if self.try_stmt([self.chain(v, cur, [self.op("reshape", [(
                "shape", [f, t] if r.random() < 0.5 else [-1])])])]) else None
        # rank 1: [F]
        f = shape[0]
        if choice < 0.4:
            pick = r.random()
            out = Sym("width") if pick < 0.15 else Expr("width - 1") if pick < 0.2 else \
                self.size(1, 10)
            ops = [self.op("linear", [("out", out),
                                      ("bias", None if r.random() < 0.8 else False),
                                      ("in", f if r.random() < 0.1 else None)])]
            if r.random() < 0.4:
                ops.append(self.layernorm() if r.random() < 0.3 else self.batchnorm(2))
            if r.random() < 0.7:
                ops.append(self.activation())
            if r.random() < 0.2:
                ops.append(self.dropout())
            return v if self.try_stmt([self.chain(v, cur, ops)]) else None
        if choice < 0.55:
            y = self.fresh()
            return v if self.try_stmt([self.chain(y, cur, [self.op("linear", [("out", f)]),
                                                           self.activation()]),
                                       ("add", v, cur, y)]) else None
        if choice < 0.7:
            a, b = self.fresh(), self.fresh()
            return v if self.try_stmt([
                self.chain(a, cur, [self.op("linear", [("out", r.randint(1, 5))])]),
                self.chain(b, cur, [self.activation()]),
                ("concat", v, [a, b], r.choice([1, -1]))]) else None
        if choice < 0.85 and f > 1:
            divs = [d for d in range(2, f + 1) if f % d == 0]
            d = r.choice(divs)
            return v if self.try_stmt([self.chain(v, cur, [self.op("reshape", [(
                "shape", [d, f // d] if r.random() < 0.6 else [-1, f // d])])])]) else None
        return self.repeat_block(cur, "mlp", v)

    def repeat_block(self, cur, family, v):
        r = self.rng
        shape = self.shapes[cur]
        params, body = self.block(family, len(shape))
        name = r.choice(["unit", "cell", "stage"])
        if name in self.spec["blocks"]:
            if self.spec["blocks"][name] != (params, body):
                return None
        c = shape[0] if family == "cnn" else shape[-1]
        args = [("c", c)]
        if len(params) > 1 and r.random() < 0.5:
            args.append(("k", r.choice([1, 3, 5])))
        npos = r.randint(0, len(args))
        n = r.randint(0, 3)
        call = ("call", cur, name, cur, args, npos)
        if r.random() < 0.15 and n == 1:
            self.named += 1
            call += ("stem%d" % self.named,)
        old = self.spec["blocks"].get(name)
        self.spec["blocks"][name] = (params, body)
        if len(params) > 1 and r.random() < 0.4:
            # `repeat i in n`: the kernel grows with i (1, 3, 5, ...)
            call = call[:4] + ([("c", c), ("k", Expr("2 * i + 1"))],) + call[5:]
            stmts = [("repeat", n, [call], "i")]
        elif n != 1 or r.random() < 0.5:
            stmts = [("repeat", n, [call])]
        else:
            stmts = [call]
        # The repeated value rebinds `cur`; copy it into v afterwards.
        stmts.append(self.chain(v, cur, [self.activation()]))
        if self.try_stmt(stmts):
            return v
        if old is None:
            del self.spec["blocks"][name]
        return None

    def head(self, cur):
        r = self.rng
        shape = self.shapes[cur]
        if len(shape) == 3 or (len(shape) == 2 and r.random() < 0.6):
            v = self.fresh()
            op = self.op("global_avgpool", []) if len(shape) == 3 and r.random() < 0.5 \
                else self.op("flatten", [])
            if self.try_stmt([self.chain(v, cur, [op])]):
                cur = v
        return cur

    def finish(self, cur):
        r = self.rng
        spec = self.spec
        shape = self.shapes[cur]
        ce = len(shape) == 1 and r.random() < 0.65
        out = self.fresh()
        if ce:
            ops = [self.op("linear", [("out", r.randint(2, 6))])]
            if r.random() < 0.15:
                ops.append(self.op("log_softmax", []))
        else:
            ops = []
            if r.random() < 0.5:
                ops.append(self.op("linear", [("out", r.randint(1, 4))]))
            if r.random() < 0.2:
                dim = -1
                if "softmax-dim" not in self.avoid and r.random() < 0.6:
                    dim = r.randint(0, len(shape))
                ops.append(self.op(r.choice(["softmax", "log_softmax"]),
                                   [("dim", dim)] if dim != -1 or r.random() < 0.3 else []))
            if not ops:
                ops.append(self.activation())
        if not self.try_stmt([self.chain(out, cur, ops)]):
            ops = [self.op("linear", [("out", 3)])] if ce else [self.op("tanh", [])]
            if not self.try_stmt([self.chain(out, cur, ops)]):
                return None
        spec["stmts"].append(("output", r.choice(["y", None]), out))
        opt = r.choice(["sgd", "momentum", "adam", "adamw"])
        spec["train"] = {
            "loss": "cross_entropy" if ce else "mse",
            "opt": opt, "lr": r.choice([0.01, 0.05, 0.1]),
            "momentum": r.choice([0.9, 0.5]), "nesterov": opt == "momentum" and
            r.random() < 0.3, "wd": r.choice([0, 0, 0.01]),
            "in_section": r.random() < 0.5}
        spec["vocab"] = self.vocab
        spec["threads"] = 2 if self.wide or r.random() < 0.3 else 1
        spec["train_ok"] = not self.dropout_on
        return spec


def features(spec):
    """What a model uses, for the run summary: layers, layer.option (with the
    value for options that are not sizes), statement kinds, batch, input."""
    found = {"batch=%d" % spec["batch"], "input " + spec["inputs"][0][1],
             "threads=%d" % spec["threads"],
             "optimizer " + spec["train"]["opt"], "loss " + spec["train"]["loss"]}
    if spec.get("normalize"):
        found.add("normalize")
    bodies = [spec["stmts"]] + [b for _, b in spec["blocks"].values()]
    for body in bodies:
        for s in walk(body):
            if s[0] == "chain":
                for op in s[3]:
                    layer, args = op[0], op[1]
                    found.add(layer)
                    if alias(op):
                        found.add("as")
                    for k, v in args:
                        sized = k in ("out", "hidden", "num", "dim", "kernel", "shape", "in")
                        if isinstance(v, (Sym, Expr)):
                            found.add("parameter argument")
                        found.add("%s.%s" % (layer, k) if sized or isinstance(v, Sym) else
                                  "%s.%s=%s" % (layer, k, render_value(v)))
            elif s[0] == "concat":
                found.add("concat dim=%d" % s[3])
            elif s[0] in ("add", "call"):
                found.add(s[0])
            elif s[0] == "repeat":
                found.add("repeat" if len(s) == 3 else "repeat i in")
    return found


def has_single_value_batchnorm(spec, net, x):
    """True when some batchnorm sees one value per channel in training."""
    found = []

    def hook(mod, inp, out):
        t = inp[0]
        per = t.numel() // t.shape[1]
        if per <= 1:
            found.append(mod)
    hs = [m.register_forward_hook(hook) for m in net.modules()
          if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        net.train()
        try:
            net(x)
        except (RuntimeError, ValueError):
            found.append(None)
        net.eval()
    for h in hs:
        h.remove()
    return bool(found)


# ---------------------------------------------------------------------------
# The reference: weights, inputs, PyTorch's forward and training step.
# ---------------------------------------------------------------------------


def f32(t):
    """t rounded to float32, back in float64."""
    return t.float().double()


def make_reference(spec, seed):
    """(net, tensors for the reference file, whether the train step is checked)."""
    torch.manual_seed(seed)
    rng = random.Random(seed * 7 + 1)
    b = spec["batch"]
    name, dtype, dims = spec["inputs"][0]
    if dtype in ("i64", "i32"):
        x = torch.randint(0, spec["vocab"], [b] + dims)
    else:
        x = f32(torch.rand([b] + dims, dtype=torch.float64) * 2 - 1)
    net = Net(spec)
    with torch.no_grad():
        net.eval()
        net(x)  # creates the modules
        for pname, p in net.named_parameters():
            if ".weight" in pname and isinstance(net.made.get(pname.rsplit(".", 1)[0]),
                                                 nn.modules.batchnorm._BatchNorm):
                p.copy_(torch.rand_like(p) + 0.5)
            elif pname.endswith(".bias") and isinstance(
                    net.made.get(pname.rsplit(".", 1)[0]), nn.modules.batchnorm._BatchNorm):
                p.copy_(torch.rand_like(p) - 0.5)
            p.copy_(f32(p))
        for bname, buf in net.named_buffers():
            if bname.endswith("running_mean"):
                buf.copy_(f32(torch.rand_like(buf) - 0.5))
            elif bname.endswith("running_var"):
                buf.copy_(f32(torch.rand_like(buf) * 1.5 + 0.5))
            elif bname.endswith("num_batches_tracked"):
                buf.fill_(rng.randint(0, 5))
        y = net(x)
    tensors, seen = {}, set()
    for k, v in net.state_dict(keep_vars=True).items():
        if id(v) in seen:  # a tied weight: stored once, under its first name
            continue
        seen.add(id(v))
        v = v.detach()
        tensors[k] = v.float() if v.is_floating_point() else v
    tensors["__input"] = x.float() if x.is_floating_point() else \
        x.int() if dtype == "i32" else x.long()
    tensors["__output"] = y.float()
    train_ok = spec["train_ok"]
    if has_single_value_batchnorm(spec, copy.deepcopy(net), x):
        if "bn-single-value" in KNOWN_BUGS_ACTIVE:
            train_ok = False
        else:
            # PyTorch refuses to train it (also when this model's step would
            # not be compared, e.g. with dropout on): nnc must refuse too.
            return net, tensors, ("refused: Expected more than 1 value per channel "
                                  "when training (batchnorm)")
    if train_ok:
        train_ok = add_train_step(spec, net, x, tensors, rng)
    return net, tensors, train_ok


def torch_step(spec, net, x, labels, step, init_state, dtype):
    """One PyTorch training step on a copy of `net` in `dtype`: (loss, {name:
    value after} for the state_dict and the optimizer state), or a string
    when PyTorch refuses the step, or None when a gradient is missing (dead
    code left by the minimizer: torch.optim skips it) or not finite."""
    t = spec["train"]
    net = copy.deepcopy(net).to(dtype)
    net.train()
    params = dict(net.named_parameters())
    lr, wd = t["lr"], t["wd"]
    if t["opt"] in ("sgd", "momentum"):
        mom = t["momentum"] if t["opt"] == "momentum" else 0
        opt = torch.optim.SGD(params.values(), lr=lr, momentum=mom, nesterov=t["nesterov"],
                              weight_decay=wd)
    elif t["opt"] == "adam":
        opt = torch.optim.Adam(params.values(), lr=lr, weight_decay=wd)
    else:
        opt = torch.optim.AdamW(params.values(), lr=lr, weight_decay=wd)
    for pname, p in params.items():
        st = {k: v.to(dtype).clone() for k, v in init_state[pname].items()}
        if t["opt"] == "momentum" and step > 1:
            opt.state[p] = st
        elif t["opt"] in ("adam", "adamw"):
            st["step"] = torch.tensor(float(step - 1))
            opt.state[p] = st
    try:
        y = net(x.to(dtype) if x.is_floating_point() else x)
    except ValueError as e:  # e.g. batchnorm with one value per channel
        return "refused: " + str(e)
    if getattr(net, "kink", math.inf) < KINK:
        return ILL  # f32 rounding may put an input on the other side of relu's kink
    target = labels.to(dtype) if labels.is_floating_point() else labels
    loss = F.cross_entropy(y, target) if t["loss"] == "cross_entropy" else F.mse_loss(y, target)
    opt.zero_grad()
    loss.backward()
    if not all(p.grad is not None and torch.isfinite(p.grad).all() for p in params.values()):
        return None
    opt.step()
    after = dict(net.state_dict())
    for pname, p in params.items():
        for s in init_state[pname]:
            # momentum at step 1: the buffer becomes the gradient
            after["%s.%s" % (pname, s)] = opt.state[p].get(s, p.grad).detach()
    return loss.detach(), after


def add_train_step(spec, net, x, tensors, rng):
    """Adds one training step to the reference: True, False (not checked:
    no parameters, a missing or non-finite gradient), None (not checked:
    ill-conditioned), or "refused: why" when PyTorch refuses it."""
    t = spec["train"]
    out_shape = list(tensors["__output"].shape)
    if t["loss"] == "cross_entropy":
        labels = torch.randint(0, out_shape[-1], [out_shape[0]])
    else:
        labels = f32(torch.rand(out_shape, dtype=torch.float64) * 2 - 1)
    params = dict(net.named_parameters())
    if not params:
        return False
    step = rng.randint(1, 4)
    state_names = {"momentum": ["momentum_buffer"], "adam": ["exp_avg", "exp_avg_sq"],
                   "adamw": ["exp_avg", "exp_avg_sq"]}.get(t["opt"], [])
    init_state = {}
    for pname, p in params.items():
        init_state[pname] = {}
        for s in state_names:
            v = f32(torch.rand_like(p) * (0.01 if s == "exp_avg_sq" else 0.2) -
                    (0 if s == "exp_avg_sq" else 0.1))
            if s == "momentum_buffer" and step == 1:
                # nnc's momentum update assumes a zero buffer before the
                # first step (codegen/LowerTrainOps.cpp), as torch.optim does.
                v = torch.zeros_like(p)
            tensors["__state.%s.%s" % (pname, s)] = v.float()
            init_state[pname][s] = v
    ref = torch_step(spec, net, x, labels, step, init_state, torch.float64)
    if ref is ILL:
        return None
    if isinstance(ref, str):
        tensors["__refused"] = torch.tensor(0)
        return ref
    if ref is None:
        return False
    # Conditioning: where PyTorch in f32 already differs from its f64 result
    # by more than a quarter of the tolerance (e.g. batchnorm over a batch of
    # nearly equal values, whose variance is below eps), any f32
    # implementation may; the step is not compared.
    low = torch_step(spec, net, x, labels, step, init_state, torch.float32)
    if isinstance(low, tuple):
        for k, v in ref[1].items():
            if v.is_floating_point():
                err = ((low[1][k].double() - v).abs() / (1 + v.abs())).max().item()
                if err > TRAIN_TOLERANCE / 4:
                    return None
    loss, after = ref
    tensors["__labels"] = labels if t["loss"] == "cross_entropy" else labels.float()
    tensors["__lr"] = torch.tensor(t["lr"], dtype=torch.float32)
    tensors["__step"] = torch.tensor(step, dtype=torch.int64)
    tensors["__seed"] = torch.tensor(rng.randint(0, 1000), dtype=torch.int64)
    tensors["__loss"] = loss.float()
    for k, v in after.items():
        tensors["__after." + k] = v.float() if v.is_floating_point() else v
    return True


# ---------------------------------------------------------------------------
# Running nnc.
# ---------------------------------------------------------------------------


def run_cmd(cmd, env=None):
    """(status, output): status 'ok', 'error' (exit 1), 'crash' (signal or
    other status) or 'hang'."""
    for attempt in range(3):
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, env=env)
            break
        except subprocess.TimeoutExpired:
            return "hang", "timed out after %d s: %s" % (TIMEOUT, " ".join(cmd))
        except OSError as e:  # e.g. nnc being relinked by a build right now
            if attempt == 2:
                return "crash", "cannot run %s: %s" % (cmd[0], e)
            time.sleep(2)
    out = p.stdout + p.stderr
    if "ERROR: AddressSanitizer" in out or "ERROR: LeakSanitizer" in out or \
            ": runtime error: " in out:
        return "sanitizer", "sanitizer report: %s\n%s" % (" ".join(cmd), out)
    if p.returncode == 0:
        return "ok", out
    if p.returncode == 1:
        return "error", out
    return "crash", "exit status %d: %s\n%s" % (p.returncode, " ".join(cmd), out)


def count_torch(net):
    params = sum(p.numel() for p in net.parameters())
    buffers = [b for b in net.buffers()]
    return params, sum(b.numel() for b in buffers), len(buffers)


def check(spec, seed, nnc, work, trace=None):
    """Runs every oracle on one model. Returns (None, stats) or
    ((oracle, message), stats)."""
    text = render(spec)
    model = os.path.join(work, "m.nn")
    ref = os.path.join(work, "m.safetensors")
    with open(model, "w") as f:
        f.write(text)
    try:
        net, tensors, train_ok = make_reference(spec, seed)
    except RuntimeError as e:
        return ("pytorch", "PyTorch refused the model: %s" % e), {}
    save(ref, tensors)
    stats = {"train": train_ok is True, "ill": train_ok is None}
    flags = build_flags(spec)
    env = dict(os.environ, OMP_NUM_THREADS=str(spec["threads"]))
    checker_env = dict(env, **ASAN_PRELOAD)
    # 1. counts
    st, out = run_cmd([nnc, "report", model, "--format", "json", "--batch",
                       str(spec["batch"])], env)
    if st != "ok":
        return ("report-" + st, out), stats
    rep = json.loads(out)
    want = count_torch(net)
    got = (rep["parameters"]["total"], rep["buffers"]["elements"], rep["buffers"]["tensors"])
    if got != want:
        return ("counts", "nnc report: %d parameters, %d buffer elements in %d tensors; "
                "PyTorch: %d, %d in %d" % (got + want)), stats
    for cname, extra in NNC_CONFIGS:
        # 2. forward through nnc run
        st, out = run_cmd([nnc, "run", model, "--weights", ref, "--inputs", ref, "--check",
                           "--threads", str(spec["threads"]), "--tolerance",
                           str(FORWARD_TOLERANCE)] + extra, env)
        if st != "ok":
            kind = "forward" if "differs from the expected" in out else "run-" + st
            if kind == "forward":  # show both outputs
                so = os.path.join(work, "m-%s.so" % cname)
                if run_cmd([nnc, "build", model, "-o", so] + flags + extra, env)[0] == "ok":
                    out += run_cmd([sys.executable, CHECKER, so, ref, "--forward-only"],
                                   checker_env)[1]
            return (kind + "[%s]" % cname, out), stats
        # 2, 3. the artifact: forward and train_step
        so = os.path.join(work, "m-%s.so" % cname)
        st, out = run_cmd([nnc, "build", model, "--train", "-o", so] + flags + extra, env)
        if isinstance(train_ok, str):
            # PyTorch refuses to train the model: nnc must refuse it too.
            if st == "ok":
                return ("train-accepted[%s]" % cname, "PyTorch refuses one training step (%s); "
                        "nnc build --train accepts it" % train_ok[9:]), stats
            if st != "error":
                return ("build-" + st + "[%s]" % cname, out), stats
            st, out = run_cmd([nnc, "build", model, "-o", so] + flags + extra, env)
        if st != "ok":
            return ("build-" + st + "[%s]" % cname, out), stats
        st, out = run_cmd([sys.executable, CHECKER, so, ref] + checker_flags(spec, train_ok),
                          checker_env)
        if st != "ok":
            kind = "artifact-" + st
            if "MISMATCH" in out:
                what = out.split("MISMATCH ", 1)[1]
                kind = "info-optimizer" if what.startswith("info") else "train" if \
                    "train_step" in what[:40] else "artifact-forward"
            return (kind + "[%s]" % cname, out), stats
    return None, stats


def checker_flags(spec, train_ok):
    """The flags of test/difftest/check_artifact.py for this model."""
    flags = ["--tolerance", "%g" % FORWARD_TOLERANCE, "--train-tolerance", "%g" % TRAIN_TOLERANCE]
    if train_ok is not True:
        flags.append("--forward-only")
    elif "info-optimizer" not in KNOWN_BUGS_ACTIVE:
        flags += ["--optimizer", spec["train"]["opt"]]
    return flags


# ---------------------------------------------------------------------------
# Minimizer.
# ---------------------------------------------------------------------------


def valid(spec):
    """PyTorch accepts the spec (at its batch and at batch 2)."""
    try:
        net = Net(spec)
        name, dtype, dims = spec["inputs"][0]
        b = max(spec["batch"], 2)
        x = torch.randint(0, spec["vocab"], [b] + dims) if dtype != "f32" else \
            torch.rand([b] + dims, dtype=torch.float64)
        with torch.no_grad():
            net.eval()
            y = net(x)
        if spec["train"]["loss"] == "cross_entropy" and y.dim() != 2:
            return False
        return True
    except (RuntimeError, ValueError, IndexError, KeyError):
        return False


def candidates(spec):
    """Smaller variants of spec, most aggressive first."""
    out = []
    stmts = spec["stmts"]
    # Drop one statement, rewiring its uses to its input.
    for i, s in enumerate(stmts):
        if s[0] == "output":
            continue
        c = copy.deepcopy(spec)
        rest = c["stmts"]
        del rest[i]
        if s[0] in ("chain", "call"):
            src = s[2] if s[0] == "chain" else s[3]
        elif s[0] == "add":
            src = s[2]
        elif s[0] == "concat":
            src = s[2][0]
        else:
            src = None
        if src is not None and src != s[1]:
            rest[i:] = [rename(t, s[1], src) for t in rest[i:]]
        out.append(c)
    # Drop one op of a chain; shrink a repeat.
    for i, s in enumerate(stmts):
        if s[0] == "chain" and len(s[3]) > 1:
            for j in range(len(s[3])):
                c = copy.deepcopy(spec)
                del c["stmts"][i][3][j]
                out.append(c)
        if s[0] == "repeat" and s[1] > 1:
            c = copy.deepcopy(spec)
            c["stmts"][i] = ("repeat", 1) + tuple(s[2:])
            out.append(c)
            c = copy.deepcopy(spec)
            c["stmts"][i:i + 1] = s[2]
            out.append(c)
    # Batch, input dims, integer arguments.
    if spec["batch"] > 1:
        for b in sorted({1, 2, spec["batch"] - 1}):
            if b < spec["batch"]:
                c = copy.deepcopy(spec)
                c["batch"] = b
                out.append(c)
    name, dtype, dims = spec["inputs"][0]
    for k, d in enumerate(dims):
        if d > 1:
            for nd in sorted({1, d // 2, d - 1}):
                c = copy.deepcopy(spec)
                c["inputs"][0][2][k] = nd
                if c.get("normalize") and isinstance(c["normalize"][0], list) and k == 0:
                    c["normalize"] = (c["normalize"][0][:nd], c["normalize"][1][:nd])
                out.append(c)
    for i, s in enumerate(stmts):
        if s[0] != "chain":
            continue
        for j, op in enumerate(s[3]):
            args = op[1]
            for a, (k, v) in enumerate(args):
                if isinstance(v, int) and not isinstance(v, bool) and v > 1 and \
                        k in ("out", "hidden", "dim", "num", "layers"):
                    for nv in sorted({1, v // 2, v - 1}):
                        c = copy.deepcopy(spec)
                        c["stmts"][i][3][j][1][a] = (k, nv)
                        if op[0] == "embedding" and k == "num" and "vocab" in c:
                            # Token ids stay below the smaller vocabulary.
                            c["vocab"] = min(c["vocab"], nv)
                        out.append(c)
                elif k in ("bidirectional", "sequence", "bias") and v is True:
                    c = copy.deepcopy(spec)
                    c["stmts"][i][3][j][1][a] = (k, False)
                    out.append(c)
    # Unused blocks go.
    for c in out:
        used = {s[2] for s in walk(c["stmts"]) if s[0] == "call"}
        c["blocks"] = {k: v for k, v in c["blocks"].items() if k in used}
    return out


def walk(stmts):
    for s in stmts:
        yield s
        if s[0] == "repeat":
            yield from walk(s[2])


def rename(s, old, new):
    """Statement s with uses (not definitions) of `old` replaced by `new`."""
    s = list(s)
    if s[0] == "chain" and s[2] == old:
        s[2] = new
    elif s[0] == "call" and s[3] == old:
        s[3] = new
    elif s[0] == "add":
        s[2] = new if s[2] == old else s[2]
        s[3] = new if s[3] == old else s[3]
    elif s[0] == "concat":
        s[2] = [new if v == old else v for v in s[2]]
    elif s[0] == "output" and s[2] == old:
        s[2] = new
    elif s[0] == "repeat":
        s[2] = [rename(t, old, new) for t in s[2]]
    return tuple(s)


def minimize(spec, seed, nnc, work, oracle, deadline):
    """Greedy reduction while the same oracle fails."""
    base = oracle.split("[")[0]
    best = spec
    best_failure = None
    changed = True
    while changed and time.time() < deadline:
        changed = False
        for c in candidates(best):
            if time.time() > deadline:
                break
            if not valid(c):
                continue
            c["train_ok"] = best["train_ok"]
            failure, _ = check(c, seed, nnc, work)
            if failure and failure[0].split("[")[0] == base:
                best, best_failure, changed = c, failure, True
                break
    return best, best_failure


def write_regression(spec, seed, failure, out_dir=REGRESS):
    """Writes <out_dir>/{Inputs/<name>.nn, Inputs/<name>.safetensors, <name>.test}."""
    name = "seed%d" % seed
    os.makedirs(os.path.join(out_dir, "Inputs"), exist_ok=True)
    model = os.path.join(out_dir, "Inputs", name + ".nn")
    with open(model, "w") as f:
        f.write(render(spec))
    _, tensors, train_ok = make_reference(spec, seed)
    save(os.path.join(out_dir, "Inputs", name + ".safetensors"), tensors)
    flags = " ".join(build_flags(spec))
    header = ("# difftest seed %d (scripts/difftest.py --replay %d), minimized: %s." % (
        seed, seed, failure[0]) if failure[0] != "sample" else
        "# difftest seed %d (scripts/difftest.py --write-test %d): a random model checked "
        "without PyTorch." % (seed, seed))
    lines = [header,
        "# Reference from PyTorch (float64); see test/difftest/check_artifact.py.",
        "# RUN: %%nnc run %%S/Inputs/%s.nn --threads 1 --weights %%S/Inputs/%s.safetensors "
        "--inputs %%S/Inputs/%s.safetensors --check --tolerance %g | FileCheck %%s" % (
            name, name, name, FORWARD_TOLERANCE),
        "# CHECK: outputs match"]
    train = "--train " if train_ok is True else ""
    if isinstance(train_ok, str):
        lines += ["# PyTorch refuses one training step: %s" % train_ok[9:],
                  "# RUN: not %%nnc build %%S/Inputs/%s.nn --train %s -o %%t.so 2>&1 | "
                  "FileCheck %%s --check-prefix=REFUSE" % (name, flags),
                  "# REFUSE: error:"]
    lines += [
        "# RUN: %%nnc build %%S/Inputs/%s.nn %s%s -o %%t.so" % (name, train, flags),
        "# RUN: %%python-model %%S/../check_artifact.py %%t.so %%S/Inputs/%s.safetensors "
        "%s | FileCheck %%s --check-prefix=ABI" % (name, " ".join(checker_flags(spec, train_ok))),
        "# ABI: forward: {{[0-9]+}} outputs match"]
    if train_ok is True:
        lines.append("# ABI: train_step: loss and {{[0-9]+}} tensors match")
    path = os.path.join(out_dir, name + ".test")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


KNOWN_BUGS_ACTIVE = set(KNOWN_BUGS)
# With --asan (nnc from an ASan+UBSan build, e.g. build-asan/bin/nnc): the
# uninstrumented Python that loads an artifact preloads clang's ASan runtime,
# as test/lit.cfg.py does for %python-model.
ASAN_PRELOAD = {}


def main():
    global KNOWN_BUGS_ACTIVE
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seed-start", type=int, default=1)
    ap.add_argument("--count", type=int, default=0, help="models (0: until --seconds)")
    ap.add_argument("--replay", type=int, help="run one seed, print its model, keep its files")
    ap.add_argument("--nnc", default=os.path.join(ROOT, "build", "bin", "nnc"))
    ap.add_argument("--keep", help="directory for the failing models' files")
    ap.add_argument("--enable-known-bugs", action="store_true")
    ap.add_argument("--asan", action="store_true",
                    help="--nnc is an ASan+UBSan build: preload the ASan runtime for artifacts")
    ap.add_argument("--no-minimize", action="store_true")
    ap.add_argument("--no-regression", action="store_true",
                    help="do not write regression tests for failures")
    ap.add_argument("--minimize-seconds", type=float, default=120)
    ap.add_argument("--max-failures", type=int, default=10,
                    help="stop after this many failing models")
    ap.add_argument("--write-test", type=int, metavar="SEED",
                    help="write SEED's model and reference as a test under --test-dir")
    ap.add_argument("--test-dir", default=REGRESS)
    args = ap.parse_args()
    if args.enable_known_bugs:
        KNOWN_BUGS_ACTIVE = set()
    if args.asan:
        rt = subprocess.run(["clang-22", "-print-file-name=libclang_rt.asan-x86_64.so"],
                            capture_output=True, text=True).stdout.strip()
        ASAN_PRELOAD.update(LD_PRELOAD=rt, ASAN_OPTIONS="detect_leaks=0:allow_user_poisoning=0")
    torch.set_num_threads(1)
    if args.write_test is not None:
        spec = Gen(args.write_test, KNOWN_BUGS_ACTIVE).generate()
        print(render(spec))
        print(write_regression(spec, args.write_test, ("sample", ""), args.test_dir))
        return 0
    work = tempfile.mkdtemp(prefix="nnc-difftest-")
    start = time.time()
    seed = args.seed_start
    if args.replay is not None:
        seed = args.replay
    n_models = n_train = n_fail = n_ill = 0
    families = {}
    coverage = {}
    failures = []
    try:
        while True:
            if args.replay is not None and n_models == 1:
                break
            if len(failures) >= args.max_failures:
                break
            if args.replay is None and (args.count and n_models >= args.count or
                                        not args.count and time.time() - start > args.seconds):
                break
            try:
                spec = Gen(seed, KNOWN_BUGS_ACTIVE).generate()
            except Exception:  # a bug of this script: report it, go on
                traceback.print_exc()
                print("difftest: seed %d: the generator failed (a bug of difftest.py)" % seed)
                failures.append((seed, "generator"))
                seed += 1
                continue
            if spec is None:
                seed += 1
                continue
            if args.replay is not None:
                print(render(spec))
            failure, stats = check(spec, seed, args.nnc, work)
            n_models += 1
            families[spec["family"]] = families.get(spec["family"], 0) + 1
            for feature in features(spec):
                coverage[feature] = coverage.get(feature, 0) + 1
            if stats.get("train") and (not failure or failure[0].startswith("train")):
                n_train += 1
            n_ill += bool(stats.get("ill"))
            if failure:
                n_fail += 1
                report_failure(spec, seed, failure, args, work)
                failures.append((seed, failure[0]))
            if n_models % 250 == 0:
                print("difftest: %d models, %d training steps, %d failed, %.0f s" % (
                    n_models, n_train, n_fail, time.time() - start), flush=True)
            if args.replay is not None and not failure:
                print("seed %d: all oracles pass (train step %s)" % (
                    seed, "checked" if stats.get("train") else "not checked"))
            seed += 1
    finally:
        if args.replay is None:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("files: " + work)
    took = time.time() - start
    print("difftest: seeds %d..%d: %d models (%s), %d training steps (%d skipped as "
          "ill-conditioned), %d failed, %.0f s" % (
              args.seed_start if args.replay is None else args.replay, seed - 1, n_models,
              ", ".join("%s %d" % kv for kv in sorted(families.items())), n_train, n_ill,
              n_fail, took))
    print("models using: " + ", ".join("%s %d" % kv for kv in sorted(coverage.items())))
    for s, kind in failures:
        print("  FAILED seed %d: %s (replay: scripts/difftest.sh --replay %d)" % (s, kind, s))
    return 1 if failures else 0


def report_failure(spec, seed, failure, args, work):
    print("=" * 72)
    print("difftest: seed %d FAILED: %s" % (seed, failure[0]))
    print(failure[1].rstrip())
    print("model:\n" + render(spec))
    sys.stdout.flush()
    if args.no_minimize or failure[0] == "pytorch":
        return
    small, small_failure = minimize(spec, seed, args.nnc, work, failure[0],
                                    time.time() + args.minimize_seconds)
    if small_failure is None:
        small, small_failure = spec, failure
    print("minimized model (nnc build flags: %s):\n%s" % (" ".join(build_flags(small)),
                                                           render(small)))
    print(small_failure[1].rstrip())
    if not args.no_regression:
        print("regression test: " + write_regression(small, seed, small_failure))
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
        with open(os.path.join(args.keep, "seed%d.nn" % seed), "w") as f:
            f.write(render(small))
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
