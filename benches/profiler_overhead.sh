#!/usr/bin/env bash
# Profiler overhead: each benchmark with profiling off, at 1 kHz and at
# 10 kHz, best of RUNS (default 5) interleaved runs, in one tier (TIER,
# default baseline). Prints a markdown table of times and overheads.
#   benches/profiler_overhead.sh [NAME...]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
TIER=${TIER:-baseline}
BIN=${TIERJIT_BIN:-target/release/tierjit}
if [ -z "${TIERJIT_BIN:-}" ]; then
  cargo build --release --quiet
fi
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  names=(fib sieve nbody spectralnorm mandelbrot matmul fannkuch quicksort)
fi
prof=$(mktemp -d)
trap 'rm -rf "$prof"' EXIT

now_ns() { date +%s%N; }

# time_run ARGS... : prints milliseconds of one run
time_run() {
  local s e
  s=$(now_ns)
  "$BIN" "$@" >/dev/null 2>&1
  e=$(now_ns)
  echo $(( (e - s) / 1000 ))
}

printf '| benchmark | off (s) | 1 kHz (s) | 10 kHz (s) | overhead 1 kHz | overhead 10 kHz |\n'
printf '| --- | ---: | ---: | ---: | ---: | ---: |\n'
sum1=0; sum10=0; n=0
for name in "${names[@]}"; do
  file=benches/tj/$name.tj
  best_off=999999999; best_1k=999999999; best_10k=999999999
  for _ in $(seq "$RUNS"); do
    t=$(time_run run --tier "$TIER" "$file"); [ "$t" -lt "$best_off" ] && best_off=$t
    t=$(time_run run --tier "$TIER" --profile "$prof/p.tjprof" --profile-hz 1000 "$file"); [ "$t" -lt "$best_1k" ] && best_1k=$t
    t=$(time_run run --tier "$TIER" --profile "$prof/p.tjprof" --profile-hz 10000 "$file"); [ "$t" -lt "$best_10k" ] && best_10k=$t
  done
  o1=$(python3 -c "print(f'{($best_1k/$best_off-1)*100:+.1f}%')")
  o10=$(python3 -c "print(f'{($best_10k/$best_off-1)*100:+.1f}%')")
  printf '| %s | %.3f | %.3f | %.3f | %s | %s |\n' "$name" \
    "$(python3 -c "print($best_off/1e6)")" "$(python3 -c "print($best_1k/1e6)")" "$(python3 -c "print($best_10k/1e6)")" "$o1" "$o10"
  sum1=$(python3 -c "import math; print($sum1 + math.log($best_1k/$best_off))")
  sum10=$(python3 -c "import math; print($sum10 + math.log($best_10k/$best_off))")
  n=$((n + 1))
done
printf '| geomean | | | | %s | %s |\n' \
  "$(python3 -c "import math; print(f'{(math.exp($sum1/$n)-1)*100:+.1f}%')")" \
  "$(python3 -c "import math; print(f'{(math.exp($sum10/$n)-1)*100:+.1f}%')")"
echo
echo "tier $TIER, best of $RUNS interleaved runs, wall clock; profile written to a temp file."
