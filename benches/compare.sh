#!/usr/bin/env bash
# Runs the benchmark suite: every benches/tj/NAME.tj under tierjit (once per
# tier) and the same algorithm in C, Lua 5.4 and Python 3; checks that all of
# them print exactly the same output; prints a markdown table of the best
# wall-clock time of each and the ratios of tierjit to C and to Lua.
#
# usage: benches/compare.sh [--quick] [NAME...]
#
#   --quick   small sizes, for a smoke test (seconds, not minutes)
#   NAME...   run only these benchmarks (default: all)
#
# environment:
#   TIERS="interp baseline opt"
#                       tierjit tiers to run (--tier NAME), separated by
#                       spaces or commas; TIERS=none runs only the peers
#   RUNS=3              runs per implementation; the best time counts
#   SKIP_PYTHON=1       do not run the Python versions (they take minutes)
#   SKIP_LUA=1          do not run the Lua versions
#   TIERJIT_BIN=path    use this tierjit binary instead of building one
#   CC=gcc              the C compiler
#
# The table goes to stdout; progress and diagnostics go to stderr. The exit
# status is non-zero if any implementation failed or printed something other
# than the reference output (C's, or else the first implementation's).
set -euo pipefail
# Cold runs: no code cache (benches/cache.sh measures warm ones).
export TIERJIT_CODE_CACHE=off

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$script_dir/.." && pwd)
cd "$root"

ALL=(fib sieve nbody spectralnorm mandelbrot matmul fannkuch quicksort)
# Default sizes: C -O2 takes roughly 0.02-0.2 s on each. Keep in sync with the
# defaults in the programs themselves.
declare -A DEFAULT_SIZE=(
    [fib]=35 [sieve]=1000000 [nbody]=1000000 [spectralnorm]=1000
    [mandelbrot]=1000 [matmul]=500 [fannkuch]=10 [quicksort]=1000000
)
declare -A QUICK_SIZE=(
    [fib]=20 [sieve]=10000 [nbody]=1000 [spectralnorm]=100
    [mandelbrot]=100 [matmul]=40 [fannkuch]=7 [quicksort]=10000
)

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

die() {
    echo "compare.sh: $*" >&2
    exit 64
}

quick=0
names=()
for a in "$@"; do
    case $a in
        --quick) quick=1 ;;
        -h | --help)
            usage
            exit 0
            ;;
        -*) die "unknown option $a (see --help)" ;;
        *)
            [[ -v "DEFAULT_SIZE[$a]" ]] || die "unknown benchmark '$a' (have: ${ALL[*]})"
            names+=("$a")
            ;;
    esac
