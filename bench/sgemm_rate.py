#!/usr/bin/python3
"""The machine's SGEMM rate as nnc's library calls see it.

  python3 bench/sgemm_rate.py [--nnc build/bin/nnc] [--size 1024]

Times nnc_gemm (oneDNN's sgemm) of the libnnc_runtime.so next to the nnc
binary on size x size x size at 1 and 2 threads (median of 10 after 2
warm-up calls) and prints "sgemm <GFLOP/s> GFLOP/s at <n> thread(s)" for the
faster. train_bench.py runs it in its own process (no second OpenMP runtime
next to PyTorch's) as the reference for its GFLOP/s columns.
"""
import argparse
import ctypes
import os
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rate(nnc, size, threads):
    lib = ctypes.CDLL(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(nnc))),
                                   "lib", "libnnc_runtime.so"))
    lib.nnc_gemm.argtypes = [ctypes.c_int32, ctypes.c_int32] + [ctypes.c_int64] * 3 + [
        ctypes.c_float, ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64,
        ctypes.c_float, ctypes.c_void_p, ctypes.c_int64]
    lib.nnc_set_num_threads.argtypes = [ctypes.c_int32]
    a, b, c = ((ctypes.c_float * (size * size))() for _ in range(3))
    for i in range(size * size):
        a[i], b[i] = (i % 7) * 0.25, (i % 5) * 0.5
    best = None
    for t in threads:
        lib.nnc_set_num_threads(t)
        times = []
        for i in range(12):
            start = time.perf_counter()
            lib.nnc_gemm(0, 0, size, size, size, 1.0, a, size, b, size, 0.0, c, size)
            if i >= 2:
                times.append(time.perf_counter() - start)
        gflops = 2 * size**3 / sorted(times)[len(times) // 2] * 1e-9
        if best is None or gflops > best[0]:
            best = (gflops, t)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nnc", default=os.path.join(ROOT, "build", "bin", "nnc"))
    parser.add_argument("--size", type=int, default=1024)
    args = parser.parse_args()
    gflops, threads = rate(args.nnc, args.size, (1, 2))
    print(f"sgemm {gflops:.1f} GFLOP/s at {threads} thread(s)")


if __name__ == "__main__":
    main()
