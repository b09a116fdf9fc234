#!/bin/bash
# Wall time of the whole 20k pipeline, forced from scratch, alternating two checkouts:
# the fair way to compare two commits on a virtual machine whose speed drifts by 10-15%
# over an hour. Each run is `dvc repro -f` then the summary, with that checkout's own
# .venv first on PATH (run `make run` in each once beforehand: it installs and makes the
# data). Prints one line per run and the median of each.
#
#   git worktree add /tmp/old 0a48eed && make -C /tmp/old run
#   benchmarks/paired_runs.sh . /tmp/old 5
set -euo pipefail
a=$(cd "${1:?usage: paired_runs.sh CHECKOUT_A CHECKOUT_B [PAIRS]}" && pwd)
b=$(cd "${2:?usage: paired_runs.sh CHECKOUT_A CHECKOUT_B [PAIRS]}" && pwd)
pairs=${3:-3}
export MLFLOW_DISABLE_TELEMETRY=true DVC_NO_ANALYTICS=1 DO_NOT_TRACK=1
declare -A times
one() {
  local dir=$1 start end t
  start=$(date +%s%N)
  (cd "$dir" && PATH="$dir/.venv/bin:$PATH" dvc repro -f >/dev/null 2>&1 \
    && PATH="$dir/.venv/bin:$PATH" python -m pipeline.summary >/dev/null 2>&1) \
    || { echo "run failed in $dir" >&2; exit 1; }
  end=$(date +%s%N)
  t=$(awk -v ns=$((end - start)) 'BEGIN {printf "%.1f", ns / 1e9}')
  printf '%s %.1f s\n' "$dir" "$t"
  times[$dir]="${times[$dir]:-} $t"
}
for _ in $(seq 1 "$pairs"); do
  one "$a"
  one "$b"
done
for dir in "$a" "$b"; do
  median=$(printf '%s\n' ${times[$dir]} | sort -n | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}')
  printf 'median %s: %.1f s over %d runs\n' "$dir" "$median" "$pairs"
done
