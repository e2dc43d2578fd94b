#!/usr/bin/env bash
# Automatic tiering against eager compilation: for each benchmark, the time
# of `--tier auto` (start interpreted, compile what the sampler finds hot)
# and of `--tier baseline` (compile everything first), best of RUNS
# (default 3) interleaved runs, and the tier-up latency (policy decision to
# installed code, p50/p99 from the run's hdrhistogram).
#   benches/tiering.sh [NAME...]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
. benches/common.sh "$@"
ms() { python3 -c "print(f'{$1/1e9:.3f}')"; }
printf '| benchmark | baseline (s) | auto (s) | auto / baseline | tier-ups | OSR | latency p50 (us) | latency p99 (us) |\n'
printf '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n'
for name in "${names[@]}"; do
  file=benches/tj/$name.tj
  best_b=999999999999; best_a=999999999999; stats=""
  for _ in $(seq "$RUNS"); do
    s=$(date +%s%N); "$BIN" run --tier baseline "$file" >/dev/null; e=$(date +%s%N)
    [ $((e - s)) -lt "$best_b" ] && best_b=$((e - s))
    s=$(date +%s%N); out=$("$BIN" run --tier auto --tier-stats "$file" 2>&1 >/dev/null); e=$(date +%s%N)
    if [ $((e - s)) -lt "$best_a" ]; then best_a=$((e - s)); stats=$out; fi
  done
  ups=$(echo "$stats" | grep -o '[0-9]* tier-ups' | grep -o '^[0-9]*' || echo 0)
  osr=$(echo "$stats" | grep -o '[0-9]* on-stack' | grep -o '^[0-9]*' || echo 0)
  p50=$(echo "$stats" | grep -o 'p50 [0-9.]*' | grep -o '[0-9.]*$' || echo -)
  p99=$(echo "$stats" | grep -o 'p99 [0-9.]*' | grep -o '[0-9.]*$' || echo -)
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$(ms $best_b)" "$(ms $best_a)" \
    "$(python3 -c "print(f'{$best_a/$best_b:.2f}')")" "$ups" "$osr" "$p50" "$p99"
done
echo
echo "best of $RUNS runs, wall clock; latency: from the policy queueing a function to its code being installed."
