#!/usr/bin/env bash
#===- scripts/fuzz.sh - build and run the libFuzzer targets ----------------===#
# Builds the fuzzers of fuzz/ into build-fuzz/ (clang-22, -fsanitize=fuzzer,
# address,undefined; NNC_BUILD_FUZZERS + NNC_SANITIZE) and runs each for a
# bounded time, one process at the lowest priority.
#
#   scripts/fuzz.sh SECONDS [FUZZER...]     run each fuzzer (default: all) SECONDS
#   scripts/fuzz.sh --minimize [FUZZER...]  merge the work corpus into the
#                                           committed seed corpus fuzz/corpus/F
#
# FUZZER is a name from fuzz/CMakeLists.txt (frontend, safetensors). The work
# corpus (new inputs found) is kept in build-fuzz/corpus/F, the committed seeds
# stay untouched unless --minimize. Prints executions per fuzzer and the total;
# exits 1 on a crash, hang (> 10 s per input) or out-of-memory (> 2 GB) and
# prints the path of the input that caused it. Reproduce with
#   NNC_FUZZ_VERBOSE=1 build-fuzz/bin/nnc-F-fuzzer PATH
# Environment: NNC_FUZZ_BUILD (build dir), NNC_FUZZ_FLAGS (extra libFuzzer flags).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${NNC_FUZZ_BUILD:-$root/build-fuzz}

usage() { echo "usage: scripts/fuzz.sh SECONDS|--minimize [FUZZER...]" >&2; exit 2; }
(($# >= 1)) || usage
mode=run
if [[ $1 == --minimize ]]; then
  mode=minimize
elif [[ $1 =~ ^[0-9]+$ ]]; then
  seconds=$1
else
  usage
fi
shift

bash "$root/scripts/install-deps.sh" >/dev/null
if [[ ! -f "$build/build.ninja" ]]; then
  cmake -G Ninja -S "$root" -B "$build" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
    -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir \
    -DNNC_SANITIZE=ON -DNNC_BUILD_FUZZERS=ON -DNNC_BUILD_TESTS=OFF >/dev/null
fi
ninja -C "$build" nnc-fuzzers

read -r -a fuzzers <<<"$(cat "$build/fuzzers.txt")"
(($# == 0)) || fuzzers=("$@")

# Extra seeds of the frontend fuzzer: the examples and every lit model file.
seeds="$build/seeds"
rm -rf "$seeds" && mkdir -p "$seeds/frontend"
i=0
while IFS= read -r -d '' f; do
  cp "$f" "$seeds/frontend/$((i++))-$(basename "$f")"
done < <(find "$root/examples" "$root/test/frontend" -name '*.nn' -print0)

# allow_user_poisoning=0: see scripts/sanitize.sh.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allow_user_poisoning=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

total=0
failed=0
for f in "${fuzzers[@]}"; do
  bin="$build/bin/nnc-$f-fuzzer"
  [[ -x "$bin" ]] || { echo "fuzz.sh: no fuzzer '$f' ($bin)" >&2; exit 2; }
  work="$build/corpus/$f"
  mkdir -p "$work" "$root/fuzz/corpus/$f"
  extra=()
  [[ -d "$seeds/$f" ]] && extra+=("$seeds/$f")
  flags=(-dict="$root/fuzz/fuzz.dict" -max_len=8192 -timeout=10 -rss_limit_mb=2048)
  [[ $f == frontend ]] || flags=(-max_len=4096 -timeout=10 -rss_limit_mb=2048)

  if [[ $mode == minimize ]]; then
    # A greedy set cover of the edges that the old seeds, the work corpus and
    # the extra seeds cover (hit counts ignored, to keep the committed corpus
    # small: ~300 files, ~130 KB for the frontend).
    new="$build/minimized/$f"
    rm -rf "$new" && mkdir -p "$new"
    nice -n 19 "$bin" -set_cover_merge=1 -use_counters=0 "${flags[@]}" "$new" "$root/fuzz/corpus/$f" \
      "$work" "${extra[@]}" 2>&1 | grep -E '^MERGE-OUTER: [0-9]+ new' || true
    rm -rf "$root/fuzz/corpus/$f" && mv "$new" "$root/fuzz/corpus/$f"
    echo "fuzz.sh: $f: $(ls "$root/fuzz/corpus/$f" | wc -l) seeds," \
      "$(cat "$root/fuzz/corpus/$f"/* 2>/dev/null | wc -c) bytes in fuzz/corpus/$f"
    continue
  fi

  logdir="$build/logs/$f"
  rm -rf "$logdir" && mkdir -p "$logdir" "$build/artifacts"
  rc=0
  (cd "$logdir" && nice -n 19 "$bin" -jobs=1 -workers=1 -max_total_time="$seconds" \
      -print_final_stats=1 -artifact_prefix="$build/artifacts/$f-" \
      "${flags[@]}" ${NNC_FUZZ_FLAGS:-} "$work" "$root/fuzz/corpus/$f" "${extra[@]}" \
      >"$logdir/outer.log" 2>&1) || rc=$?
  log="$logdir/fuzz-0.log"
  [[ -f $log ]] || log="$logdir/outer.log"
  execs=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1 || true)
  if [[ -z $execs ]]; then # Stopped early: the last status line.
    execs=$(grep -oE '^#[0-9]+' "$log" | tr -d '#' | tail -1 || true)
  fi
  execs=${execs:-0}
  total=$((total + execs))
  if ((rc != 0)); then
    failed=1
    tail -n 60 "$log"
    crash=$(grep -oE '(Test unit|artifact) written to [^ ]+' "$log" | awk '{print $NF}' | tail -1 || true)
    echo "fuzz.sh: $f: FAILED after $execs executions; input: ${crash:-see $log}"
    echo "fuzz.sh: reproduce: NNC_FUZZ_VERBOSE=1 $bin ${crash:-CRASH-FILE}"
  else
    echo "fuzz.sh: $f: $execs executions in ${seconds}s, no crash" \
      "(corpus $(ls "$work" | wc -l) inputs; log $log)"
  fi
done
if [[ $mode == run ]]; then
  echo "fuzz.sh: total executions: $total"
fi
exit "$failed"
