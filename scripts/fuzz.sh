#!/usr/bin/env bash
# Fuzzing (see BENCHMARKS.md): builds the targets in fuzz/ with libFuzzer's coverage
# instrumentation on the stable toolchain (no cargo-fuzz and no nightly needed: without a
# sanitizer no -Z flag is involved; Rust's own checks, debug assertions and overflow checks
# stand in for one), then runs each target for SECONDS on its corpus. The committed corpus
# (fuzz/corpus/TARGET) is read; new inputs go to fuzz/target/corpus-work/TARGET. A crash fails
# the script and leaves the input in fuzz/artifacts/TARGET/. Targets run side by side, one per
# core.
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]   (default: 60 s for every target)
#        FUZZ_RUNS=N scripts/fuzz.sh 0 ipp_decode   (N executions instead of a time limit)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../fuzz"

SECONDS_EACH=${1:-60}
shift || true
if [ "$#" -gt 0 ]; then
  TARGETS=("$@")
else
  mapfile -t TARGETS < <(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^folio-fuzz$')
fi

TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
# The flags cargo-fuzz passes for a sanitizer-free build; --target keeps them off build scripts.
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cllvm-args=-sanitizer-coverage-stack-depth \
--cfg fuzzing -Cdebug-assertions -Coverflow-checks"
echo "fuzz.sh: building ${TARGETS[*]}"
build_args=()
for t in "${TARGETS[@]}"; do build_args+=(--bin "$t"); done
cargo build --release --target "$TRIPLE" "${build_args[@]}"

limit=(-max_total_time="$SECONDS_EACH")
if [ -n "${FUZZ_RUNS:-}" ]; then limit=(-runs="$FUZZ_RUNS"); fi
if [ -n "${FUZZ_RUNS:-}" ]; then what="$FUZZ_RUNS runs"; else what="$SECONDS_EACH s"; fi

# One target per core at a time (FUZZ_PARALLEL to change it): each fuzzer is one busy process.
PARALLEL=${FUZZ_PARALLEL:-$(nproc)}
run_target() {
  local t=$1 rc=0
  local work="target/corpus-work/$t"
  mkdir -p "$work" "artifacts/$t" "corpus/$t"
  "target/$TRIPLE/release/$t" "${limit[@]}" -max_len=65536 -rss_limit_mb=4096 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="artifacts/$t/" "$work" "corpus/$t" \
    > "target/fuzz-$t.log" 2>&1 || rc=$?
  echo "$rc" > "target/fuzz-$t.rc"
}
for t in "${TARGETS[@]}"; do
  echo "fuzz.sh: $t ($what)"
  rm -f "target/fuzz-$t.rc"
  run_target "$t" &
  while [ "$(jobs -rp | wc -l)" -ge "$PARALLEL" ]; do wait -n || true; done
done
wait

failed=()
for t in "${TARGETS[@]}"; do
  log="target/fuzz-$t.log"
  rc=$(cat "target/fuzz-$t.rc" 2>/dev/null || echo 1)
  echo "fuzz.sh: $t"
  grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|INFO: seed|INFO: Seed)' "$log" || true
  if [ "$rc" -ne 0 ]; then
    tail -40 "$log" >&2
    echo "fuzz.sh: $t FAILED (exit $rc): the input is in fuzz/artifacts/$t/" >&2
    failed+=("$t")
  fi
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz.sh: crashes in ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: no crash in ${TARGETS[*]}"
