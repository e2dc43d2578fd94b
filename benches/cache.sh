#!/usr/bin/env bash
# The code cache, cold against warm. For each benchmark, best of RUNS
# (default 5) interleaved runs of
#   opt   --tier opt --no-code-cache (eager: everything optimized first)
#   cold  --tier auto --no-code-cache
#   warm  --tier auto, with a cache that two earlier runs filled
# and, from --tier-stats, when the last function of the run first had
# optimized code (cold, warm), what the warm run compiled, and how long
# its cache load took. Then:
#   - load time per MiB: a generated program of FUNCS (default 2000)
#     functions, cached by a --tier opt run, loaded by a warm one;
#   - PSS: two concurrent warm runs of that program, and how much of the
#     cache file's mapping each is charged (shared pages count half);
#   - with CALLGRIND=1 (and valgrind installed), instructions executed by
#     eager opt and by a warm run of each benchmark at a small size: a
#     count that, unlike wall time, this noisy machine does not blur.
#   benches/cache.sh [NAME...]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
FUNCS=${FUNCS:-2000}
. benches/common.sh "$@"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tierjit-cache-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
BIN="$BIN" RUNS="$RUNS" FUNCS="$FUNCS" TMP="$tmp" CALLGRIND="${CALLGRIND:-0}" python3 - "${names[@]}" <<'PY'
import os, re, subprocess, sys, time

BIN, RUNS, FUNCS, TMP = os.environ["BIN"], int(os.environ["RUNS"]), int(os.environ["FUNCS"]), os.environ["TMP"]

