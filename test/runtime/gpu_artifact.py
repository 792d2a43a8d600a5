"""Loads a GPU artifact through its C ABI without a GPU and runs its entry.

Usage: gpu_artifact.py MODEL.so
dlopen runs the artifact's global constructors (mgpuModuleLoad): they must
not need a driver. The entry, given a host arena, must launch nothing and
leave the reason in nnc_kernels_error() (runtime/GpuDriver.h) instead of
crashing; the output region stays as it was.
"""
import ctypes
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nnc_abi import Artifact  # noqa: E402

model = Artifact(sys.argv[1])
print(f"loaded {model.info['model']}, device {model.info['device']}")
error = model.lib.nnc_kernels_error
error.restype = ctypes.c_char_p
print("error after dlopen:", (error() or b"none").decode())
model.write("forward.x", [float(i - 32) for i in range(64)])
model.write("forward.y", [7.0] * 64)
model.lib.nnc_kernels_clear_error()
model.run("forward")
print("error:", (error() or b"none").decode())
print("output unchanged:", model.read("forward.y") == [7.0] * 64)
