"""Ctrl-C (SIGINT) or SIGTERM stops nnc train cleanly.

interrupt.py NNC MODEL WORKDIR
Runs `nnc train --data synthetic` with a private TMPDIR three times and
signals it: SIGINT once the first epoch checkpoint exists, SIGTERM likewise,
and SIGINT as soon as nnc has created its temporary build directory. Each run
must exit with status 130, leave no nnc-* file or directory in TMPDIR, and
say where the last checkpoint is (or that none was written). Also SIGINT to
`nnc build` while it compiles: exit 130, no output and no temporary file.
"""
import glob
import os
import signal
import subprocess
import sys
import time

nnc, model, work = sys.argv[1:4]
failures = []


def run(name, sig, wait_for):
    tmp = os.path.join(work, name + "-tmp")
    os.makedirs(tmp)
    out = os.path.join(work, name + ".safetensors")
    env = dict(os.environ, TMPDIR=tmp)
    cmd = [nnc, "train", model, "--data", "synthetic", "--epochs", "100000", "--limit",
           "128", "--test-limit", "32", "--threads", "1", "-o", out]
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    deadline = time.time() + 60
    while not wait_for(tmp, out) and time.time() < deadline and p.poll() is None:
        time.sleep(0.002)
    if p.poll() is not None:
        failures.append(f"{name}: nnc ended before the signal: {p.communicate()}")
        return
    p.send_signal(sig)
    try:
        stdout, stderr = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        failures.append(f"{name}: nnc did not stop")
        return
    left = glob.glob(os.path.join(tmp, "nnc*"))
    if p.returncode != 130:
        failures.append(f"{name}: exit status {p.returncode}: {stderr[-500:]}")
    if left:
        failures.append(f"{name}: left {left}")
    last = [l for l in stderr.splitlines() if l.startswith("nnc: interrupted")]
    print(f"{name}: exit {p.returncode}, {len(left)} nnc-* left; " +
          (last[-1] if last else "no 'interrupted' line"))


def checkpoint_written(tmp, out):
    return os.path.exists(out + ".state")


def build_dir_created(tmp, out):
    return any(os.path.isdir(d) for d in glob.glob(os.path.join(tmp, "nnc-*")))


def build_interrupted():
    """nnc build, signalled while it compiles: nothing written, no leftovers."""
    tmp = os.path.join(work, "build-tmp")
    os.makedirs(tmp)
    out = os.path.join(work, "model.so")
    env = dict(os.environ, TMPDIR=tmp)
    for attempt in range(5):  # the signal must land while the object file exists
        p = subprocess.Popen([nnc, "build", model, "-o", out], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 60
        while (not glob.glob(os.path.join(tmp, "nnc-*.o")) and time.time() < deadline
               and p.poll() is None):
            time.sleep(0.001)
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
            _, stderr = p.communicate(timeout=60)
            break
        p.communicate()
        for f in glob.glob(out + "*"):
            os.remove(f)
    else:
        failures.append("build: could not signal nnc build while it compiled")
        return
    left = glob.glob(os.path.join(tmp, "nnc*")) + glob.glob(out + "*")
    if p.returncode != 130 or left:
        failures.append(f"build: exit status {p.returncode}, left {left}: {stderr[-300:]}")
    print(f"build: exit {p.returncode}, {len(left)} files left; {stderr.splitlines()[-1]}")


os.makedirs(work, exist_ok=True)
build_interrupted()
run("sigint", signal.SIGINT, checkpoint_written)
run("sigterm", signal.SIGTERM, checkpoint_written)
run("early", signal.SIGINT, build_dir_created)
for f in failures:
    print("FAIL:", f)
sys.exit(1 if failures else 0)
