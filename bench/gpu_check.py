#!/usr/bin/python3
"""The on-device checks of issue 11 as one prepared script (docs/gpu.md, "On a GPU machine").

  python3 bench/gpu_check.py prepare DIR [--build build] [--only a,b] [--epochs N] [--seed N]
  python3 bench/gpu_check.py run DIR [--budget SECONDS] [--phases tests,train,...]

`prepare` runs where nnc is developed (LLVM 22, CUDA toolkit, no GPU) and writes
everything the GPU machine needs into DIR: the runtime (build/bin/nnc-rt,
build/bin/nnc-runtime-tests, build/lib/libnnc_runtime.so, stripped), the system
libraries they load that a bare machine may lack (syslibs.tar.xz, unpacked by `run`),
the GPU training artifacts of every example at batch 64 (gpu/NAME-b64.so; batch 1024
for the PyTorch comparison's models), the matching CPU artifacts (cpu/NAME-b64.so),
the CPU reference losses (ref/NAME.jsonl: `nnc-rt train` on --data synthetic, fixed
seed and epochs, --metrics), and manifest.json. It fails if DIR exceeds 60 MiB.

`run` needs the runtime only (no LLVM/MLIR). Without a usable GPU it prints one line
with the reason and exits 1. Otherwise, within --budget seconds (default 450), phases:
  tests     the GPU-only unit tests (those `prepare` saw skip without a GPU) must pass
  train     per example, `nnc-rt train` of the GPU artifact with the reference's data,
            seed and epochs; every step's loss must match the CPU's within
            |gpu - cpu| <= rtol(s) * |cpu| + 1e-4, rtol(s) = min(1e-3 * (1 + (s - 1) / 20), 2e-2)
            (1e-3 at step 1, 1e-2 at step 181; float sums in another order drift apart)
  bench     `nnc-rt bench` with CUDA graphs on and off; the device memory the arena took
            (free before - free after its cuMemAlloc) must equal the planned arena bytes
            within max(2%, 2 MiB: cuMemAlloc's page granularity). The cuBLAS workspace
            (32 MiB) is allocated later, outside the arena, and is listed separately.
  sanitize  compute-sanitizer memcheck and racecheck of one train step per example (at most
            150 s for the phase, 60 s a run)
  torch     PyTorch (models imported from bench/train_bench.py) eager (cuDNN) and
            torch.compile train steps at batch 64 and 1024, FP32 without TF32 like nnc;
            prints PyTorch ms / nnc ms (> 1: nnc is faster)
A table is printed and, if $OUT is set, written to $OUT/gpu_check.txt (and .json; the
output of failed commands goes to $OUT/gpu_check_logs.txt).
Exit status 1 on any failed test, mismatch, sanitizer error or failed command.
"""
import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = ["linear", "lenet", "lstm_rows", "seq_rnn", "gru_text", "resnet", "image_cnn"]
# Epochs on 1024 synthetic samples (16 steps each at batch 64): 208 steps; image_cnn's
# CPU step takes seconds (224x224 images), so its reference is one epoch.
EPOCHS = {"image_cnn": 1}
DEFAULT_EPOCHS = 13
# The examples bench/train_bench.py has PyTorch models for (its CASES), also at 1024.
TORCH_EXAMPLES = ["lenet", "lstm_rows", "resnet"]
BIG_BATCH = 1024
MAX_DIR_BYTES = 60 << 20
GLIBC = ("linux-vdso", "libc.so", "libm.so", "ld-linux", "libpthread", "libdl.so", "librt.so",
         "libnnc_runtime")
ATOL = 1e-4


def rtol(step):
    return min(1e-3 * (1 + (step - 1) / 20), 2e-2)


def dir_bytes(d):
    return sum(os.path.getsize(os.path.join(p, f)) for p, _, fs in os.walk(d) for f in fs)


