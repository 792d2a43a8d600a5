"""A rank killed mid-run ends the whole data-parallel run, and --resume continues it.

dp_kill_resume.py MPIRUN NNC MODEL DIR [--compare-metrics] [nnc train flags...]
Runs `MPIRUN -np 2 NNC train` uninterrupted (A), then again (B): as soon as
B's first epoch checkpoint exists, SIGKILLs rank 1 in a later epoch and
requires every process to end within 60 s with a non-zero status (no hang),
printing rank 0's error and mpirun's notice; then resumes B with --resume
and requires B's final weights to equal A's (and, with --compare-metrics, its
per-epoch metrics: the figures reduced over both ranks).
"""
import json
import os
import shlex
import signal
import subprocess
import sys
import time

mpirun, nnc, model, work = shlex.split(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
flags = sys.argv[5:]
compare_metrics = "--compare-metrics" in flags
flags = [f for f in flags if f != "--compare-metrics"]
os.makedirs(work, exist_ok=True)
a, b = os.path.join(work, "a.safetensors"), os.path.join(work, "b.safetensors")


def train(out, extra=(), wait=True):
    cmd = [*mpirun, "-np", "2", nnc, "train", model, "-o", out, "--metrics", out + ".jsonl",
           *flags, *extra]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if not wait:
        return p
    out, _ = p.communicate(timeout=300)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{out}")
    return out


def rank_pid(launcher, rank):
    """The pid of the nnc process of `rank` started by `launcher`."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read().split(b"\0")
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if ppid == launcher and f"OMPI_COMM_WORLD_RANK={rank}".encode() in env:
            return int(pid)
    return None


train(a)
p = train(b, wait=False)
deadline = time.time() + 120
while not os.path.exists(b + ".state") and time.time() < deadline and p.poll() is None:
    time.sleep(0.005)
victim = rank_pid(p.pid, 1) if p.poll() is None else None
if victim is None:
    p.kill()
    sys.exit("could not find rank 1 running after the first checkpoint")
time.sleep(0.05)  # into the next epoch
os.kill(victim, signal.SIGKILL)
start = time.time()
try:
    output, _ = p.communicate(timeout=60)
except subprocess.TimeoutExpired:
    p.kill()
    sys.exit("the run hung after rank 1 was killed")
took = time.time() - start
if p.returncode == 0:
    sys.exit("the run succeeded although rank 1 was killed:\n" + output)
# Rank 0 says why it ended, and mpirun which rank failed.
for line in output.splitlines():
    if line.startswith("nnc: error: rank 0:") or "exited on signal 9" in line:
        print(line.strip())
print(f"the run ended {'within 10' if took < 10 else 'after 10'} s of the kill, status non-zero")
done = [json.loads(l) for l in open(b + ".jsonl")]
train(b, ["--resume", b])
strip = lambda r: {k: v for k, v in r.items() if k not in ("samples_per_second", "step_ms", "time_s")}
ra = [strip(json.loads(l)) for l in open(a + ".jsonl")]
rb = [strip(json.loads(l)) for l in open(b + ".jsonl")]
if compare_metrics and ra != rb:
    sys.exit(f"metrics differ after the kill and resume:\n{ra}\n{rb}")
if len(rb) != len(ra):
    sys.exit(f"the resumed run has {len(rb)} metrics records, the uninterrupted one {len(ra)}")
if open(a, "rb").read() != open(b, "rb").read():
    sys.exit("final weights differ after the kill and resume")
print(f"killed after {len(done)} record(s); resumed run ends with the uninterrupted run's weights")
