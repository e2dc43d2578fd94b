# Sourced by the benchmark scripts run from the project root: sets BIN (the
# tierjit binary: $TIERJIT_BIN, or a release build made now) and names
# (the benchmarks given as arguments, or all of them).
#   . benches/common.sh "$@"
BIN=${TIERJIT_BIN:-target/release/tierjit}
# Cold runs: no code cache (benches/cache.sh measures warm ones).
export TIERJIT_CODE_CACHE=off
if [ -z "${TIERJIT_BIN:-}" ]; then
  cargo build --release --quiet
fi
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  names=(fib sieve nbody spectralnorm mandelbrot matmul fannkuch quicksort)
fi
