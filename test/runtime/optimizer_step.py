"""Optimizer steps of compiled train_step entries against a reference in plain
Python (float32 arithmetic emulated with struct).

optimizer_step.py TORCH.json ORACLE.so NAME=MODEL.so[:lr] ...

1. The reference formulas (torch.optim 1.13's, in the generated code's order
   of float32 operations) reproduce three steps of PyTorch's own optimizers
   stored in TORCH.json (scripts/make_kernel_reference.py), to 1e-6.
2. Each MODEL.so (NAME: sgd, momentum, nesterov, adam or adamw, as the
   artifact's table says; built from the same model) runs three
   train_steps; before each one, the gradient at its current parameters is
   read exactly from ORACLE.so (the model built with plain momentum and no
   weight decay, run with lr = 0: its momentum buffer starts at zero, so the
   step leaves the parameters as they are and writes the gradient into the
   buffer), the reference computes the new parameters and optimizer state from
   the artifact's own state, and the artifact's results must equal them
   exactly (same float32 operations in the same order).
"""
import json
import math
import os
import random
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nnc_abi import Artifact  # noqa: E402


def f32(x):
    """x rounded to float32."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def sgd_family(p, g, state, lr, c, step):
    """SGD (no state) or SGD with momentum (state: [buf]) on one element."""
    wd = f32(c.get("weight_decay", 0.0))
    if wd:
        g = f32(g + f32(wd * p))
    mu = c.get("momentum", 0.0)
    if not mu:
        return f32(p - f32(lr * g)), []
    mu = f32(mu)
    damp = c.get("dampening", 0.0)
    if step == 1:
        buf = g  # torch.optim.SGD's first step (nnc: mu * 0 + g, the same)
    elif damp:
        buf = f32(f32(mu * state[0]) + f32(f32(1.0 - damp) * g))
    else:
        buf = f32(f32(mu * state[0]) + g)
    d = f32(g + f32(mu * buf)) if c.get("nesterov") else buf
    return f32(p - f32(lr * d)), [buf]


def adam(p, g, state, lr, c, step):
    """Adam / AdamW on one element; state: [exp_avg, exp_avg_sq]."""
    beta1, beta2 = c.get("betas", (0.9, 0.999))
    wd, adamw = c.get("weight_decay", 0.0), c.get("adamw", False)
    t = max(step, 1)
    step_size = f32(lr / (1.0 - beta1 ** t))
    bc2_sqrt = f32(math.sqrt(1.0 - beta2 ** t))
    if adamw and wd:
        p = f32(p * f32(1.0 - lr * wd))
    elif wd:
        g = f32(g + f32(f32(wd) * p))
    m = f32(f32(state[0] * f32(beta1)) + f32(f32(1.0 - beta1) * g))
    v = f32(f32(state[1] * f32(beta2)) + f32(f32(f32(1.0 - beta2) * g) * g))
    denom = f32(f32(f32(math.sqrt(v)) / bc2_sqrt) + f32(c.get("eps", 1e-8)))
    return f32(p + f32(f32(-step_size * m) / denom)), [m, v]


def rule(name):
    return adam if name.startswith("adam") else sgd_family


def check_against_torch(path):
    ref = json.load(open(path))
    for name in ("sgd", "momentum", "nesterov", "adam", "adamw"):
        c = dict(ref[name]["config"], adamw=name == "adamw")
        lr = f32(c["lr"])
        params = [f32(v) for v in ref["p0"]]
        states = [[0.0, 0.0] for _ in params]
        for step, grads in enumerate(ref["grads"], 1):
            for i, g in enumerate(grads):
                params[i], states[i] = rule(name)(params[i], f32(g), states[i], lr, c, step)
        worst = max(abs(a - b) / max(abs(b), 1e-30) for a, b in zip(params, ref[name]["result"]))
        if worst > 1e-6:
            sys.exit(f"reference {name}: relative error {worst:.2e} against PyTorch")
    print("reference formulas match PyTorch")


def config_of(model):
    """The optimizer configuration of an artifact, from its table."""
    t = model.info["train"]
    c = {"weight_decay": t.get("weight_decay", 0.0)}
    if t["optimizer"] == "momentum":
        c.update(momentum=t["momentum"], nesterov=t["nesterov"])
    if t["optimizer"].startswith("adam"):
        c.update(betas=(t["beta1"], t["beta2"]), eps=t["eps"], adamw=t["optimizer"] == "adamw")
    return c


def main():
    torch_json, oracle_path, models = sys.argv[1], sys.argv[2], sys.argv[3:]
    check_against_torch(torch_json)
    oracle = Artifact(oracle_path)
    if oracle.info["train"]["weight_decay"]:
        sys.exit("the oracle must have no weight decay")
    rng = random.Random(11)
    params = [r for r in oracle.info["regions"] if r["kind"] == "param"]
    init = {r["name"]: [f32(rng.uniform(-0.6, 0.6)) for _ in range(oracle.count(r))]
            for r in params}
    batch = {}
    for r in oracle.info["regions"]:
        if r["kind"] == "input" and r["name"].startswith("train_step."):
            local = r["name"].split(".", 1)[1]
            if local == "labels":
                batch[r["name"]] = [rng.randrange(3) for _ in range(oracle.count(r))]
            elif local == "x":
                batch[r["name"]] = [f32(rng.uniform(-1, 1)) for _ in range(oracle.count(r))]

    def gradient(values):
        for name, v in values.items():
            oracle.write(name, v)
            oracle.write(name + ".momentum_buffer", [0.0] * len(v))
        for name, v in batch.items():
            oracle.write(name, v)
        oracle.write("train_step.lr", [0.0])
        oracle.write("train_step.step", [1])
        oracle.write("train_step.seed", [0])
        oracle.run("train_step")
        return {name: oracle.read(name + ".momentum_buffer") for name in values}

    for spec in models:
        label, path = spec.split("=", 1)
        model = Artifact(path)
        c = config_of(model)
        lr = f32({"sgd": 0.05, "momentum": 0.1, "nesterov": 0.1}.get(label, 0.01))
        slots = sorted({r["name"][len(p["name"]) + 1:] for r in model.info["regions"]
                        for p in params if r["kind"] == "state" and
                        r["name"].startswith(p["name"] + ".")})
        for name, v in init.items():
            model.write(name, v)
            for s in slots:
                model.write(name + "." + s, [0.0] * len(v))
        for step in (1, 2, 3):
            current = {p["name"]: model.read(p["name"]) for p in params}
            state = {p["name"]: [model.read(p["name"] + "." + s) for s in slots] for p in params}
            grads = gradient(current)
            for name, v in batch.items():
                model.write(name, v)
            model.write("train_step.lr", [lr])
            model.write("train_step.step", [step])
            model.write("train_step.seed", [0])
            model.run("train_step")
            for name in current:
                after = [model.read(name)] + [model.read(name + "." + s) for s in slots]
                for i, (p, g) in enumerate(zip(current[name], grads[name])):
                    old = [state[name][k][i] for k in range(len(slots))] + [0.0, 0.0]
                    want_p, want_s = rule(label)(p, g, old, lr, c, step)
                    got = [values[i] for values in after]
                    if got != [want_p] + want_s:
                        sys.exit(f"{label} step {step}: {name}[{i}] (param, state) = {got}, "
                                 f"reference {[want_p] + want_s}")
        print(f"{label}: 3 steps equal the reference ({c})")


if __name__ == "__main__":
    main()