def run(args):
    t = time.perf_counter()
    p = subprocess.run([BIN, "run", *args], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{args}: status {p.returncode}: {p.stderr}")
    return time.perf_counter() - t, p.stderr

def stat(text, pattern, default="-"):
    m = re.search(pattern, text)
    return m.group(1) if m else default

print("| benchmark | opt (s) | cold (s) | warm (s) | warm - opt (ms) | optimized by, cold (ms) | optimized by, warm (ms) | warm compiles | cache load (ms) |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for name in sys.argv[1:]:
    f = f"benches/tj/{name}.tj"
    cache = os.path.join(TMP, name)
    for _ in range(2):
        run(["--code-cache", cache, f])
    kinds = {
        "opt": ["--tier", "opt", "--no-code-cache", f],
        "cold": ["--no-code-cache", "--tier-stats", f],
        "warm": ["--code-cache", cache, "--tier-stats", f],
    }
    best = {k: (float("inf"), "") for k in kinds}
    for _ in range(RUNS):
        for k, args in kinds.items():
            t, err = run(args)
            if t < best[k][0]:
                best[k] = (t, err)
    (opt, _), (cold, cold_err), (warm, warm_err) = best["opt"], best["cold"], best["warm"]
    print(f"| {name} | {opt:.3f} | {cold:.3f} | {warm:.3f} | {(warm - opt) * 1e3:+.1f} "
          f"| {stat(cold_err, r'the last at ([0-9.]+) ms')} | {stat(warm_err, r'the last at ([0-9.]+) ms')} "
          f"| {stat(warm_err, r'([0-9]+) tier-ups', '0')} | {stat(warm_err, r'in ([0-9.]+) ms')} |")

# A program of FUNCS functions, each with a loop, that main calls in turn.
big = os.path.join(TMP, "big.tj")
with open(big, "w") as out:
    for k in range(FUNCS):
        out.write(f"fn f{k}(n: int) -> int {{\n    let s = {k};\n    for i in 0..n {{\n"
                  f"        s = s + i * {k % 13 + 1} % 7;\n        if s > 100000 {{\n            s = s - {k};\n        }}\n    }}\n    return s;\n}}\n")
    out.write("fn main() {\n    let rounds = arg(0);\n    let total = 0;\n    for r in 0..rounds {\n")
    for k in range(FUNCS):
        out.write(f"        total = total + f{k}(r % 5);\n")
    out.write("    }\n    print(total);\n}\n")
cache = os.path.join(TMP, "big")
run(["--tier", "opt", "--code-cache", cache, big, "1"])
loads = []
for _ in range(RUNS):
    _, err = run(["--code-cache", cache, "--tier-stats", big, "1"])
    m = re.search(r"code cache: ([0-9]+) functions loaded from ([0-9]+) bytes in ([0-9.]+) ms", err)
    if not m:
        sys.exit(f"no cache load in: {err}")
    loads.append((float(m.group(3)), int(m.group(2)), int(m.group(1))))
ms, size, funcs = min(loads)
print()
print(f"load: {funcs} functions, {size / 2**20:.2f} MiB file, best of {RUNS}: {ms:.2f} ms "
      f"= {ms / (size / 2**20):.2f} ms per MiB (checking every byte, mapping, installing)")

# Two warm runs at once: what each is charged for the cache file's pages.
def smaps(pid):
    rss = pss = anon = 0
    inside = False
    with open(f"/proc/{pid}/smaps") as s:
        for line in s:
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                inside = line.rstrip().endswith(".tjc")
            elif inside and line.startswith("Rss:"):
                rss += int(line.split()[1])
            elif inside and line.startswith("Pss:"):
                pss += int(line.split()[1])
            elif inside and line.startswith("Anonymous:"):
                anon += int(line.split()[1])
    with open(f"/proc/{pid}/smaps_rollup") as s:
        total = int(re.search(r"^Pss:\s+([0-9]+)", s.read(), re.M).group(1))
    return rss, pss, anon, total

# Seconds of calls, so that both run while their maps are read (once
# the cache is mapped and its code has run a little).
rounds = str(40_000_000 // FUNCS)
procs = [subprocess.Popen([BIN, "run", "--code-cache", cache, big, rounds], stdout=subprocess.DEVNULL)
         for _ in range(2)]
deadline = time.time() + 30
while time.time() < deadline and not all(smaps(p.pid)[0] for p in procs):
    time.sleep(0.05)
time.sleep(0.2)
seen = [smaps(p.pid) for p in procs]
for p in procs:
    if p.wait() != 0:
        sys.exit("a concurrent warm run failed")
for i, (rss, pss, anon, total) in enumerate(seen):
    print(f"warm run {i + 1} of 2 at once: cache file mapping Rss {rss} KiB, Pss {pss} KiB, "
          f"copied (Anonymous) {anon} KiB; whole process Pss {total} KiB")

if os.environ["CALLGRIND"] != "1":
    sys.exit(0)
small = {"fib": 25, "sieve": 100000, "nbody": 100000, "spectralnorm": 200,
         "mandelbrot": 200, "matmul": 100, "fannkuch": 8, "quicksort": 100000}

def instructions(args):
    p = subprocess.run(["valgrind", "--tool=callgrind", "--smc-check=all",
                        f"--callgrind-out-file={TMP}/cg.out", BIN, "run", *args],
                       capture_output=True, text=True)
    m = re.search(r"refs:\s+([0-9,]+)", p.stderr)
    if not m:
        sys.exit(f"callgrind {args}: {p.stderr[-500:]}")
    return int(m.group(1).replace(",", ""))

print()
print("| benchmark (small size) | eager opt (instructions) | warm | warm / opt |")
print("| --- | ---: | ---: | ---: |")
for name in sys.argv[1:]:
    f, size = f"benches/tj/{name}.tj", str(small.get(name, 1))
    cache = os.path.join(TMP, name + "-small")
    for _ in range(2):
        run(["--code-cache", cache, f, size])
    opt = instructions(["--tier", "opt", "--no-code-cache", f, size])
    warm = instructions(["--code-cache", cache, f, size])
    print(f"| {name} ({size}) | {opt:,} | {warm:,} | {warm / opt:.3f} |")
PY
