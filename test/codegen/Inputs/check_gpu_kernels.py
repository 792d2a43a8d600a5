"""Checks that the GPU mapping of nnc's kernel IR kept no kernel on the host.

Usage: check_gpu_kernels.py kernels.mlir gpu.mlir ptxas workdir
       check_gpu_kernels.py --ptx kernels.mlir kernels.ptx ptxas workdir ARCH...

kernels.mlir is `nnc compile -emit=buffers` output (the kernel IR that the
CPU back end runs); gpu.mlir is the same after mlir-opt's GPU mapping and
NVVM pipeline. Counts the kernel nests (outermost scf.parallel ops) of the
first and the gpu.launch_func ops of the second, checks that no scf.parallel
and no linalg op is left, writes the PTX of every gpu.binary to workdir and
assembles each with ptxas. Prints the counts; exits non-zero on a mismatch.

With --ptx, kernels.ptx is `nnc compile -emit=ptx` output (nnc's own GPU
pipeline): checks that it has one kernel (.entry) per kernel nest, that its
header comment names exactly those kernels, and that `ptxas -v` assembles it
for every ARCH (sm_80, sm_90) with no spill stores or loads and no stack
frame in any kernel. Prints the counts and, per architecture, the most
registers a kernel uses; exits non-zero on any failure, naming the kernel.
"""
import os
import re
import subprocess
import sys

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


PTXAS_FUNCTION = re.compile(r"Function properties for (\w+)")
PTXAS_FRAME = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
PTXAS_ENTRY = re.compile(r"Compiling entry function '(\w+)'")
PTXAS_REGS = re.compile(r"Used (\d+) registers")


def ptxas_info(log):
    """{kernel: (stack, spill stores, spill loads, registers)} from `ptxas -v`."""
    info, current, entry = {}, None, None
    for line in log.splitlines():
        m = PTXAS_ENTRY.search(line)
        if m:
            entry = m.group(1)
        m = PTXAS_FUNCTION.search(line)
        if m:
            current = m.group(1)
            continue
        m = PTXAS_FRAME.search(line)
        if m and current:
            info[current] = [int(g) for g in m.groups()] + [0]
        m = PTXAS_REGS.search(line)
        if m and entry in info:
            info[entry][3] = int(m.group(1))
    return info


def check_ptx(kernels_path, ptx_path, ptxas, workdir, archs):
    errors = []
    nests = kernel_nests(open(kernels_path).read())
    ptx = open(ptx_path).read()
    entries = re.findall(r"^\.visible \.entry (\w+)\(", ptx, re.M)
    named = []
    for m in re.finditer(r"^// nnc: kernel module @\w+ of model @\w+: \d+ kernels: (.*)$", ptx, re.M):
        named += [n.strip() for n in m.group(1).split(",") if n.strip()]
    if sorted(named) != sorted(entries):
        errors.append("the header comments do not name the PTX kernels")
    if nests == 0:
        errors.append("no kernel nest in " + kernels_path)
    if len(entries) != nests:
        errors.append(f"{nests} kernel nests but {len(entries)} PTX kernels")
    print(f"{nests} kernel nests, {len(entries)} PTX kernels")
    os.makedirs(workdir, exist_ok=True)
    for arch in archs:
        run = subprocess.run([ptxas, "-v", f"-arch={arch}", ptx_path, "-o",
                              os.path.join(workdir, arch + ".cubin")],
                             capture_output=True, text=True)
        if run.returncode != 0:
            errors.append(f"ptxas -arch={arch} failed: {run.stderr.strip()[:2000]}")
            continue
        info = ptxas_info(run.stdout + run.stderr)
        missing = [name for name in entries if name not in info]
        if missing:
            errors.append(f"{arch}: ptxas -v reports nothing for kernels {missing}")
        # Every function (kernels and the device functions they call).
        spilling = 0
        for name, (stack, stores, loads, _) in sorted(info.items()):
            if stack or stores or loads:
                spilling += 1
                errors.append(f"{arch}: {name}: {stack} bytes stack frame, "
                              f"{stores} bytes spill stores, {loads} bytes spill loads")
        regs = max((v[3] for v in info.values()), default=0)
        print(f"{arch}: {len(entries) - len(missing)} kernels assembled, "
              f"{spilling} functions with spills or a stack frame, at most {regs} registers")
    return errors


def check_mapping(kernels_path, gpu_path, ptxas, workdir):
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
    return errors


if __name__ == "__main__":
    if sys.argv[1] == "--ptx":
        errors = check_ptx(*sys.argv[2:6], sys.argv[6:])
    else:
        errors = check_mapping(*sys.argv[1:5])
    for e in errors:
        print("error:", e)
    sys.exit(1 if errors else 0)
