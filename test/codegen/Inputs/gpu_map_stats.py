"""Summarises the GPU mapping (-nn-gpu-map) of nnc's kernel IR.

Usage: gpu_map_stats.py mapped.mlir [--kernel NAME]...

mapped.mlir is `nnc compile -emit=buffers` output after `nn-opt
-nn-gpu-map` (which itself checks that every kernel nest became one
launch). Prints the number of gpu.launch ops, whether any scf.parallel is left,
the launches by threads per block, and how many launches have fewer than 32
threads although their grid holds at least 32 iterations ("underfilled").
With --kernel, also prints the grid and block sizes of the launches of that
nn.kernel ("?" for a size known only at run time).
"""
import argparse
import collections
import re
import sys

LAUNCH = re.compile(r"gpu\.launch blocks\([^)]*\) in \(([^)]*)\) threads\([^)]*\) in \(([^)]*)\)")
CONSTANT = re.compile(r"(%[\w.]+) = arith\.constant (\d+) : index")
KERNEL = re.compile(r'nn\.kernel = "([^"]*)"')


def sizes(operands, constants):
    """The three sizes of a launch operand list, None where not constant."""
    return [constants.get(part.split("=")[1].strip()) for part in operands.split(",")]


def launches(text):
    """(grid, block, kernel name) of every gpu.launch, function by function."""
    for function in re.split(r"\bfunc\.func\b", text)[1:]:
        constants = {name: int(value) for name, value in CONSTANT.findall(function)}
        for match in LAUNCH.finditer(function):
            rest = function[match.end():]
            body = rest.split("gpu.launch ", 1)[0]
            names = KERNEL.findall(body)
            yield (sizes(match.group(1), constants), sizes(match.group(2), constants),
                   names[-1] if names else "")


def product(values):
    total = 1
    for v in values:
        total *= v
    return total


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mapped")
    parser.add_argument("--kernel", action="append", default=[])
    args = parser.parse_args()
    mapped = open(args.mapped).read()
    found = list(launches(mapped))
    by_threads = collections.Counter()
    underfilled = 0
    for grid, block, _ in found:
        threads = product(block) if None not in block else None
        by_threads["?" if threads is None else threads] += 1
        if threads is not None and threads < 32 and None not in grid and \
                product(grid) * threads >= 32:
            underfilled += 1
    print(f"{len(found)} gpu.launch, "
          f"scf.parallel left: {'yes' if re.search(r'scf[.]parallel', mapped) else 'no'}")
    print("threads per block: " + ", ".join(
        f"{t} x{n}" for t, n in sorted(by_threads.items(), key=lambda kv: (str(type(kv[0])), kv[0]))))
    print(f"underfilled: {underfilled}")
    show = lambda v: "?" if v is None else str(v)
    for grid, block, name in found:
        if name in args.kernel:
            print(f"{name}: grid {'x'.join(map(show, grid))} block {'x'.join(map(show, block))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
