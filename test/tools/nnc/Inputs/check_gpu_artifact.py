"""Checks what a GPU artifact of `nnc build --device gpu` needs and says.

Usage: check_gpu_artifact.py llvm-nm model.so libnnc_runtime.so

Prints the model table's device and "gpu" keys, then sorts the artifact's
undefined symbols (llvm-nm -u): the mgpu* functions that the lowered host
code calls (the runtime's GPU driver layer implements them; how many the
given runtime defines is printed), others defined by the runtime, versioned
C library symbols (@GLIBC), weak ones (left null by the loader), and any
other, which is an error: the artifact must link against libnnc_runtime.so
alone. Exits non-zero on an error.
"""
import json
import re
import subprocess
import sys

nm, model, runtime = sys.argv[1:4]


def symbols(*args):
    out = subprocess.run([nm, *args], capture_output=True, text=True, check=True).stdout
    return [line.split() for line in out.splitlines() if line.strip()]


data = open(model, "rb").read()
match = re.search(rb'\{[^\x00]*"format":"nnc-model"[^\x00]*\}', data)
table = json.loads(match.group(0)) if match else {}
print("device:", table.get("device"), "gpu:", json.dumps(table.get("gpu"), sort_keys=True))

defined = {s[-1] for s in symbols("-D", "--defined-only", runtime)}
kinds = {"runtime": [], "libc": [], "weak": [], "mgpu": [], "other": []}
for fields in symbols("-u", model):
    kind, name = fields[-2], fields[-1]
    if name.startswith("mgpu"):
        kinds["mgpu"].append(name)
    elif name in defined:
        kinds["runtime"].append(name)
    elif "@GLIBC" in name:
        kinds["libc"].append(name)
    elif kind in ("w", "v"):
        kinds["weak"].append(name)
    else:
        kinds["other"].append(name)
for kind, names in kinds.items():
    print(f"{kind}: {' '.join(sorted(names)) if names else 'none'}")
print(f"mgpu defined by the runtime: {sum(n in defined for n in kinds['mgpu'])} "
      f"of {len(kinds['mgpu'])}")
sys.exit(1 if kinds["other"] or not table else 0)
