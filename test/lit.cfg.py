# lit configuration for nnc. Substitutions: %nnc, %nnc-rt, %nn-opt, %examples; FileCheck,
# not and count come from LLVM's tools folder.
import os
import lit.formats

config.name = "nnc"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir", ".nn", ".test"]
config.excludes = ["Inputs", "CMakeLists.txt", "unit", "lit.cfg.py", "check_metrics.py", "make_idx.py", "make_png.py", "kill_resume.py", "check_checkpoint_size.py", "readme_listing.py", "abi_normalize.py", "abi_classify.py", "nnc_abi.py", "gpu_artifact.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.nnc_obj_root, "test")

config.environment["FILECHECK_OPTS"] = "--enable-var-scope --dump-input=fail"
path = os.path.pathsep.join([config.nnc_tools_dir, config.llvm_tools_dir,
                             config.environment.get("PATH", "")])
config.environment["PATH"] = path
# %path: that PATH, for tests that put a directory in front of it.
config.substitutions.append(("%path", path))
config.substitutions.append(("%examples", os.path.join(config.nnc_src_root, "examples")))
config.substitutions.append(("%nnc_libdir", os.path.join(os.path.dirname(config.nnc_tools_dir), "lib")))
config.substitutions.append(("%nnc-rt", os.path.join(config.nnc_tools_dir, "nnc-rt")))
config.substitutions.append(("%nnc", os.path.join(config.nnc_tools_dir, "nnc")))
import sys
# %python-model: Python that loads a compiled model (ctypes). Under the
# sanitizers (scripts/sanitize.sh) the model's runtime is instrumented, so the
# uninstrumented interpreter preloads clang's shared ASan+UBSan runtime (leak
# checking is for nnc's own processes, not the interpreter).
python_model = sys.executable
if getattr(config, "nnc_sanitize", False):
    config.available_features.add("asan")
    import subprocess
    asan_rt = subprocess.run(["clang-22", "-print-file-name=libclang_rt.asan-x86_64.so"],
                             capture_output=True, text=True).stdout.strip()
    python_model = "env LD_PRELOAD=%s ASAN_OPTIONS=detect_leaks=0:allow_user_poisoning=0 %s" % (
        asan_rt, sys.executable)
config.substitutions.append(("%python-model", python_model))
config.substitutions.append(("%python", sys.executable))
config.substitutions.append(("%nn-opt", os.path.join(config.nnc_tools_dir, "nn-opt")))

# ptxas (CUDA) assembles the PTX of the GPU-mapped kernel IR
# (test/codegen/kernel-ir-gpu.test): feature `ptxas`, substitutions %ptxas
# and %cuda_root (the toolkit, whose libdevice MLIR's NVVM target links).
# The toolkit root is the first candidate that holds nvvm/libdevice: a
# `ptxas` on PATH may be a wrapper outside the toolkit (CI has one in
# /usr/local/bin), so its directory alone is not enough.
import shutil
def _cuda_root():
    candidates = [os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"]
    for ptxas_on_path in (shutil.which("ptxas"),):
        if ptxas_on_path:
            candidates.append(os.path.dirname(os.path.dirname(os.path.realpath(ptxas_on_path))))
    for root in candidates:
        if root and os.path.isfile(os.path.join(root, "nvvm", "libdevice", "libdevice.10.bc")):
            return root
    return None
cuda_root = _cuda_root()
if cuda_root:
    ptxas = os.path.join(cuda_root, "bin", "ptxas")
    if not os.access(ptxas, os.X_OK):
        ptxas = shutil.which("ptxas") or ptxas
    if os.access(ptxas, os.X_OK):
        config.available_features.add("ptxas")
        config.substitutions.append(("%ptxas", ptxas))
        config.substitutions.append(("%cuda_root", cuda_root))

# The toolkit's stub libcuda (its cuInit returns CUDA_ERROR_STUB_LIBRARY):
# NNC_CUDA_DRIVER=%cuda_stub makes nnc load it instead of libcuda.so.1
# (test/tools/nnc/device-gpu.test).
if cuda_root and os.path.isfile(os.path.join(cuda_root, "lib64", "stubs", "libcuda.so")):
    config.available_features.add("cuda-stub")
    config.substitutions.append(("%cuda_stub", os.path.join(cuda_root, "lib64", "stubs", "libcuda.so")))

# Open MPI's mpirun (data-parallel training, test/runtime/dp-*.test): feature
# `mpirun`; %mpirun runs N local ranks (--oversubscribe: CI has 2 cores), as
# root where CI runs as root, without the shared-memory single-copy
# mechanism (containers forbid ptrace/CMA), and under the sanitizers without
# leak checking (Open MPI leaks at initialization). %nnc-dp-tests: the MPI
# unit tests (test/unit/DataParallelTest.cpp).
mpirun = shutil.which("mpirun")
if mpirun:
    config.available_features.add("mpirun")
    mpi_env = ["OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1",
               "OMPI_MCA_btl_vader_single_copy_mechanism=none",
               "OMPI_MCA_rmaps_base_oversubscribe=1"]
    if getattr(config, "nnc_sanitize", False):
        mpi_env.append("ASAN_OPTIONS=detect_leaks=0:allow_user_poisoning=0")
    config.substitutions.append(("%mpirun", "env %s %s --bind-to none" % (" ".join(mpi_env), mpirun)))
    # A process that initializes MPI without mpirun (a singleton).
    config.substitutions.append(("%mpi-alone", "env %s" % " ".join(mpi_env)))
config.substitutions.append(("%nnc-dp-tests", os.path.join(config.nnc_tools_dir, "nnc-dp-tests")))

