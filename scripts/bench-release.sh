#!/usr/bin/env bash
# Release benchmark (see BENCHMARKS.md): Folio with 100,000 held jobs from 10,000 users (file
# directory with their badges), one raw-9100 device played by `folio-bench release` itself, then
#   - badge session start latency (p50/p99),
#   - release request -> first document byte at the copier (p50/p99),
#   - ten jobs released at once -> all ten at the copier.
# Usage: scripts/bench-release.sh [HELD_JOBS] [USERS]   (default 100000 10000)
set -euo pipefail
# Everything runs on loopback here: the client may name its users, and the copier is allowed
# (a site lists its own print servers and copier networks instead; docs/security.md).
export FOLIO_IPP__TRUSTED_NETWORKS=127.0.0.0/8 FOLIO_DEVICES__ALLOWED_NETWORKS=127.0.0.0/8 \
  FOLIO_DEVICES__ALLOWED_PORTS=1-65535 FOLIO_DIRECTORY__BADGE_REQUIRES_PIN=false
cd "$(dirname "${BASH_SOURCE[0]}")/.."
JOBS=${1:-100000}
USERS=${2:-10000}
cargo build --release --quiet -p folio -p folio-bench
BIN=target/release/folio
BENCH=target/release/folio-bench
DATA=$(mktemp -d /tmp/folio-bench-release.XXXXXX)
trap 'kill $PID 2>/dev/null || true; rm -rf "$DATA"' EXIT
"$BENCH" directory --users "$USERS" --write-ldif "$DATA/directory.ldif"
"$BIN" serve --listen 127.0.0.1:0 --data-dir "$DATA" > "$DATA/out" 2> "$DATA/err" &
PID=$!
until grep -q 'listening on' "$DATA/out" 2>/dev/null; do sleep 0.05; done
ADDR=$(sed -n 's/^listening on //p' "$DATA/out")
SINK=$((20000 + RANDOM % 20000))
TOKEN=$("$BIN" device add --json --data-dir "$DATA" --name bench-copier \
  --uri "socket://127.0.0.1:$SINK" --driver generic-pjl-pdf | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
echo "machine: $(nproc) cores; $(uname -r); $(date -u +%F)"
echo "filling: $JOBS held jobs from $USERS users"
"$BENCH" intake --server "$ADDR" --jobs "$JOBS" --clients 8 --users "$USERS"
"$BENCH" release --server "$ADDR" --token "$TOKEN" --sink-port "$SINK" --users "$USERS" --samples 300
