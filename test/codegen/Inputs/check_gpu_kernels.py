"""Checks that the GPU mapping of nnc's kernel IR kept no kernel on the host.

Usage: check_gpu_kernels.py kernels.mlir gpu.mlir ptxas workdir

kernels.mlir is `nnc compile -emit=buffers` output (the kernel IR that the
CPU back end runs); gpu.mlir is the same after mlir-opt's GPU mapping and
NVVM pipeline. Counts the kernel nests (outermost scf.parallel ops) of the
first and the gpu.launch_func ops of the second, checks that no scf.parallel
and no linalg op is left, writes the PTX of every gpu.binary to workdir and
assembles each with ptxas. Prints the counts; exits non-zero on a mismatch.
"""
import os
import re
import subprocess
import sys

kernels_path, gpu_path, ptxas, workdir = sys.argv[1:5]


def code_lines(text):
    """The lines of MLIR text with string literals blanked out."""
    for line in text.splitlines():
        yield re.sub(r'"(?:[^"\\]|\\.)*"', '""', line)


def kernel_nests(text):
    """The number of scf.parallel ops not nested in another scf.parallel."""
    depth, inside, nests = 0, None, 0
    for line in code_lines(text):
        if inside is None and re.search(r"\bscf\.parallel\b", line):
            nests += 1
            inside = depth
        depth += line.count("{") - line.count("}")
        if inside is not None and depth <= inside:
            inside = None
    return nests


kernels = open(kernels_path).read()
gpu = open(gpu_path).read()
errors = []
nests = kernel_nests(kernels)
if nests == 0:
    errors.append("no kernel nest in " + kernels_path)
if re.search(r"\blinalg\.", kernels):
    errors.append("linalg ops left in the kernel IR")
launches = len(re.findall(r"\bgpu\.launch_func\b", gpu))
if re.search(r"\bscf\.parallel\b", gpu):
    errors.append("scf.parallel left on the host after the GPU mapping")

os.makedirs(workdir, exist_ok=True)
entries = assembled = 0
for i, match in enumerate(re.finditer(r'assembly = "((?:[^"\\]|\\.)*)"', gpu)):
    ptx = re.sub(r"\\([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), match.group(1))
    entries += len(re.findall(r"^\.visible \.entry ", ptx, re.M))
    path = os.path.join(workdir, f"kernel{i}.ptx")
    with open(path, "w") as f:
        f.write(ptx)
    run = subprocess.run([ptxas, "-arch=sm_90", path, "-o", path + ".cubin"],
                         capture_output=True, text=True)
    if run.returncode != 0:
        errors.append(f"ptxas failed on {path}: {run.stderr.strip()}")
    else:
        assembled += 1
print(f"{nests} kernel nests, {launches} gpu.launch_func, {entries} PTX kernels "
      f"in {assembled} modules assembled by ptxas")
if launches != nests or entries != nests:
    errors.append("every kernel nest must become one GPU kernel")
for e in errors:
    print("error:", e)
sys.exit(1 if errors else 0)
