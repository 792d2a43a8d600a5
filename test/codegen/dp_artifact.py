"""Data-parallel training steps (nnc build --train --ranks N --shard none|opt)
against the plain artifact of the same per-rank batch, through the C ABI.

dp_artifact.py PLAIN.so NONE2.so OPT1.so OPT2.so OPT3.so

PLAIN.so: --batch B; NONE2.so: --ranks 2 --batch 2B; OPT1.so: --ranks 1 --shard
opt --batch B; OPT2.so and OPT3.so: --ranks 2 (3) --shard opt --batch 2B (3B),
LeNet's 61706 parameters then split evenly (padded by one). Without a
communicator the runtime's hooks act as rank 0 of 1 (runtime/DataParallel.h),
so:
1. NONE2's per-rank layout and arena equal PLAIN's; its table lists the flat
   groups.
2. OPTn's state regions dp<g>.<suffix> hold count/n elements (count: the
   group's elements padded to a multiple of n); the per-parameter state
   regions are gone; the persistent bytes are PLAIN's minus exactly the state
   moved out plus the padding, and OPT2's arena is NONE2's minus the same.
3. OPT1 trains bit for bit like PLAIN (3 steps, same start and batches): the
   parameters, and each dp state region equals the per-parameter state of
   PLAIN laid out in the group's order.
4. OPTn, rank 0 as far as the hooks say, updates exactly the first n-th of
   each group in one step: equal to PLAIN's there, the rest unchanged, the
   padding zero.
"""
import ctypes
import os
import random
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "runtime"))
from nnc_abi import Artifact  # noqa: E402

ALIGN = 64


def align(n):
    return (n + ALIGN - 1) // ALIGN * ALIGN


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def raw(a, name):
    r = a.regions[name]
    return ctypes.string_at(a.arena + r["offset"], r["bytes"])


def raw_at(a, offset, nbytes):
    return ctypes.string_at(a.arena + offset, nbytes)


def setup(a, seed):
    """The same parameters (random) and zero optimizer state in every artifact."""
    rng = random.Random(seed)
    for name in sorted(a.regions):
        r = a.regions[name]
        if r["kind"] == "param":
            a.write(name, [rng.uniform(-0.1, 0.1) for _ in range(a.count(r))])
        elif r["kind"] == "state":
            a.write(name, [0.0] * a.count(r))
        elif r["kind"] == "buffer" and r["dtype"] == "f32":
            a.write(name, [1.0 if name.endswith("running_var") else 0.0] * a.count(r))


def feed(a, rng_seed, step):
    rng = random.Random(rng_seed * 1000 + step)
    for name, r in a.regions.items():
        if r["kind"] != "input" or not name.startswith("train_step."):
            continue
        field = name[len("train_step."):]
        if field == "labels":
            a.write(name, [rng.randrange(10) for _ in range(a.count(r))])
        elif field == "lr":
            a.write(name, [0.01])
        elif field == "step":
            a.write(name, [step])
        elif field == "seed":
            a.write(name, [step])
        else:
            a.write(name, [rng.random() for _ in range(a.count(r))])


def per_param_state(a, group, suffix):
    return b"".join(raw(a, p + "." + suffix) for p in group["params"])


