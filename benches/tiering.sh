#!/usr/bin/env bash
# Automatic tiering against eager compilation: for each benchmark, the time
# of `--tier auto` (start interpreted, compile what the sampler finds hot,
# interp -> baseline -> opt) and of `--tier opt` (optimize everything
# first), best of RUNS (default 3) interleaved runs; from the best auto
# run's --tier-stats: tier-ups, on-stack replacements, when its functions
# first got optimized code, when its hot code (the functions with 90% of
# the sampled CPU time) was first seen running optimized code, and the
# tier-up latency to each tier (policy decision to installed code,
# p50/p99 from the run's hdrhistograms).
#   benches/tiering.sh [NAME...]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
. benches/common.sh "$@"
ms() { python3 -c "print(f'{$1/1e9:.3f}')"; }
printf '| benchmark | opt (s) | auto (s) | auto / opt | tier-ups | OSR | optimized by (ms) | hot code optimized by (ms) | to baseline p50 / p99 (us) | to opt p50 / p99 (us) |\n'
printf '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n'
for name in "${names[@]}"; do
  file=benches/tj/$name.tj
  best_o=999999999999; best_a=999999999999; stats=""
  for _ in $(seq "$RUNS"); do
    s=$(date +%s%N); "$BIN" run --tier opt "$file" >/dev/null; e=$(date +%s%N)
    [ $((e - s)) -lt "$best_o" ] && best_o=$((e - s))
    s=$(date +%s%N); out=$("$BIN" run --tier auto --tier-stats "$file" 2>&1 >/dev/null); e=$(date +%s%N)
    if [ $((e - s)) -lt "$best_a" ]; then best_a=$((e - s)); stats=$out; fi
  done
  ups=$(echo "$stats" | grep -o '[0-9]* tier-ups' | grep -o '^[0-9]*' || echo 0)
  osr=$(echo "$stats" | grep -o '[0-9]* on-stack' | grep -o '^[0-9]*' || echo 0)
  by=$(echo "$stats" | grep -o 'the last at [0-9.]*' | grep -o '[0-9.]*$' || echo -)
  hot=$(echo "$stats" | grep -o 'hot code optimized by [0-9.]*' | grep -o '[0-9.]*$' || echo -)
  # "p50 / p99" of the stats line for tier-ups to $1, or "-".
  latency() {
    local line
    line=$(echo "$stats" | grep "to $1:" || true)
    if [ -z "$line" ]; then echo -; return; fi
    echo "$(echo "$line" | grep -o 'p50 [0-9.]*' | grep -o '[0-9.]*$') / $(echo "$line" | grep -o 'p99 [0-9.]*' | grep -o '[0-9.]*$')"
  }
  printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$(ms $best_o)" "$(ms $best_a)" \
    "$(python3 -c "print(f'{$best_a/$best_o:.2f}')")" "$ups" "$osr" "$by" "$hot" "$(latency baseline)" "$(latency opt)"
done
echo
echo "best of $RUNS runs, wall clock; optimized by: when the last function of the run first got optimized code; hot code optimized by: when the last of the functions with 90% of the sampled CPU time was first seen running optimized code; latency: from the policy queueing a function to its code being installed."
