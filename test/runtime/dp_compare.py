"""Compares a data-parallel run with another run (docs/distributed.md).

dp_compare.py metrics A.jsonl B.jsonl --loss-rtol R [--accuracy-tol T]
    Every step's loss agrees within relative R and every epoch's test
    accuracy within T (absolute, a fraction); prints the largest differences.
dp_compare.py tensors A.safetensors B.safetensors --rtol R NAME...
    The named tensors (default: all) agree within relative R of their
    largest magnitude (R = 0: bit for bit); prints the largest difference.
dp_compare.py state MEM_NONE.json MEM_OPT.json --ranks N
    --memory-stats of an unsharded and a ZeRO-1 rank: the ZeRO-1 rank's
    optimizer state is 1/N of the unsharded one's (within the padding of
    each state column to a multiple of N elements, 1%).
"""
import argparse
import json
import struct
import sys


def read_safetensors(path):
    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = data[begin:end]
        out[name] = (info["dtype"], raw)
    return out


def floats(dtype, raw):
    if dtype != "F32":
        return list(raw)
    return list(struct.unpack("<%df" % (len(raw) // 4), raw))


parser = argparse.ArgumentParser()
parser.add_argument("what", choices=["metrics", "tensors", "state"])
parser.add_argument("a")
parser.add_argument("b")
parser.add_argument("names", nargs="*")
parser.add_argument("--loss-rtol", type=float, default=0)
parser.add_argument("--accuracy-tol", type=float, default=0)
parser.add_argument("--rtol", type=float, default=0)
parser.add_argument("--ranks", type=int, default=2)
args = parser.parse_intermixed_args()

if args.what == "metrics":
    ra = [json.loads(l) for l in open(args.a)]
    rb = [json.loads(l) for l in open(args.b)]
    steps = lambda rs: [r for r in rs if r["kind"] == "step"]
    epochs = lambda rs: [r for r in rs if r["kind"] == "epoch"]
    sa, sb = steps(ra), steps(rb)
    if len(sa) != len(sb) or not sa or [r["step"] for r in sa] != [r["step"] for r in sb]:
        sys.exit(f"the runs have different steps: {len(sa)} and {len(sb)}")
    loss = max(abs(x["loss"] - y["loss"]) / abs(x["loss"]) for x, y in zip(sa, sb))
    acc = max(abs(x["test_accuracy"] - y["test_accuracy"]) for x, y in zip(epochs(ra), epochs(rb)))
    print(f"{len(sa)} steps: loss relative difference {'within' if loss <= args.loss_rtol else 'OVER'}"
          f" {args.loss_rtol:g} (largest {loss:.2e})")
    print(f"{len(epochs(ra))} epochs: test accuracy difference "
          f"{'within' if acc <= args.accuracy_tol else 'OVER'} {args.accuracy_tol:g} (largest {acc:.4f})")
    sys.exit(0 if loss <= args.loss_rtol and acc <= args.accuracy_tol else 1)

if args.what == "state":
    none, opt = json.load(open(args.a)), json.load(open(args.b))
    ratio = opt["state_bytes"] * args.ranks / none["state_bytes"]
    ok = none["ranks"] == opt["ranks"] == args.ranks and abs(ratio - 1) <= 0.01
    print(f"optimizer state per rank: {none['state_bytes']} B unsharded, {opt['state_bytes']} B "
          f"sharded: 1/{args.ranks} {'within' if ok else 'OVER'} 1% (ratio x {args.ranks} = {ratio:.4f})")
    sys.exit(0 if ok else 1)

ta, tb = read_safetensors(args.a), read_safetensors(args.b)
ok = True
for name in args.names or sorted(ta):
    if name not in ta or name not in tb:
        sys.exit(f"{name}: not in both files")
    (da, xa), (db, xb) = ta[name], tb[name]
    if args.rtol == 0:
        same = da == db and xa == xb
        print(f"{name}: {'bit for bit equal' if same else 'DIFFERENT'}")
        ok &= same
        continue
    fa, fb = floats(da, xa), floats(db, xb)
    scale = max(max(abs(v) for v in fa), 1e-30)
    diff = max(abs(x - y) for x, y in zip(fa, fb)) / scale
    within = diff <= args.rtol and len(fa) == len(fb)
    print(f"{name}: {'within' if within else 'OVER'} {args.rtol:g} (largest relative {diff:.2e})")
    ok &= within
sys.exit(0 if ok else 1)
