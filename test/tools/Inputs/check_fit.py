"""Checks `nnc scale --fit BYTES --format json` (no --vary: the batch).

Usage: check_fit.py NNC MODEL.nn FIT.json BYTES
The plain answer L is the largest batch whose training arena (nnc report
--batch L) fits: L fits and L + 1 does not; each other way fits at least L;
the sharded answer's per-device arena (nnc report --devices) fits.
"""
import json
import subprocess
import sys


def arena(nnc, model, *flags):
    out = subprocess.run([nnc, "report", model, "--format", "json"] + list(flags), check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def check(ok, msg):
    print(("ok: " if ok else "FAIL: ") + msg)
    if not ok:
        sys.exit(1)


nnc, model, path, budget = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
fit = json.load(open(path))["fit"]
check(fit["bytes"] == budget and fit["searched"] == "batch", "fit searched the batch")
answers = {a["how"].split(" ")[0]: a for a in fit["answers"]}
plain = answers["plain"]["largest"]
at = arena(nnc, model, "--batch", str(plain))["training_memory"]["arena"]
above = arena(nnc, model, "--batch", str(plain + 1))["training_memory"]["arena"]
check(at <= budget < above, f"plain: batch {plain} fits ({at} B), {plain + 1} does not ({above} B)")
check(answers["plain"]["arena_bytes"] == at, "plain: the answer's arena is the report's")
for how, a in answers.items():
    check(a["largest"] >= plain and a["arena_bytes"] <= budget,
          f"{how}: batch {a['largest']} >= {plain}, arena {a['arena_bytes']} <= budget")
sharded = [a for how, a in answers.items() if how == "with" and "data parallelism" in a["how"]]
check(len(sharded) == 1, "one sharded answer")
n = int(sharded[0]["how"].split("with ")[1].split("-way")[0])
dp = arena(nnc, model, "--batch", str(sharded[0]["largest"]), "--devices", str(n), "--shard",
           "opt")["data_parallel"]
check(dp["arena_bytes"] == sharded[0]["arena_bytes"] <= budget,
      f"sharded: the per-device arena {dp['arena_bytes']} (nnc report --devices {n}) fits")
