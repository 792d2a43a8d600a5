#!/usr/bin/env python3
"""Compares nnc report's arenas with the bytes the runtime allocates.

Usage: arena_exact.py NNC OUTDIR MODEL.nn [nnc flags...]

Runs `nnc report --format json` with the flags, then `nnc build` with the
same flags (with --train, and without) and `nnc bench --artifact` on each
library, which prints the bytes runtime/Model allocated for the arena when it
loaded it. Prints one line per plan and exits 1 if the report's arena is not
exactly what the runtime allocated, or if the report's parts do not sum to
its arena.
"""
import json
import os
import re
import subprocess
import sys

PARTS = ["parameters", "buffers", "optimizer_state", "inputs_outputs", "gradients",
         "saved_activations", "temporaries", "library_scratch", "results", "fragmentation"]


def run(args):
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def allocated(nnc, library):
    out = run([nnc, "bench", "--artifact", library, "--iterations", "1", "--warmup", "0"])
    found = re.search(r"^arena: (\d+) B allocated$", out, re.M)
    if not found:
        sys.exit(f"nnc bench printed no arena line:\n{out}")
    return int(found.group(1))


def main():
    nnc, outdir, model, flags = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    os.makedirs(outdir, exist_ok=True)
    report = json.loads(run([nnc, "report", model, "--format", "json"] + flags))
    ok = True
    for plan, train in (("training", True), ("inference", False)):
        memory = report[plan + "_memory"]
        if "arena" not in memory:
            sys.exit(f"{plan}: no plan: {memory.get('unavailable')}")
        arena = memory["arena"]
        parts = sum(memory[p] for p in PARTS)
        library = os.path.join(outdir, plan + ".so")
        run([nnc, "build", model, "-o", library] + (["--train"] if train else []) + flags)
        runtime = allocated(nnc, library)
        equal = arena == runtime and parts == arena
        ok = ok and equal
        print(f"{plan}: report arena {arena} B, parts {parts} B, runtime allocated "
              f"{runtime} B: {'equal' if equal else 'DIFFERENT'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
