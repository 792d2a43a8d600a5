#!/usr/bin/env bash
#===- bench/scale_examples.sh - predicted vs measured step time, every example ===#
# Usage: bench/scale_examples.sh [nnc] [threads]
# Runs `nnc scale EXAMPLE --measure` on every example at its default batch
# (docs/scale.md, "Prediction") and prints one line per example.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
nnc=${1:-$root/build/bin/nnc}
threads=${2:-1}
for f in "$root"/examples/*.nn; do
  line=$("$nnc" scale "$f" --measure --threads "$threads" --format csv 2>/dev/null | tail -1)
  IFS=, read -ra cols <<<"$line"
  n=${#cols[@]}
  printf '%-16s batch %-4s measured %9s ms  predicted %9s ms  error %+6.1f%%\n' \
    "$(basename "$f" .nn)" "${cols[0]}" "${cols[n-3]}" "${cols[n-2]}" \
    "$(python3 -c "print(100*${cols[n-1]})")"
done
