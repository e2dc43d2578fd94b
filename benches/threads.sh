#!/usr/bin/env bash
# Thread costs: spawning and joining 10,000 threads (a chain, each joining
# the one before; a nested tree, each spawning one and joining it) and a
# binary tree of 16,383 threads, in each tier (TIERS, default "interp
# baseline opt auto"), median of RUNS (default 5) interleaved runs, wall
# clock. Prints a markdown table. The goal (issue 13): every cell under
# 2 s on this project's 2-core machine.
#   benches/threads.sh
set -euo pipefail
# Cold runs: no code cache (benches/cache.sh measures warm ones).
export TIERJIT_CODE_CACHE=off
cd "$(dirname "$0")/.."
if ! command -v python3 >/dev/null; then
  echo "threads.sh: needs python3 for timing; skipped" >&2
  exit 0
fi
RUNS=${RUNS:-5}
TIERS=${TIERS:-interp baseline opt auto}
. benches/common.sh

BIN="$BIN" RUNS="$RUNS" TIERS="$TIERS" python3 - <<'PY'
import os, statistics, subprocess, sys, time

bin_, runs, tiers = os.environ["BIN"], int(os.environ["RUNS"]), os.environ["TIERS"].split()
workloads = [
    ("chain of 10,000", "tests/limits/join_chain.tj", "10000", "10000"),
    ("nested tree of 10,000", "tests/limits/spawn_tree.tj", "10000", "10000"),
    ("binary tree of 16,383", "tests/limits/spawn_binary_tree.tj", "13", "8192"),
]
times = {}
for _ in range(runs):
    for name, program, arg, expected in workloads:
        for tier in tiers:
            start = time.perf_counter()
            out = subprocess.run([bin_, "run", "--tier", tier, program, arg],
                                 capture_output=True, text=True)
            took = time.perf_counter() - start
            if out.returncode != 0 or out.stdout.strip() != expected:
                sys.exit(f"{name} --tier {tier}: status {out.returncode}: {out.stdout}{out.stderr}")
            times.setdefault((name, tier), []).append(took)
print("| workload | " + " | ".join(tiers) + " |")
print("| --- |" + " ---: |" * len(tiers))
for name, *_ in workloads:
    cells = [f"{statistics.median(times[(name, t)]):.2f} s" for t in tiers]
    print(f"| {name} | " + " | ".join(cells) + " |")
PY
