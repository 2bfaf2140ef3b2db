#!/usr/bin/env bash
# Intake benchmark (see BENCHMARKS.md): builds the release binary, starts Folio on a temporary
# data directory (SQLite, or PostgreSQL when FOLIO_DATABASE_URL is set), then measures
#   - held-job intake: jobs/s and p50/p99 latency with 1 and 8 clients (1-page PDF),
#   - resident memory (VmRSS) with 10,000 and 100,000 held jobs,
#   - start-up time with 100,000 held jobs (process start to "listening on").
# Usage: scripts/bench.sh [TOTAL_JOBS]   (default 100000)
set -euo pipefail
# Everything runs on loopback here: the client may name its users, and the copier is allowed
# (a site lists its own print servers and copier networks instead; docs/security.md).
export FOLIO_IPP__TRUSTED_NETWORKS=127.0.0.0/8 FOLIO_DEVICES__ALLOWED_NETWORKS=127.0.0.0/8 \
  FOLIO_DEVICES__ALLOWED_PORTS=1-65535 FOLIO_DIRECTORY__BADGE_REQUIRES_PIN=false
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TOTAL=${1:-100000}
cargo build --release --quiet -p folio -p folio-bench
BIN=target/release/folio
BENCH=target/release/folio-bench
DATA=$(mktemp -d /tmp/folio-bench.XXXXXX)
trap 'kill $PID 2>/dev/null || true; rm -rf "$DATA"' EXIT
# The users the jobs belong to (user00000…user09999), in the default file directory.
"$BENCH" directory --users 10000 --write-ldif "$DATA/directory.ldif"

start() {
  local t0 t1
  t0=$(date +%s.%N)
  "$BIN" serve --listen 127.0.0.1:0 --data-dir "$DATA" > "$DATA/out" 2> "$DATA/err" &
  PID=$!
  until grep -q 'listening on' "$DATA/out" 2>/dev/null; do sleep 0.005; done
  t1=$(date +%s.%N)
  ADDR=$(sed -n 's/^listening on //p' "$DATA/out")
  STARTUP=$(echo "$t1 - $t0" | bc)
}
rss_mb() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$PID/status"; }

start
echo "machine: $(nproc) cores, $(free -g | awk '/Mem/ {print $2}') GiB; $(uname -r)"
echo "fresh start-up: ${STARTUP}s, RSS $(rss_mb) MB"
echo "--- intake, 1 client (3 runs)"
for _ in 1 2 3; do "$BENCH" intake --server "$ADDR" --jobs 1000 --clients 1; done
echo "--- intake, 8 clients (3 runs)"
for _ in 1 2 3; do "$BENCH" intake --server "$ADDR" --jobs 2333 --clients 8; done
echo "held jobs: 10000, RSS $(rss_mb) MB"
"$BENCH" intake --server "$ADDR" --jobs $(( TOTAL - 10000 )) --clients 8 --users 10000
echo "held jobs: $TOTAL, RSS $(rss_mb) MB"
kill "$PID"; wait "$PID" 2>/dev/null || true
start
echo "start-up with $TOTAL held jobs: ${STARTUP}s, RSS after start $(rss_mb) MB"
echo "--- intake, 8 clients, with $TOTAL jobs already held (3 runs)"
for _ in 1 2 3; do "$BENCH" intake --server "$ADDR" --jobs 5000 --clients 8; done
