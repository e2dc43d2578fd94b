#!/usr/bin/env bash
# Times the bf example host (examples/bf.rs, Brainfuck lowered to tierjit
# bytecode) against its peer, a plain switch-loop Brainfuck interpreter in
# C (benches/c/bf.c, built with -O2), on a loop-heavy program
# (benches/bf/primes.b: about 1.5 s in the C peer); checks that both print
# the same; prints a markdown table of the best wall-clock time of each
# and how many times faster than the C peer each tier of the example is.
#
# usage: benches/bf.sh [PROGRAM.b]
#
# environment:
#   RUNS=5              runs of each; the best time counts
#   TIERS="auto opt"    tiers of the example to time (--tier NAME), separated
#                       by spaces or commas
#   CC=gcc              the C compiler (missing: only the example is timed)
#   CARGO_TARGET_DIR    where cargo builds (default: target/)
#
# The table goes to stdout; progress and diagnostics go to stderr. The exit
# status is non-zero if a run failed or printed something other than the
# C peer's output.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$script_dir/.." && pwd)
cd "$root"

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

die() {
    echo "bf.sh: $*" >&2
    exit 64
}

program=benches/bf/primes.b
case ${1:-} in
    -h | --help)
        usage
        exit 0
        ;;
    -*) die "unknown option $1 (see --help)" ;;
    "") ;;
    *) program=$1 ;;
esac
[[ $# -le 1 ]] || die "one program at most (see --help)"
[[ -r $program ]] || die "cannot read $program"

RUNS=${RUNS:-5}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, not '$RUNS'"
tiers_str=${TIERS:-auto opt}
tiers=()
for t in ${tiers_str//,/ }; do
    tiers+=("$t")
done
[[ ${#tiers[@]} -gt 0 ]] || die "TIERS is empty"

# Sets NOW to a wall-clock time in microseconds: bash 5's $EPOCHREALTIME
# (no fork), else date +%s%N.
if [[ -n ${EPOCHREALTIME:-} ]]; then
    now_us() { NOW=${EPOCHREALTIME//[!0-9]/}; NOW=$((10#$NOW)); }
else
    now_us() { NOW=$(($(date +%s%N) / 1000)); }
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tierjit-bf.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# ---- building -----------------------------------------------------------

target=${CARGO_TARGET_DIR:-$root/target}
echo "building the example (cargo build --release --example bf)..." >&2
cargo build --release --example bf >&2
bf=$target/release/examples/bf

impls=()
for t in "${tiers[@]}"; do
    impls+=("bf-$t")
done
cc=${CC:-gcc}
note=""
if command -v "$cc" >/dev/null 2>&1; then
    mkdir -p "$target/bench-c"
    echo "building the C peer with $cc -O2 into $target/bench-c/bf..." >&2
    "$cc" -O2 -o "$target/bench-c/bf" benches/c/bf.c
    # First, so that its output is the reference.
    impls=(C "${impls[@]}")
else
    note="skipped: the C peer, $cc not installed (apt-get install gcc): no ratios"
    echo "$note" >&2
fi

# Sets CMD to the command line of implementation $1.
command_for() {
    case $1 in
        C) CMD=("$target/bench-c/bf" "$program") ;;
        bf-*) CMD=("$bf" --tier "${1#bf-}" "$program") ;;
        *) die "internal: unknown implementation $1" ;;
    esac
}

# ---- running ------------------------------------------------------------

failed=0
ref=""
declare -A best=()
for impl in "${impls[@]}"; do
    command_for "$impl"
    out=$tmp/$impl.out
    err=$tmp/$impl.err
    best_us=""
    for ((run = 1; run <= RUNS; run++)); do
        now_us
        start=$NOW
        if "${CMD[@]}" </dev/null >"$out" 2>"$err"; then
            status=0
        else
            status=$?
        fi
        now_us
        if [[ $status != 0 ]]; then
            echo "FAIL: $impl exited with status $status: ${CMD[*]}" >&2
            sed 's/^/    /' "$err" >&2
            failed=1
            best_us=FAIL
            break
        fi
        if [[ -z $ref ]]; then
            ref=$tmp/ref.out
            cp "$out" "$ref"
        elif ! cmp -s "$ref" "$out"; then
            echo "FAIL: $impl prints something else than ${impls[0]}: ${CMD[*]}" >&2
            diff -u --label "${impls[0]}" --label "$impl" "$ref" "$out" | head -20 >&2 || true
            failed=1
            best_us=WRONG
            break
        fi
        us=$((NOW - start))
        if [[ -z $best_us || $us -lt $best_us ]]; then
            best_us=$us
        fi
    done
    best[$impl]=$best_us
    if [[ $best_us =~ ^[0-9]+$ ]]; then
        printf '%-12s %8.3f s\n' "$impl" "$(awk -v u="$best_us" 'BEGIN { print u / 1e6 }')" >&2
    fi
done

# ---- the table ----------------------------------------------------------

# Seconds, or the failure.
seconds() {
    if [[ $1 =~ ^[0-9]+$ ]]; then awk -v u="$1" 'BEGIN { printf "%.3f", u / 1e6 }'; else printf '%s' "$1"; fi
}

header="| program |"
rule="| --- |"
row="| $(basename "$program") |"
for impl in "${impls[@]}"; do
    header+=" $impl (s) |"
    rule+=" ---: |"
    row+=" $(seconds "${best[$impl]}") |"
done
if [[ -v "best[C]" ]]; then
    for t in "${tiers[@]}"; do
        header+=" C / bf-$t |"
        rule+=" ---: |"
        c=${best[C]} b=${best[bf-$t]}
        if [[ $c =~ ^[0-9]+$ && $b =~ ^[0-9]+$ ]]; then
            row+=" $(awk -v c="$c" -v b="$b" 'BEGIN { printf "%.2f", c / (b < 1 ? 1 : b) }') |"
        else
            row+=" - |"
        fi
    done
fi

echo
echo "bf example against the C peer: best of $RUNS runs, wall-clock seconds;"
echo "C / bf-TIER is how many times faster than the C peer the example runs."
echo
echo "$header"
echo "$rule"
echo "$row"
if [[ -n $note ]]; then
    echo
    echo "- $note"
fi

if [[ $failed != 0 ]]; then
    echo >&2
    echo "bf.sh: FAILED: some runs failed or disagree (see above)" >&2
    exit 1
fi
