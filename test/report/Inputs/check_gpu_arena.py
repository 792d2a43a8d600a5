"""Checks that nnc report --device gpu and nnc memplan --device gpu state the
arena that the GPU artifact allocates (one device allocation of the model
table's arena_bytes, docs/abi.md).

Usage: check_gpu_arena.py report.json memplan.json artifact.so {training|inference}
The artifact needs no GPU to be read: loading it runs nothing on the device
(the runtime loads its GPU code lazily), and test/runtime/nnc_abi.py reads its
model table.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "runtime"))
from nnc_abi import Artifact  # noqa: E402

report_path, memplan_path, artifact_path, kind = sys.argv[1:5]
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
