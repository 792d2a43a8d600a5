"""Checks each rank's measured memory (nnc train --memory-stats under mpirun)
against what `nnc report --devices N --shard S --format json` predicted.

dp_memory.py REPORT.json STATS.json RANKS

Per rank (STATS.json for rank 0, STATS.json.rank<r> for the others): the
arena the rank allocated plus its communicator's staging, against the
report's per-device total, within 2%; its optimizer state bytes against the
report's.
"""
import json
import sys

report = json.load(open(sys.argv[1]))["data_parallel"]
stats_path, ranks = sys.argv[2], int(sys.argv[3])
assert report["devices"] == ranks, report
predicted = report["total_bytes"]
assert predicted == report["arena_bytes"] + report["comm_buffer_bytes"], report
for rank in range(ranks):
    path = stats_path if rank == 0 else "%s.rank%d" % (stats_path, rank)
    stats = json.load(open(path))
    assert stats["rank"] == rank and stats["ranks"] == ranks, stats
    measured = stats["arena_bytes"] + stats["comm_buffer_bytes"]
    error = (measured - predicted) / predicted
    if abs(error) > 0.02:
        sys.exit("rank %d: measured %d B (arena %d + communicator %d), report %d B: %+.2f%%"
                 % (rank, measured, stats["arena_bytes"], stats["comm_buffer_bytes"],
                    predicted, 100 * error))
    if stats["state_bytes"] != report["optimizer_state_bytes"]:
        sys.exit("rank %d: optimizer state %d B, report %d B"
                 % (rank, stats["state_bytes"], report["optimizer_state_bytes"]))
    print("rank %d: measured %d B, report %d B: within 2%% (%+.3f%%); optimizer state %d B"
          % (rank, measured, predicted, 100 * error, stats["state_bytes"]))