def main():
    plain, none2, opt1, opt2, opt3 = (Artifact(p) for p in sys.argv[1:6])

    # 1. Two ranks without sharding: the single process's layout.
    if "data_parallel" in plain.info:
        fail("the plain artifact has a data_parallel table")
    dp = none2.info["data_parallel"]
    if dp["ranks"] != 2 or dp["shard"] != "none" or not dp["groups"]:
        fail("NONE2's table: %s" % dp)
    if none2.info["regions"] != plain.info["regions"]:
        fail("NONE2's regions differ from the plain artifact's")
    if none2.info["arena_bytes"] != plain.info["arena_bytes"]:
        fail("NONE2's arena %d != plain %d" % (none2.info["arena_bytes"],
                                               plain.info["arena_bytes"]))
    for g in dp["groups"]:
        used = sum(plain.count(plain.regions[p]) for p in g["params"])
        if g["count"] != used or g["state"] or g["param_offset"] != \
                plain.regions[g["params"][0]]["offset"] or g["grad_offset"] <= 0:
            fail("NONE2's group %s (elements %d)" % (g, used))
    print("ranks 2 shard none: %d group(s), regions and arena (%d B) as the single process's"
          % (len(dp["groups"]), plain.info["arena_bytes"]))

    # 2. The state regions of ZeRO-1.
    for a, ranks in ((opt1, 1), (opt2, 2), (opt3, 3)):
        table = a.info["data_parallel"]
        if table["ranks"] != ranks or table["shard"] != "opt":
            fail("OPT%d's table: %s" % (ranks, table))
        if any(r["kind"] == "state" and not r["name"].startswith("dp")
               for r in a.info["regions"]):
            fail("OPT%d keeps per-parameter state regions" % ranks)
        expected = plain.info["persistent_bytes"]
        for g in table["groups"]:
            used = sum(plain.count(plain.regions[p]) for p in g["params"])
            if g["count"] != (used + ranks - 1) // ranks * ranks:
                fail("OPT%d: count %d for %d elements" % (ranks, g["count"], used))
            for s in g["state"]:
                r = a.regions[s["region"]]
                if r["shape"] != [g["count"] // ranks] or r["kind"] != "state":
                    fail("OPT%d: state region %s" % (ranks, r))
                print("ranks %d: %s of %d elements (group of %d)"
                      % (ranks, s["region"], r["shape"][0], used))
            # Each column is one 64-byte aligned block (docs/abi.md).
            states = len(g["state"])
            expected -= states * align(used * 4)
            expected += states * align(g["count"] // ranks * 4)
            expected += align(g["count"] * 4) - align(used * 4)
        if a.info["persistent_bytes"] != expected:
            fail("OPT%d persistent bytes %d, expected %d"
                 % (ranks, a.info["persistent_bytes"], expected))
        print("ranks %d shard opt: persistent %d B (plain %d B), arena %d B (plain %d B)"
              % (ranks, a.info["persistent_bytes"], plain.info["persistent_bytes"],
                 a.info["arena_bytes"], plain.info["arena_bytes"]))
    saved = plain.info["persistent_bytes"] - opt2.info["persistent_bytes"]
    if opt2.info["arena_bytes"] != none2.info["arena_bytes"] - saved:
        fail("OPT2's arena %d is not NONE2's %d minus the %d state bytes saved"
             % (opt2.info["arena_bytes"], none2.info["arena_bytes"], saved))

    # 3. One rank, sharded: bit for bit the plain training.
    for a in (plain, opt1):
        setup(a, 7)
    for step in range(1, 4):
        for a in (plain, opt1):
            feed(a, 3, step)
            a.run("train_step")
        if raw(plain, "train_step.loss") != raw(opt1, "train_step.loss"):
            fail("step %d: losses differ" % step)
    for name, r in plain.regions.items():
        if r["kind"] in ("param", "buffer") and raw(plain, name) != raw(opt1, name):
            fail("after 3 steps %s differs" % name)
    for g in opt1.info["data_parallel"]["groups"]:
        for s in g["state"]:
            if raw(opt1, s["region"]) != per_param_state(plain, g, s["suffix"]):
                fail("%s differs from the per-parameter state" % s["region"])
    print("ranks 1 shard opt: 3 steps bitwise equal to the plain artifact (params and state)")

    # 4. Two and three ranks, sharded, as rank 0 without a communicator: one
    # step updates the first shard of each group; the padding stays zero.
    for a, ranks in ((opt2, 2), (opt3, 3)):
        for b in (plain, a):
            setup(b, 11)
        groups = a.info["data_parallel"]["groups"]
        start = [raw_at(a, g["param_offset"], g["count"] * 4) for g in groups]
        for b in (plain, a):
            feed(b, 5, 1)
            b.run("train_step")
        for g, before in zip(groups, start):
            shard = g["count"] // ranks * 4
            flat_plain = b"".join(raw(plain, p) for p in g["params"])
            after = raw_at(a, g["param_offset"], g["count"] * 4)
            if after[:shard] != flat_plain[:shard]:
                fail("OPT%d: the updated shard differs from the plain step" % ranks)
            if after[shard:len(flat_plain)] != before[shard:len(flat_plain)]:
                fail("OPT%d: the other ranks' shards changed" % ranks)
            if flat_plain[shard:] == before[shard:len(flat_plain)]:
                fail("OPT%d: the plain step changed nothing" % ranks)
            if after[len(flat_plain):] != bytes(len(after) - len(flat_plain)):
                fail("OPT%d: the padding is not zero" % ranks)
            for s in g["state"]:
                if raw(a, s["region"]) != per_param_state(plain, g, s["suffix"])[:shard]:
                    fail("OPT%d: %s differs from the first shard of the plain state"
                         % (ranks, s["region"]))
        print("ranks %d shard opt (rank 0 of 1): one step updates exactly the first shard "
              "(%d of %d elements)" % (ranks, groups[0]["count"] // ranks, groups[0]["count"]))

if __name__ == "__main__":
    main()
