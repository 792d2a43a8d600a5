"""kill -9 during training loses at most the last checkpoint interval.

kill_resume.py NNC MODEL DIR [nnc train flags...]
Runs the training uninterrupted (A), then again (B) and SIGKILLs B as soon
as its first epoch checkpoint exists, in the middle of a later epoch; resumes
B from its checkpoint and requires B's final weights and per-epoch metrics to
equal A's (only timing may differ).
"""
import json
import os
import signal
import subprocess
import sys
import time

nnc, model, work, flags = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
os.makedirs(work, exist_ok=True)
a, b = os.path.join(work, "a.safetensors"), os.path.join(work, "b.safetensors")


def train(out, extra=(), wait=True):
    cmd = [nnc, "train", model, "-o", out, "--metrics", out + ".jsonl", *flags, *extra]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return p.wait() if wait else p


if train(a) != 0:
    sys.exit("the uninterrupted run failed")
p = train(b, wait=False)
deadline = time.time() + 120
while not os.path.exists(b + ".state") and time.time() < deadline and p.poll() is None:
    time.sleep(0.005)
killed = p.poll() is None
if killed:
    time.sleep(0.05)  # into the next epoch
    p.send_signal(signal.SIGKILL)
    p.wait()
if not killed or not os.path.exists(b):
    sys.exit("could not interrupt the run after its first checkpoint")
# Every epoch record written before the kill is complete (JSON lines).
done = [json.loads(l) for l in open(b + ".jsonl")]
if train(b, ["--resume", b]) != 0:
    sys.exit("the resumed run failed")
strip = lambda r: {k: v for k, v in r.items() if k not in ("samples_per_second", "step_ms", "time_s")}
ra = [strip(json.loads(l)) for l in open(a + ".jsonl")]
rb = [strip(json.loads(l)) for l in open(b + ".jsonl")]
if ra != rb:
    sys.exit(f"metrics differ after kill -9 and resume:\n{ra}\n{rb}")
if open(a, "rb").read() != open(b, "rb").read():
    sys.exit("final weights differ after kill -9 and resume")
print(f"killed after {len(done)} epoch(s); resumed run equals the uninterrupted one")
