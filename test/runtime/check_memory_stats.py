"""Checks an `nnc train --memory-stats` file: every figure present, the data
bytes as stated, and the derived figures consistent with the measured ones.

check_memory_stats.py FILE DATA_BYTES [--sanitized]

--sanitized (the suite under ASan, scripts/sanitize.sh): ASan's allocator
hands out memory it already holds resident, so the arena's zeroing need not
grow the resident size; that one check is left out.
"""
import json
import sys

stats = json.load(open(sys.argv[1]))
data = int(sys.argv[2])
sanitized = "--sanitized" in sys.argv[3:]
for key in ("baseline_rss_bytes", "peak_rss_bytes", "arena_bytes", "data_bytes",
            "data_train_bytes", "data_test_bytes", "data_staging_bytes",
            "rss_start_bytes", "rss_data_loaded_bytes", "rss_first_step_bytes",
            "rss_first_eval_bytes", "rss_end_bytes", "anon_start_bytes",
            "anon_end_bytes", "growth_bytes", "fixed_bytes", "peak_is_training",
            "peak_before_training_bytes"):
    assert key in stats, f"missing {key}"
assert stats["data_bytes"] == data, stats["data_bytes"]
assert stats["data_bytes"] == (stats["data_train_bytes"] + stats["data_test_bytes"]
                               + stats["data_staging_bytes"])
assert stats["growth_bytes"] == stats["peak_rss_bytes"] - stats["baseline_rss_bytes"]
assert stats["fixed_bytes"] == (stats["growth_bytes"] - stats["arena_bytes"]
                                - stats["data_bytes"])
# The compiler ran before training: the process's peak before it is at least
# the baseline.
assert stats["peak_before_training_bytes"] >= stats["baseline_rss_bytes"] - (1 << 20), stats
# The arena is touched when the model is loaded (zeroed), after the baseline.
if not sanitized:
    assert stats["rss_start_bytes"] - stats["baseline_rss_bytes"] >= 0.9 * stats["arena_bytes"], stats
# Resident sizes only grow up to the peak.
for phase in ("start", "data_loaded", "first_step", "first_eval", "end"):
    rss = stats[f"rss_{phase}_bytes"]
    assert 0 < stats[f"anon_{phase}_bytes"] <= rss <= stats["peak_rss_bytes"] + (1 << 20), phase
print("ok")
