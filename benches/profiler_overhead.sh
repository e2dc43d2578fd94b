#!/usr/bin/env bash
# Profiler overhead: each benchmark with profiling off, at 1 kHz and at
# 10 kHz, with each sampling engine, best of RUNS (default 9) interleaved
# runs, wall clock, in one tier (TIER, default baseline). Prints a markdown
# table of overheads, then what one signal costs the sampled thread on
# this machine (profiler/examples/signal_cost.rs), which bounds them below.
#   benches/profiler_overhead.sh [NAME...]
# ENGINES="sampler-thread thread-timers" (default both) picks the engines.
#
# Best-of rather than median: some benchmarks (nbody) run 2x slower in
# some runs depending on where ASLR puts the mappings (seen with profiling
# on and off alike); the best run of each configuration is the one without
# that.
set -euo pipefail
# Cold runs: no code cache (benches/cache.sh measures warm ones).
export TIERJIT_CODE_CACHE=off
cd "$(dirname "$0")/.."
if ! command -v python3 >/dev/null; then
  echo "profiler_overhead.sh: needs python3 for timing; skipped" >&2
  exit 0
fi
RUNS=${RUNS:-9}
TIER=${TIER:-baseline}
ENGINES=${ENGINES:-sampler-thread thread-timers}
. benches/common.sh "$@"
prof=$(mktemp -d)
trap 'rm -rf "$prof"' EXIT

BIN="$BIN" RUNS="$RUNS" TIER="$TIER" ENGINES="$ENGINES" PROF="$prof/p.tjprof" \
python3 - "${names[@]}" <<'EOF'
import math, os, subprocess, sys, time

bin_, runs, tier = os.environ["BIN"], int(os.environ["RUNS"]), os.environ["TIER"]
engines, prof = os.environ["ENGINES"].split(), os.environ["PROF"]
configs = [("off", [])]
for engine in engines:
    for hz in (1000, 10000):
        configs.append((f"{engine} {hz // 1000} kHz",
                        ["--profile", prof, "--profile-engine", engine, "--profile-hz", str(hz)]))

def run(args, name):
    start = time.perf_counter()
    subprocess.run([bin_, "run", "--tier", tier] + args + [f"benches/tj/{name}.tj"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start

print("| benchmark | off (s) | " + " | ".join(c for c, _ in configs[1:]) + " |")
print("| --- | ---: | " + " | ".join("---:" for _ in configs[1:]) + " |")
logs = [0.0] * len(configs)
for name in sys.argv[1:]:
    best = [math.inf] * len(configs)
    for _ in range(runs):
        for i, (_, args) in enumerate(configs):
            best[i] = min(best[i], run(args, name))
    cells = [f"{(b / best[0] - 1) * 100:+.1f}%" for b in best[1:]]
    for i, b in enumerate(best):
        logs[i] += math.log(b / best[0])
    print(f"| {name} | {best[0]:.3f} | " + " | ".join(cells) + " |", flush=True)
n = len(sys.argv) - 1
print("| geomean | | " + " | ".join(f"{(math.exp(l / n) - 1) * 100:+.1f}%" for l in logs[1:]) + " |")
print()
print(f"tier {tier}, best of {runs} interleaved runs, wall clock; profile written to a temp file.")
EOF

echo
cargo run --release --quiet -p tierjit-profiler --example signal_cost 1000 5
echo
cargo run --release --quiet -p tierjit-profiler --example signal_cost 10000 5
