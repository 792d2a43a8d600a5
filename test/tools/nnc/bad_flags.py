"""Runs nnc subcommands with bad flag values; each must fail cleanly.

bad_flags.py NNC MODEL WORKDIR
For every row of the table: exit status 1, nothing on stdout, exactly one
line on stderr that starts with "nnc: error:" (or LLVM's "nnc: for the
--X option:"), names the flag and the accepted range, and no output file.
Prints one line per row; exits non-zero if any row fails.
"""
import os
import subprocess
import sys

nnc, model, work = sys.argv[1:4]
os.makedirs(work, exist_ok=True)
out = os.path.join(work, "out")
w = os.path.join(work, "w.safetensors")

# (subcommand and flags, text the one error line must contain)
TABLE = [
    ("train --lr 0", "--lr must be a finite number > 0 (got 0)"),
    ("train --lr -1", "--lr must be a finite number > 0 (got -1)"),
    ("train --lr nan", "--lr must be a finite number > 0 (got nan)"),
    ("train --lr inf", "--lr must be a finite number > 0 (got inf)"),
    ("train --epochs 0", "--epochs must be an integer >= 1 (got 0)"),
    ("train --batch 0", "--batch must be an integer >= 1 (got 0)"),
    ("train --batch -5", "--batch must be an integer >= 1 (got -5)"),
    ("train --limit 0", "--limit must be an integer >= 1 (got 0)"),
    ("train --test-limit -1", "--test-limit must be an integer >= 1 (got -1)"),
    ("train --stop-after 0", "--stop-after must be an integer >= 1 (got 0)"),
    ("train --seed -2", "--seed must be an integer >= 0 (got -2)"),
    ("train --momentum -3", "--momentum must be a finite number in (0, 1] (got -3)"),
    ("train --momentum 0", "--momentum must be a finite number in (0, 1] (got 0)"),
    ("train --momentum 1.5", "--momentum must be a finite number in (0, 1] (got 1.5)"),
    ("train --weight-decay -1", "--weight-decay must be a finite number >= 0 (got -1)"),
    ("train --optimizer adamx", "--optimizer must be sgd, momentum, adam or adamw (got 'adamx')"),
    ("train --schedule linear", "--schedule must be constant, step or cosine (got 'linear')"),
    ("train --threads 0", "--threads must be an integer from 1 to 1024 (got 0)"),
    ("train --batch abc", "--batch option: 'abc' value invalid"),
    ("train --lr fast", "--lr option: 'fast' value invalid"),
    ("train --holdout 1", "--holdout must be a fraction in (0, 1) (got 1)"),
    ("train --holdout -0.5", "--holdout must be a fraction in (0, 1) (got -0.5)"),
    ("train --metrics-every 0", "--metrics-every must be an integer >= 1 (got 0)"),
    ("train --target a,,b", "--target: empty column name in 'a,,b'"),
    ("eval --weights W --holdout 0", "--holdout must be a fraction in (0, 1) (got 0)"),
    ("eval --weights W --seed -1", "--seed must be an integer >= 0 (got -1)"),
    ("compile --batch 0", "--batch must be an integer >= 1 (got 0)"),
    ("compile -emit=nn-autodiff --optimizer adamx", "--optimizer must be sgd, momentum, adam or adamw"),
    ("build --batch -5", "--batch must be an integer >= 1 (got -5)"),
    ("build --train --momentum -3", "--momentum must be a finite number in (0, 1]"),
    ("report --batch 0", "--batch must be an integer >= 1 (got 0)"),
    ("report --optimizer adamx", "--optimizer must be sgd, momentum, adam or adamw (got 'adamx')"),
    ("report --dtype f64", "--dtype must be f32, f16, bf16 or int8 (got 'f64')"),
    ("eval --weights W --batch 0", "--batch must be an integer >= 1 (got 0)"),
    ("eval --weights W --test-limit 0", "--test-limit must be an integer >= 1 (got 0)"),
    ("eval --weights W --threads -1", "--threads must be an integer from 1 to 1024 (got -1)"),
    ("run --weights W --inputs W --batch 0", "--batch must be an integer >= 1 (got 0)"),
    ("run --weights W --inputs W --tolerance -1", "--tolerance must be a finite number >= 0 (got -1)"),
    ("run --weights W --inputs W --tolerance nan", "--tolerance must be a finite number >= 0 (got nan)"),
    ("predict --weights W img.png --batch -1", "--batch must be an integer >= 1 (got -1)"),
    ("predict --weights W img.png --threads 5000", "--threads must be an integer from 1 to 1024 (got 5000)"),
    ("bench --iterations 0", "--iterations must be an integer from 1 to 1000000 (got 0)"),
    ("bench --batch 0", "--batch must be an integer >= 1 (got 0)"),
    ("bench --weight-decay nan", "--weight-decay must be a finite number >= 0 (got nan)"),
    ("bench --warmup -1", "--warmup must be an integer from 0 to 1000 (got -1)"),
    ("bench --entry loss", "--entry must be forward or train_step (got 'loss')"),
    ("train --device tpu", "--device must be cpu or gpu (got 'tpu')"),
    ("eval --weights W --device tpu", "--device must be cpu or gpu (got 'tpu')"),
    ("run --weights W --inputs W --device tpu", "--device must be cpu or gpu (got 'tpu')"),
    ("predict --weights W img.png --device tpu", "--device must be cpu or gpu (got 'tpu')"),
    ("bench --device tpu", "--device must be cpu or gpu (got 'tpu')"),
    # Without a usable GPU (the driver library named here does not exist).
    ("NODRIVER train --device gpu", "nnc: error: cannot use the GPU: no CUDA driver: cannot load"),
    ("NODRIVER eval --weights W --device gpu", "nnc: error: cannot use the GPU: no CUDA driver"),
    ("NODRIVER run --weights W --inputs W --device gpu", "nnc: error: cannot use the GPU: no CUDA"),
    ("NODRIVER predict --weights W img.png --device gpu", "nnc: error: cannot use the GPU: no CUDA"),
    ("NODRIVER bench --device gpu", "nnc: error: cannot use the GPU: no CUDA driver: cannot load"),
]

failures = 0
for flags, expected in TABLE:
    words = flags.replace(" W ", " " + w + " ").replace(" W", " " + w).split()
    env = dict(os.environ)
    if words[0] == "NODRIVER":
        env["NNC_CUDA_DRIVER"] = os.path.join(work, "no-libcuda.so")
        words = words[1:]
    command = [nnc, words[0], model, *words[1:]]
    # Commands that write a file get -o, which must not appear.
    if words[0] in ("train", "build", "compile", "report"):
        command += ["-o", out]
    p = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    lines = p.stderr.splitlines()
    problems = []
    if p.returncode != 1:
        problems.append(f"exit status {p.returncode}")
    if p.stdout:
        problems.append(f"stdout {p.stdout[:200]!r}")
    if len(lines) != 1:
        problems.append(f"{len(lines)} stderr lines: {p.stderr[:300]!r}")
    elif expected not in lines[0] or not lines[0].startswith("nnc: "):
        problems.append(f"message {lines[0]!r}")
    if os.path.exists(out):
        problems.append("wrote the output file")
        os.remove(out)
    failures += bool(problems)
    print(f"{'FAIL' if problems else 'ok'}: nnc {flags}" +
          (": " + "; ".join(problems) if problems else ""))
print(f"{len(TABLE) - failures} of {len(TABLE)} bad flags refused with one line")
sys.exit(1 if failures else 0)