def sh(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


# ---------------------------------------------------------------------------- prepare


def system_libraries(binaries):
    """{soname: path} of the non-glibc libraries `binaries` load (ldd)."""
    libs = {}
    for b in binaries:
        for line in sh(["ldd", b]).stdout.splitlines():
            m = re.match(r"\s*(\S+) => (/\S+)", line)
            if m and not m.group(1).startswith(GLIBC):
                libs[m.group(1)] = m.group(2)
    return libs


def prepare(args):
    d, build = os.path.abspath(args.dir), os.path.abspath(args.build)
    nnc = os.path.join(build, "bin", "nnc")
    examples = args.only.split(",") if args.only else EXAMPLES
    for e in examples:
        if e not in EXAMPLES:
            sys.exit(f"gpu_check: error: unknown example '{e}' (known: {', '.join(EXAMPLES)})")
    if os.path.exists(d):
        if os.listdir(d) and not os.path.exists(os.path.join(d, "manifest.json")):
            sys.exit(f"gpu_check: error: {d} is not empty and holds no manifest.json: "
                     "not replacing it")
        shutil.rmtree(d)
    for sub in ("build/bin", "build/lib", "gpu", "cpu", "ref"):
        os.makedirs(os.path.join(d, sub))
    runtime = ["bin/nnc-rt", "bin/nnc-runtime-tests", "lib/libnnc_runtime.so"]
    for r in runtime:
        subprocess.run(["strip", "--strip-unneeded", "-o", os.path.join(d, "build", r),
                        os.path.join(build, r)], check=True)

    # The GPU-only unit tests: those that skip here, where no GPU is usable.
    out = sh([os.path.join(build, "bin", "nnc-runtime-tests"),
              "--gtest_filter=Gpu*:DeviceArena*"]).stdout
    gpu_tests = sorted(set(re.findall(r"^\[  SKIPPED \] (\S+) \(", out, re.M)))
    if not gpu_tests:
        sys.exit("gpu_check: error: no GPU-only unit test skipped here (is a GPU usable?)")

    manifest = {"seed": args.seed, "atol": ATOL, "gpu_tests": gpu_tests, "examples": {},
                "commit": sh(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]).stdout.strip()}
    for e in examples:
        src = os.path.join(ROOT, "examples", e + ".nn")
        epochs = args.epochs or EPOCHS.get(e, DEFAULT_EPOCHS)
        batches = [64] + ([BIG_BATCH] if e in TORCH_EXAMPLES and not args.no_big else [])
        for b in batches:
            subprocess.run([nnc, "build", src, "--device", "gpu", "--train", "--batch", str(b),
                            "-o", os.path.join(d, "gpu", f"{e}-b{b}.so")], check=True)
        cpu = os.path.join(d, "cpu", f"{e}-b64.so")
        subprocess.run([nnc, "build", src, "--train", "--batch", "64", "-o", cpu], check=True)
        ref = os.path.join(d, "ref", e + ".jsonl")
        t = time.time()
        r = sh([os.path.join(build, "bin", "nnc-rt"), "train", cpu, "--data", "synthetic",
                "--seed", str(args.seed), "--epochs", str(epochs), "--metrics", ref])
        if r.returncode != 0:
            sys.exit(f"gpu_check: error: the CPU reference of {e} failed:\n{r.stderr}")
        steps = sum(1 for r in read_jsonl(ref) if r.get("kind") == "step")
        manifest["examples"][e] = {"epochs": epochs, "steps": steps, "batches": batches}
        print(f"{e}: {len(batches)} GPU artifact(s), CPU reference {steps} steps "
              f"({time.time() - t:.1f} s)", flush=True)

    libs = system_libraries([os.path.join(build, r) for r in runtime] +
                            glob.glob(os.path.join(d, "gpu", "*.so"))[:1])
    staging = os.path.join(d, "syslibs")
    os.makedirs(staging)
    for soname, path in sorted(libs.items()):
        subprocess.run(["strip", "--strip-unneeded", "-o", os.path.join(staging, soname),
                        os.path.realpath(path)], check=True)
    with tarfile.open(os.path.join(d, "syslibs.tar.xz"), "w:xz", preset=1) as tar:
        for soname in sorted(libs):
            tar.add(os.path.join(staging, soname), arcname=soname)
    shutil.rmtree(staging)
    manifest["syslibs"] = sorted(libs)
    with open(os.path.join(d, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)

    size = dir_bytes(d)
    if size > MAX_DIR_BYTES:
        for big in glob.glob(os.path.join(d, "gpu", f"*-b{BIG_BATCH}.so")):
            os.remove(big)
        for e in manifest["examples"].values():
            e["batches"] = [64]
        with open(os.path.join(d, "manifest.json"), "w") as f:
            json.dump(manifest, f, indent=1)
        print(f"{size / 2**20:.1f} MiB is over {MAX_DIR_BYTES >> 20} MiB: "
              f"dropped the batch {BIG_BATCH} artifacts")
        size = dir_bytes(d)
    print(f"{d}: {size / 2**20:.1f} MiB ({size} B); system libraries: {', '.join(sorted(libs))}")
    if size > MAX_DIR_BYTES:
        sys.exit(f"gpu_check: error: {d} is {size / 2**20:.1f} MiB, over "
                 f"{MAX_DIR_BYTES >> 20} MiB")


# ---------------------------------------------------------------------------- run


def compare_losses(ref_path, got_path):
    """The per-step losses of two --metrics files against the tolerance (module doc):
    worst error / allowed error, step 1's relative error, and an error message (or None)
    naming the first step out of tolerance or a different step count."""
    ref = [r for r in read_jsonl(ref_path) if r.get("kind") == "step"]
    got = [r for r in read_jsonl(got_path) if r.get("kind") == "step"]
    if len(ref) != len(got) or not ref:
        return {"error": f"{len(got)} steps, the reference has {len(ref)}"}
    c = {"steps": len(got), "worst": 0.0, "error": None, "last_ref": ref[-1]["loss"],
         "last_got": got[-1]["loss"]}
    for r, g in zip(ref, got):
        allowed = rtol(r["step"]) * abs(r["loss"]) + ATOL
        ratio = abs(g["loss"] - r["loss"]) / allowed
        c["worst"] = max(c["worst"], ratio)
        if not ratio <= 1 and c["error"] is None:
            c["error"] = (f"loss at step {r['step']}: reference {r['loss']:.6g}, "
                          f"got {g['loss']:.6g} (allowed +-{allowed:.3g})")
    c["step1_rel"] = abs(got[0]["loss"] - ref[0]["loss"]) / max(abs(ref[0]["loss"]), 1e-30)
    return c


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def find_library_dirs(names):
    """Directories that hold each of `names` unless the dynamic loader finds it already:
    the CUDA toolkit, then the NVIDIA wheels of the python3 that has PyTorch."""
    known = sh(["ldconfig", "-p"]).stdout
    dirs = []
    for name in names:
        if name in known:
            continue
        candidates = glob.glob(f"/usr/local/cuda*/lib64/{name}") + glob.glob(
            f"/usr/local/cuda*/targets/*/lib/{name}")
        py = sh([sys.executable, "-c", "import nvidia, sys; print('\\n'.join(nvidia.__path__))"])
        for p in py.stdout.split():
            candidates += glob.glob(os.path.join(p, "*", "lib", name))
        candidates += glob.glob(f"/opt/**/{name}", recursive=True)
        if candidates:
            dirs.append(os.path.dirname(candidates[0]))
    return dirs


class Run:
    def __init__(self, args):
        self.d = os.path.abspath(args.dir)
        self.budget_end = time.time() + args.budget
        self.phases = args.phases.split(",")
        self.rows, self.failures, self.results = [], [], {}
        manifest = os.path.join(self.d, "manifest.json")
        if not os.path.isfile(manifest):
            sys.exit(f"gpu_check: error: {self.d} has no manifest.json: run `prepare` first")
        with open(manifest) as f:
            self.manifest = json.load(f)
        self.rt = os.path.join(self.d, "build", "bin", "nnc-rt")

    def left(self):
        return self.budget_end - time.time()

    def row(self, text):
        self.rows.append(text)
        print(text, flush=True)

    def fail(self, what):
        self.failures.append(what)
        self.row(f"  FAIL: {what}")

    def setup(self):
        """Unpacks the system libraries and puts those the machine lacks, the runtime and
        the CUDA libraries on LD_LIBRARY_PATH; the GPU's reason if it is unusable."""
        for b in glob.glob(os.path.join(self.d, "build", "*", "*")):
            os.chmod(b, 0o755)  # in case the copy lost the modes
        lib = os.path.join(self.d, "lib")
        use = os.path.join(lib, "use")
        shutil.rmtree(lib, ignore_errors=True)
        os.makedirs(use)
        with tarfile.open(os.path.join(self.d, "syslibs.tar.xz")) as tar:
            tar.extractall(lib)
        known = sh(["ldconfig", "-p"]).stdout
        bundled = [s for s in self.manifest["syslibs"] if s not in known]
        for s in bundled:
            os.symlink(os.path.join(lib, s), os.path.join(use, s))
        path = [os.path.join(self.d, "build", "lib"), use]
        path += find_library_dirs(["libcublas.so.13", "libcudnn.so.9"])
        old = os.environ.get("LD_LIBRARY_PATH")
        os.environ["LD_LIBRARY_PATH"] = ":".join(path + ([old] if old else []))
        for _ in self.manifest["syslibs"]:
            # A system library older than the one linked against ("version `GLIBCXX_3.4.29'
            # not found"): use the bundled one instead.
            ldd = sh(["ldd", self.rt, os.path.join(self.d, "build", "bin", "nnc-runtime-tests")])
            missing = [l.strip() for l in (ldd.stdout + ldd.stderr).splitlines()
                       if "not found" in l]
            old_libs = {os.path.basename(m.group(1))
                        for m in map(re.compile(r"^\S+: (/\S+): version").match, missing) if m}
            old_libs = (old_libs & set(self.manifest["syslibs"])) - set(bundled)
            if not old_libs:
                break
            for s in old_libs:
                os.symlink(os.path.join(lib, s), os.path.join(use, s))
                bundled.append(s)
        if missing:
            return "nnc-rt cannot load: " + missing[0]
        info = sh([self.rt, "info"])
        self.info = (info.stdout + info.stderr).strip()
        if info.returncode != 0:
            return self.info.removeprefix("gpu: unavailable: ")
        self.row(f"{self.info}; bundled libraries used: {', '.join(bundled) or 'none'}; "
                 f"LD_LIBRARY_PATH={os.environ['LD_LIBRARY_PATH']}")
        return ""

    def cmd(self, argv, timeout, env=None):
        """(returncode, output) of `argv`; a timeout is returncode None."""
        timeout = max(1, min(timeout, self.left()))
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                               env=dict(os.environ, **(env or {})))
            return r.returncode, r.stdout + r.stderr
        except subprocess.TimeoutExpired as e:
            out = e.stdout or b""
            return None, out.decode() if isinstance(out, bytes) else out

    def artifact(self, e, batch=64):
        return os.path.join(self.d, "gpu", f"{e}-b{batch}.so")

    def tests(self):
        self.row("== GPU-only unit tests (must pass, not skip)")
        rc, out = self.cmd([os.path.join(self.d, "build", "bin", "nnc-runtime-tests"),
                            "--gtest_filter=Gpu*:DeviceArena*"], 120)
        ok = set(re.findall(r"^\[       OK \] (\S+) \(", out, re.M))
        failed = re.findall(r"^\[  FAILED  \] (\S+) \(", out, re.M)
        for t in self.manifest["gpu_tests"]:
            if t not in ok:
                self.fail(f"unit test {t}: {'failed' if t in failed else 'skipped or not run'}")
        if rc != 0 or failed:
            self.fail(f"nnc-runtime-tests exit {rc}; failed: {', '.join(failed) or '-'}")
            self.save("unit_tests.log", out)
        self.row(f"  {len(ok & set(self.manifest['gpu_tests']))}/"
                 f"{len(self.manifest['gpu_tests'])} GPU-only tests passed; "
                 f"{len(ok)} passed in all")

    def train(self):
        self.row("== losses: GPU vs CPU reference (rtol 1e-3 at step 1, +5e-5 a step, "
                 "at most 2e-2; atol 1e-4)")
        self.row(f"  {'example':10} {'steps':>5} {'step1 rel':>10} {'worst err/allowed':>18} "
                 f"{'last cpu':>10} {'last gpu':>10} {'ms/step':>8}")
        for e, spec in self.manifest["examples"].items():
            metrics = os.path.join(self.d, f"gpu-{e}.jsonl")
            if os.path.exists(metrics):
                os.remove(metrics)
            rc, out = self.cmd([self.rt, "train", self.artifact(e), "--data", "synthetic",
                                "--seed", str(self.manifest["seed"]), "--epochs",
                                str(spec["epochs"]), "--metrics", metrics], 120)
            if rc != 0:
                self.fail(f"{e}: nnc-rt train exit {rc}: {out.strip().splitlines()[-1:]}")
                self.save(f"train_{e}.log", out)
                continue
            c = compare_losses(os.path.join(self.d, "ref", e + ".jsonl"), metrics)
            if "worst" not in c:
                self.fail(f"{e}: {c['error']}")
                continue
            m = re.search(r"step ([0-9.]+) ms", out)
            ms = m.group(1) if m else "?"
            self.results.setdefault(e, {})["train"] = c
            self.row(f"  {e:10} {c['steps']:5} {c['step1_rel']:10.2e} {c['worst']:18.3f} "
                     f"{c['last_ref']:10.5f} {c['last_got']:10.5f} {ms:>8}")
            if c["error"]:
                self.fail(f"{e}: {c['error']}")

    def bench_one(self, so, graphs, iterations=50):
        rc, out = self.cmd([self.rt, "bench", so, "--iterations", str(iterations), "--warmup",
                            "5"], 120, {"NNC_CUDA_GRAPHS": str(graphs)})
        if rc != 0:
            self.fail(f"bench {os.path.basename(so)} graphs={graphs}: exit {rc}: "
                      f"{out.strip().splitlines()[-1:]}")
            self.save(f"bench_{os.path.basename(so)}_graphs{graphs}.log", out)
            return None
        r = {k: float(v) for k, v in re.findall(r"^(forward|train_step)\s+([0-9.]+) ms", out,
                                                re.M)}
        arena = re.search(r"arena (\d+) B", out)
        mem = re.search(r"device memory: (-?\d+) B free before the arena, (-?\d+) B after", out)
        if arena and mem:
            r["arena"], r["used"] = int(arena.group(1)), int(mem.group(1)) - int(mem.group(2))
        return r

    def bench(self):
        self.row("== nnc-rt bench (median ms; CUDA graphs on / off) and the arena's device "
                 "memory (planned vs taken; allowed max(2%, 2 MiB))")
        self.row(f"  {'artifact':16} {'fwd on':>8} {'fwd off':>8} {'step on':>8} {'step off':>8} "
                 f"{'planned MiB':>11} {'taken MiB':>10} {'diff':>6}")
        for e, spec in self.manifest["examples"].items():
            for b in spec["batches"]:
                so = self.artifact(e, b)
                on, off = self.bench_one(so, 1), self.bench_one(so, 0)
                if not on or not off:
                    continue
                self.results.setdefault(e, {})[f"bench_b{b}"] = {"on": on, "off": off}
                line = (f"  {e + '-b' + str(b):16} {on.get('forward', 0):8.3f} "
                        f"{off.get('forward', 0):8.3f} {on.get('train_step', 0):8.3f} "
                        f"{off.get('train_step', 0):8.3f}")
                if "used" in on:
                    diff = on["used"] - on["arena"]
                    line += (f" {on['arena'] / 2**20:11.2f} {on['used'] / 2**20:10.2f} "
                             f"{100 * diff / on['arena']:5.1f}%")
                    self.row(line)
                    if abs(diff) > max(0.02 * on["arena"], 2 << 20):
                        self.fail(f"{e}-b{b}: the arena took {on['used']} B of device memory, "
                                  f"planned {on['arena']} B")
                else:
                    self.row(line)
                    self.fail(f"{e}-b{b}: nnc-rt bench printed no device memory")
        self.row("  (outside the arena: the cuBLAS workspace, 32 MiB, once per process)")

    def torch(self):
        self.row("== PyTorch on the GPU (FP32, no TF32): train step ms; PT/nnc > 1: nnc faster; "
                 "issue 11's targets: eager/nnc >= 2 at batch 64, >= 1 above, compile/nnc >= 1")
        sys.path.insert(0, os.path.join(ROOT, "bench"))
        import torch
        import torch.nn.functional as F
        import train_bench
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = True
        cases = {os.path.splitext(os.path.basename(c.path))[0]: c for c in train_bench.CASES}
        self.row(f"  {'example':10} {'batch':>5} {'nnc':>8} {'eager':>8} {'compile':>8} "
                 f"{'eager/nnc':>9} {'compile/nnc':>11} {'targets':>7}")
        for e in TORCH_EXAMPLES:
            spec = self.manifest["examples"].get(e)
            if not spec or e not in cases:
                continue
            for b in spec["batches"]:
                nnc = self.results.get(e, {}).get(f"bench_b{b}", {}).get("on", {})
                nnc_ms = nnc.get("train_step")
                times = {}
                for mode in ("eager", "compile"):
                    if self.left() < 30:
                        self.row(f"  {e} b{b} {mode}: not run (budget)")
                        continue
                    try:
                        times[mode] = torch_step_ms(torch, F, cases[e], b, mode == "compile")
                    except Exception as x:  # a compile failure is reported, not fatal
                        self.row(f"  {e} b{b} {mode}: {type(x).__name__}: {str(x)[:200]}")
                ratio = {k: (v / nnc_ms if nnc_ms else float("nan")) for k, v in times.items()}
                self.results.setdefault(e, {})[f"torch_b{b}"] = dict(times, nnc=nnc_ms)
                self.row(f"  {e:10} {b:5} {nnc_ms or float('nan'):8.3f} "
                         f"{times.get('eager', float('nan')):8.3f} "
                         f"{times.get('compile', float('nan')):8.3f} "
                         f"{ratio.get('eager', float('nan')):8.2f}x "
                         f"{ratio.get('compile', float('nan')):10.2f}x "
                         f"{target_verdict(ratio, b):>7}")

    def sanitize(self):
        tool_path = shutil.which("compute-sanitizer") or next(
            iter(glob.glob("/usr/local/cuda*/bin/compute-sanitizer")), None)
        self.row("== compute-sanitizer, one train step per example")
        if not tool_path:
            self.row("  not run: no compute-sanitizer on this machine")
            return
        phase_end = time.time() + 150
        for e in self.manifest["examples"]:
            cells = []
            for tool in ("memcheck", "racecheck"):
                if min(self.left(), phase_end - time.time()) < 20:
                    cells.append(f"{tool} not run (budget)")
                    continue
                rc, out = self.cmd([tool_path, "--tool", tool, "--error-exitcode", "99", self.rt,
                                    "bench", self.artifact(e), "--entry", "train_step",
                                    "--iterations", "1", "--warmup", "0"], 60,
                                   {"NNC_CUDA_GRAPHS": "0"})
                summary = re.search(r"ERROR SUMMARY: (\d+) error|RACECHECK SUMMARY: (\d+) hazard",
                                    out)
                if rc == 0:
                    cells.append(f"{tool} clean")
                elif rc is None:
                    cells.append(f"{tool} timed out")
                else:
                    cells.append(f"{tool} {summary.group(0) if summary else f'exit {rc}'}")
                    self.save(f"sanitize_{e}_{tool}.log", out)
                    self.fail(f"{e}: {tool}: {summary.group(0) if summary else f'exit {rc}'}")
            self.row(f"  {e:10} " + "; ".join(cells))

    def save(self, name, text):
        """Writes $OUT/NAME, or appends a log (NAME ending in .log) to $OUT/gpu_check_logs.txt:
        the device tool brings back at most 8 files."""
        if not os.environ.get("OUT"):
            return
        if name.endswith(".log"):
            with open(os.path.join(os.environ["OUT"], "gpu_check_logs.txt"), "a") as f:
                f.write(f"==== {name}\n{text[-100000:]}\n")
        else:
            with open(os.path.join(os.environ["OUT"], name), "w") as f:
                f.write(text)

    def main(self):
        start = time.time()
        for phase in ("tests", "train", "bench", "sanitize", "torch"):
            if phase not in self.phases:
                continue
            if self.left() < 10:
                self.row(f"== {phase}: not run (budget spent)")
                continue
            getattr(self, phase)()
        verdict = "PASS" if not self.failures else f"FAIL ({len(self.failures)})"
        self.row(f"== {verdict}; {time.time() - start:.0f} s; manifest commit "
                 f"{self.manifest.get('commit')}")
        self.save("gpu_check.txt", "\n".join(self.rows) + "\n")
        self.save("gpu_check.json", json.dumps({"results": self.results,
                                                "failures": self.failures}, indent=1))
        return 1 if self.failures else 0