done
if [[ ${#names[@]} -eq 0 ]]; then
    names=("${ALL[@]}")
fi

RUNS=${RUNS:-3}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, not '$RUNS'"
tiers_str=${TIERS:-interp baseline opt}
tiers=()
for t in ${tiers_str//,/ }; do
    [[ $t == none ]] || tiers+=("$t")
done

# Sets NOW to a wall-clock time in microseconds: bash 5's $EPOCHREALTIME
# (no fork), else date +%s%N, else perl.
if [[ -n ${EPOCHREALTIME:-} ]]; then
    now_us() { NOW=${EPOCHREALTIME//[!0-9]/}; NOW=$((10#$NOW)); }
elif [[ $(date +%N) =~ ^[0-9]+$ ]]; then
    now_us() { NOW=$(($(date +%s%N) / 1000)); }
else
    now_us() { NOW=$(perl -MTime::HiRes=time -e 'printf "%d\n", time() * 1e6'); }
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tierjit-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# ---- the implementations ------------------------------------------------

impls=()      # labels, in column order
notes=()      # "skipped: ..." lines, repeated under the table

if [[ ${#tiers[@]} -gt 0 ]]; then
    if [[ -n ${TIERJIT_BIN:-} ]]; then
        tierjit=$TIERJIT_BIN
        [[ -x $tierjit ]] || die "TIERJIT_BIN=$tierjit is not an executable"
    else
        echo "building tierjit (cargo build --release)..." >&2
        cargo build --release >&2
        tierjit=$root/target/release/tierjit
    fi
    for t in "${tiers[@]}"; do
        impls+=("tierjit-$t")
    done
else
    notes+=("skipped: tierjit (TIERS=none)")
fi

cc=${CC:-gcc}
if command -v "$cc" >/dev/null 2>&1; then
    cdir=$root/target/bench-c
    mkdir -p "$cdir"
    echo "building C benchmarks with $cc -O2 -ffp-contract=off into target/bench-c/..." >&2
    for name in "${names[@]}"; do
        "$cc" -O2 -ffp-contract=off -o "$cdir/$name" "benches/c/$name.c" -lm
    done
    impls+=(C)
else
    notes+=("skipped: C, $cc not installed (apt-get install gcc)")
fi

lua=""
if [[ ${SKIP_LUA:-0} == 1 ]]; then
    notes+=("skipped: Lua (SKIP_LUA=1)")
elif command -v lua5.4 >/dev/null 2>&1; then
    lua=lua5.4
elif command -v lua >/dev/null 2>&1 && lua -v 2>&1 | grep -q '^Lua 5\.4'; then
    lua=lua
else
    notes+=("skipped: lua5.4 not installed (apt-get install lua5.4)")
fi
if [[ -n $lua ]]; then
    impls+=(Lua)
fi

if [[ ${SKIP_PYTHON:-0} == 1 ]]; then
    notes+=("skipped: Python (SKIP_PYTHON=1)")
elif command -v python3 >/dev/null 2>&1; then
    # The real interpreter, not a version-manager shim (pyenv's costs ~0.1 s
    # per start).
    python=$(python3 -c 'import sys; print(sys.executable)')
    impls+=(Python)
else
    notes+=("skipped: python3 not installed (apt-get install python3)")
fi

for n in "${notes[@]}"; do
    echo "$n" >&2
done
[[ ${#impls[@]} -gt 0 ]] || die "nothing to run"

# Sets CMD to the command line that runs implementation $1 on benchmark $2
# with size $3.
command_for() {
    local impl=$1 name=$2 size=$3
    case $impl in
        tierjit-*) CMD=("$tierjit" run --tier "${impl#tierjit-}" "benches/tj/$name.tj" "$size") ;;
        C) CMD=("$cdir/$name" "$size") ;;
        Lua) CMD=("$lua" "benches/lua/$name.lua" "$size") ;;
        Python) CMD=("$python" "benches/python/$name.py" "$size") ;;
        *) die "internal: unknown implementation $impl" ;;
    esac
}

# ---- running ------------------------------------------------------------

# Prints a tab and the ratio of two times in microseconds, or "-".
ratio() {
    if [[ $1 =~ ^[0-9]+$ && $2 =~ ^[0-9]+$ ]]; then
        awk -v a="$1" -v b="$2" 'BEGIN { if (b < 1) b = 1; if (a < 1) a = 1; printf "\t%.2f", a / b }'
    else
        printf '\t-'
    fi
}

# C runs first so that its output is the reference.
run_order=()
for impl in "${impls[@]}"; do
    if [[ $impl == C ]]; then run_order=(C "${run_order[@]}"); else run_order+=("$impl"); fi
done

failed=0
table=$tmp/table.tsv

{
    printf 'benchmark\tsize'
    for impl in "${impls[@]}"; do
        printf '\t%s (s)' "$impl"
    done
    for t in "${tiers[@]}"; do
        if [[ " ${impls[*]} " == *" C "* ]]; then printf '\t%s / C' "$t"; fi
        if [[ -n $lua ]]; then printf '\t%s / Lua' "$t"; fi
    done
    printf '\n'
} >"$table"

for name in "${names[@]}"; do
    if [[ $quick == 1 ]]; then
        size=${QUICK_SIZE[$name]}
    else
        size=${DEFAULT_SIZE[$name]}
    fi
    ref=""
    ref_label=""
    unset best
    declare -A best=()
    for impl in "${run_order[@]}"; do
        command_for "$impl" "$name" "$size"
        out=$tmp/$name.$impl.out
        err=$tmp/$name.$impl.err
        best_us=""
        for ((run = 1; run <= RUNS; run++)); do
            now_us
            start=$NOW
            if "${CMD[@]}" >"$out" 2>"$err"; then
                status=0
            else
                status=$?
            fi
            now_us
            end=$NOW
            if [[ $status != 0 ]]; then
                echo "FAIL $name: $impl exited with status $status: ${CMD[*]}" >&2
                sed 's/^/    /' "$err" >&2
                failed=1
                best_us=FAIL
                break
            fi
            if [[ -z $ref ]]; then
                ref=$tmp/$name.ref
                cp "$out" "$ref"
                ref_label=$impl
            elif ! cmp -s "$ref" "$out"; then
                echo "FAIL $name: $impl prints something else than $ref_label: ${CMD[*]}" >&2
                diff -u --label "$ref_label" --label "$impl" "$ref" "$out" >&2 || true
                failed=1
                best_us=WRONG
                break
            fi
            us=$((end - start))
            if [[ -z $best_us || $us -lt $best_us ]]; then
                best_us=$us
            fi
        done
        best[$impl]=$best_us
        if [[ $best_us =~ ^[0-9]+$ ]]; then
            printf '%-13s %-16s %8.3f s   %s\n' "$name" "$impl" "$(awk -v u="$best_us" 'BEGIN { print u / 1e6 }')" \
                "$(tr '\n' ' ' <"$out")" >&2
        fi
    done

    {
        printf '%s\t%s' "$name" "$size"
        for impl in "${impls[@]}"; do
            v=${best[$impl]}
            if [[ $v =~ ^[0-9]+$ ]]; then
                awk -v u="$v" 'BEGIN { printf "\t%.3f", u / 1e6 }'
            else
                printf '\t%s' "$v"
            fi
        done
        for t in "${tiers[@]}"; do
            if [[ -v "best[C]" ]]; then ratio "${best[tierjit-$t]}" "${best[C]}"; fi
            if [[ -n $lua ]]; then ratio "${best[tierjit-$t]}" "${best[Lua]}"; fi
        done
        printf '\n'
    } >>"$table"
done

# ---- the table ----------------------------------------------------------

echo
if [[ $quick == 1 ]]; then
    echo "tierjit benchmarks (--quick sizes): best of $RUNS runs, wall-clock seconds; ratios are tierjit time / peer time."
else
    echo "tierjit benchmarks: best of $RUNS runs, wall-clock seconds; ratios are tierjit time / peer time."
fi
echo
# Pads every column to its widest cell, right-aligns all but the first, and
# appends a geometric-mean row for the ratio columns (headers with " / ").
awk -F '\t' '
    NR == 1 { ncol = NF }
    {
        for (i = 1; i <= NF; i++) {
            cell[NR, i] = $i
            if (length($i) > w[i]) w[i] = length($i)
        }
        if (NR > 1) for (i = 1; i <= NF; i++) {
            if (cell[1, i] ~ / \/ / && $i ~ /^[0-9.]+$/ && $i > 0) { logsum[i] += log($i); cnt[i]++ }
        }
        rows = NR
    }
    END {
        nratio = 0
        for (i = 2; i <= ncol; i++) if (cell[1, i] ~ / \/ /) nratio++
        if (nratio > 0) rows++
        cell[rows, 1] = (nratio > 0) ? "geomean" : cell[rows, 1]
        for (i = 2; i <= ncol && nratio > 0; i++) {
            cell[rows, i] = (cnt[i] > 0) ? sprintf("%.2f", exp(logsum[i] / cnt[i])) : ""
            if (length(cell[rows, i]) > w[i]) w[i] = length(cell[rows, i])
        }
        if (length("geomean") > w[1]) w[1] = length("geomean")
        for (r = 1; r <= rows; r++) {
            line = "|"
            for (i = 1; i <= ncol; i++) {
                if (i == 1) line = line sprintf(" %-" w[i] "s |", cell[r, i])
                else line = line sprintf(" %" w[i] "s |", cell[r, i])
            }
            print line
            if (r == 1) {
                line = "|"
                for (i = 1; i <= ncol; i++) {
                    dashes = ""
                    for (k = 0; k < w[i]; k++) dashes = dashes "-"
                    if (i == 1) line = line " " dashes " |"
                    else line = line " " substr(dashes, 2) ": |"
                }
                print line
            }
        }
    }
' "$table"
if [[ ${#notes[@]} -gt 0 ]]; then
    echo
    for n in "${notes[@]}"; do
        echo "- $n"
    done
fi

if [[ $failed != 0 ]]; then
    echo >&2
    echo "compare.sh: FAILED: some implementations failed or disagree (see above)" >&2
    exit 1
fi
