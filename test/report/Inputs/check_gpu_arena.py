"""Checks that nnc report --device gpu and nnc memplan --device gpu state the
arena that the GPU artifact allocates (one device allocation of the model
table's arena_bytes, docs/abi.md).

Usage: check_gpu_arena.py report.json memplan.json artifact.so {training|inference} [bench.txt]
With bench.txt (the output of nnc-rt bench on the artifact, which prints the
input staging bytes the runtime allocated outside the arena), also checks
that nnc report states those bytes.
The artifact needs no GPU to be read: loading it runs nothing on the device
(the runtime loads its GPU code lazily), and test/runtime/nnc_abi.py reads its
model table.
"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "runtime"))
from nnc_abi import Artifact  # noqa: E402

report_path, memplan_path, artifact_path, kind = sys.argv[1:5]
bench_path = sys.argv[5] if len(sys.argv) > 5 else None
report = json.load(open(report_path))
memplan = json.load(open(memplan_path))
table = Artifact(artifact_path).info
if table.get("device") != "gpu":
    sys.exit(f"{artifact_path}: not a GPU artifact: device {table.get('device')!r}")
artifact = table["arena_bytes"]
reported = report["gpu"]["device_arena_bytes"][kind]
plans = memplan if isinstance(memplan, list) else [memplan]
planned = plans[0]["arena_bytes"] if "arena_bytes" in plans[0] else None
print(f"artifact {artifact}, report {reported}, memplan {planned}, "
      f"cublas workspace {report['gpu']['cublas_workspace_bytes']}")
if not (artifact == reported == planned):
    sys.exit("the GPU arena differs between the artifact, nnc report and nnc memplan")
if bench_path:
    match = re.search(r"input staging: (\d+) B on the device, (\d+) B pinned",
                      open(bench_path).read())
    if not match:
        sys.exit(f"{bench_path}: no 'input staging' line")
    stated = report["gpu"]["input_staging_bytes"][kind]
    print(f"input staging: report {stated}, runtime {match.group(1)} on the device, "
          f"{match.group(2)} pinned")
    if not (stated == int(match.group(1)) == int(match.group(2))):
        sys.exit("nnc report's input staging bytes differ from what the runtime allocated")
