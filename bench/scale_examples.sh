#!/usr/bin/env bash
#===- bench/scale_examples.sh - predicted vs measured step time, every example ===#
# Usage: bench/scale_examples.sh [nnc] [threads] [repeats]
# Runs `nnc scale EXAMPLE --measure` on every example at its default batch
# (docs/scale.md, "Prediction"), `repeats` times (default 3), each run
# calibrating and measuring afresh, and prints one line per example: each
# run's measured and predicted milliseconds and error, and the median error.
# The median, because this machine is shared: a burst of load from another
# tenant (steal time) can slow one run's calibration or steps by 30% or
# more, and the next run does not see it.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
nnc=${1:-$root/build/bin/nnc}
threads=${2:-1}
repeats=${3:-3}
for f in "$root"/examples/*.nn; do
  runs=() errors=()
  for ((r = 0; r < repeats; ++r)); do
    line=$("$nnc" scale "$f" --measure --threads "$threads" --format csv 2>/dev/null | tail -1)
    IFS=, read -ra cols <<<"$line"
    n=${#cols[@]}
    batch=${cols[0]}
    runs+=("$(printf '%s/%s' "${cols[n-3]}" "${cols[n-2]}")")
    errors+=("${cols[n-1]}")
  done
  python3 - "$(basename "$f" .nn)" "$batch" "${runs[*]}" "${errors[*]}" <<'PY'
import statistics, sys
name, batch, runs, errors = sys.argv[1], sys.argv[2], sys.argv[3].split(), [float(e) for e in sys.argv[4].split()]
each = "  ".join(f"{r} ms {100 * e:+6.1f}%" for r, e in zip(runs, errors))
print(f"{name:<12} batch {batch:<4} measured/predicted: {each}   median error {100 * statistics.median(errors):+6.1f}%")
PY
done