def target_verdict(ratio, batch):
    """Whether issue 11's speed targets hold for one line (reported, not a failure)."""
    if "eager" not in ratio or "compile" not in ratio or any(v != v for v in ratio.values()):
        return "-"  # a line not run, or no nnc time (NaN)
    ok = ratio["eager"] >= (2 if batch <= 64 else 1) and ratio["compile"] >= 1
    return "met" if ok else "missed"


def torch_step_ms(torch, F, case, batch, compiled, iters=30, warmup=5, device="cuda"):
    """Median ms of one train step of `case`'s PyTorch model on the GPU."""
    torch.manual_seed(0)
    model = case.cls().to(device).train()
    if case.optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=1e-6)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=1e-6, momentum=0.9)
    fwd = torch.compile(model) if compiled else model
    x = torch.rand(batch, *case.sample, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    times = []
    for i in range(iters + warmup):
        sync()
        t = time.perf_counter()
        loss = F.cross_entropy(fwd(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sync()
        if i >= warmup:
            times.append((time.perf_counter() - t) * 1e3)
    return sorted(times)[len(times) // 2]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="mode", required=True)
    pp = sub.add_parser("prepare", help="build DIR here (no GPU needed)")
    pp.add_argument("dir")
    pp.add_argument("--build", default=os.path.join(ROOT, "build"))
    pp.add_argument("--only", help="comma-separated examples (default: all)")
    pp.add_argument("--epochs", type=int, help="reference epochs of every example")
    pp.add_argument("--seed", type=int, default=7)
    pp.add_argument("--no-big", action="store_true", help=f"no batch {BIG_BATCH} artifacts")
    pr = sub.add_parser("run", help="run the checks on a GPU machine")
    pr.add_argument("dir")
    pr.add_argument("--budget", type=float, default=450, help="seconds for all phases")
    pr.add_argument("--phases", default="tests,train,bench,sanitize,torch")
    pc = sub.add_parser("compare", help="compare two --metrics files' losses (as `run` does)")
    pc.add_argument("reference")
    pc.add_argument("other")
    args = p.parse_args()
    if args.mode == "compare":
        c = compare_losses(args.reference, args.other)
        if "worst" in c:
            print(f"{c['steps']} steps, step 1 relative error {c['step1_rel']:.2e}, "
                  f"worst error/allowed {c['worst']:.3f}")
        if c["error"]:
            print(f"gpu_check: mismatch: {c['error']}")
        return 1 if c["error"] else 0
    if args.mode == "prepare":
        return prepare(args)
    run = Run(args)
    reason = run.setup()
    if reason:
        print(f"gpu_check: no GPU: {reason}")
        return 1
    return run.main()


if __name__ == "__main__":
    sys.exit(main())
