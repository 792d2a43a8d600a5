"""Checks `nnc report --devices N --shard S` against independent arithmetic.

Usage: check_devices.py NNC MODEL.nn N [nnc flags...]
Runs `nnc report` at the per-device batch B/N (B: the model's batch) and
with --devices N for each --shard, and checks the data_parallel object: the
plan is the B/N plan, each shard's per-device state, gradients and
parameters, the arena, and the bytes sent per step (ring collectives).
"""
import json
import subprocess
import sys


def report(nnc, args):
    out = subprocess.run([nnc, "report", "--format", "json"] + args, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def check(ok, msg):
    print(("ok: " if ok else "FAIL: ") + msg)
    if not ok:
        sys.exit(1)


def main():
    nnc, model, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    flags = sys.argv[4:]
    whole = report(nnc, [model] + flags)
    batch = whole["batch"]
    per = report(nnc, [model, "--batch", str(batch // n)] + flags)
    plan = per["training_memory"]
    p = whole["parameters"]["trainable"]
    shard = -(-p // n)  # elements per device, padded
    pad = 4 * (shard * n - p)
    columns = {"adam": 2, "adamw": 2, "momentum": 1, "sgd": 0}[whole["optimizer"]]
    for s in ("none", "opt", "grad", "param"):
        dp = report(nnc, [model, "--devices", str(n), "--shard", s] + flags)["data_parallel"]
        check(dp["device_batch"] * n == batch, f"{s}: device batch {dp['device_batch']} x {n} = {batch}")
        check(dp["plan_arena_bytes"] == plan["arena"],
              f"{s}: the plan is the batch-{batch // n} plan (arena {plan['arena']})")
        check(dp["trainable"] == (s in ("none", "opt")), f"{s}: trainable by nnc train: {dp['trainable']}")
        if s == "none":
            check(dp["arena_bytes"] == plan["arena"], "none: arena = the plan's")
            check(dp["optimizer_state_bytes"] == plan["optimizer_state"], "none: full optimizer state")
            check(dp["comm_bytes_per_step"] == 2 * (n - 1) * 4 * shard,
                  f"none: all-reduce sends 2(N-1)/N of the gradients = {dp['comm_bytes_per_step']}")
        if s in ("opt", "grad", "param"):
            check(dp["optimizer_state_bytes"] == columns * 4 * shard,
                  f"{s}: optimizer state {columns} column(s) x {shard} elements x 4 B")
        if s == "opt":
            grads = pad if plan["gradients"] > 0 else 0
            expected = plan["arena"] - plan["optimizer_state"] + columns * 4 * shard + pad + grads
            check(dp["arena_bytes"] == expected, f"opt: arena {dp['arena_bytes']} = {expected}")
            check(dp["comm_bytes_per_step"] == 2 * (n - 1) * 4 * shard,
                  "opt: reduce-scatter + all-gather send 2(N-1)/N of the parameters")
        if s == "param":
            check(dp["comm_bytes_per_step"] == 3 * (n - 1) * 4 * shard, "param: 3(N-1)/N")
        parts = (dp["parameter_bytes"] + dp["gradient_bytes"] + dp["optimizer_state_bytes"] +
                 dp["other_bytes"])
        check(parts == dp["arena_bytes"], f"{s}: the parts sum to the arena {dp['arena_bytes']}")


main()
