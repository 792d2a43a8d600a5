"""Checks that nnc report --device gpu and nnc memplan --device gpu state the
arena that the GPU artifact allocates (one device allocation of the model
table's arena_bytes, docs/abi.md).

Usage: check_gpu_arena.py report.json memplan.json artifact.so {training|inference}
The artifact needs no GPU to be read: its model table is a NUL-terminated JSON
string in the library's data.
"""
import json
import re
import sys

report_path, memplan_path, artifact_path, kind = sys.argv[1:5]
report = json.load(open(report_path))
memplan = json.load(open(memplan_path))
data = open(artifact_path, "rb").read()
match = re.search(rb'\{[^\x00]*"format":"nnc-model"[^\x00]*\}', data)
if not match:
    sys.exit(f"{artifact_path}: no model table")
table = json.loads(match.group(0))
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
