#!/usr/bin/env bash
# Folio vs CUPS, side by side on loopback, with the same client (`folio-bench intake`), the same
# documents and the same copier (ippeveprinter), printing a Markdown table of medians.
#
# Usage (as root; installs cups, cups-client, cups-ipp-utils, cups-filters, dbus if missing):
#   bench/vs-cups.sh
# Environment (defaults in brackets; smaller numbers make a smoke run):
#   RUNS [3]         runs of each intake measure, release samples, restarts
#   JOBS [1000]      jobs per intake run
#   CLIENTS ["1 8"]  PAGES ["1 20"]   the intake matrix
#   HELD [10000]     held jobs for the memory, start-up and release measures (≥ 20 × RUNS)
#   RELEASE_TIMEOUT [60]  seconds before a release sample counts as failed
#   CUPS_WAITJOB     unset: CUPS's default IPP backend (waits for each job to end at the
#                    copier before sending the next); "false": ipp://…?waitjob=false
#   FOLIO [target/release/folio]  PYTHON [python3]
#
# Measures (each server on a fresh data directory / spool unless said):
#   intake        `folio-bench intake` Print-Job to Folio's /ipp/print and CUPS's /printers/held (every
#                 job held: job-hold-until-default=indefinite); fresh server per run. Folio
#                 answers after fsyncing each job; CUPS does not fsync (and writes the job's
#                 control file later, on its dirty-file timer or at shutdown).
#   fill          HELD jobs, 8 clients, 1 page, HELD/10 users (10 jobs each, max 1000 users).
#   RSS           VmRSS of the server process (cupsd alone: not its filters, backends or the
#                 copier) fresh with its queue/device, then with HELD held jobs, and after a
#                 restart. Per held job = (RSS at HELD − RSS fresh) / HELD.
#   stop/start    SIGTERM, time until the process exits; start, time from spawn until an IPP
#                 Get-Printer-Attributes on the queue answers successful-ok (polled every 2 ms by
#                 a poller already running, so its interpreter start is not counted).
#   release       one job, and ten jobs of one user at once, from the release request to the
#                 moment the copier reports that many new jobs completed (see
#                 vs_cups_release.py). CUPS: IPP Release-Job, back to back on one connection.
#                 Folio: REST session for the user's badge (not timed), then one release call.
#                 Both servers are let go quiet before each sample.
set -euo pipefail
# Everything runs on loopback here: the client may name its users, and the copier is allowed
# (a site lists its own print servers and copier networks instead; docs/security.md).
export FOLIO_IPP__TRUSTED_NETWORKS=127.0.0.0/8 FOLIO_DEVICES__ALLOWED_NETWORKS=127.0.0.0/8 \
  FOLIO_DEVICES__ALLOWED_PORTS=1-65535 FOLIO_DIRECTORY__BADGE_REQUIRES_PIN=false
export LC_ALL=C  # $EPOCHREALTIME and awk with a '.' decimal point

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
FOLIO=${FOLIO:-$ROOT/target/release/folio}
BENCH_CLIENT=${BENCH_CLIENT:-$ROOT/target/release/folio-bench}
PY=${PYTHON:-python3}
HELPER=$HERE/vs_cups_release.py
RUNS=${RUNS:-3}
JOBS=${JOBS:-1000}
CLIENTS=${CLIENTS:-"1 8"}
PAGES=${PAGES:-"1 20"}
HELD=${HELD:-10000}
RELEASE_TIMEOUT=${RELEASE_TIMEOUT:-60}
INTAKE_USERS=1000  # users in the directory; intake jobs cycle over them

log() { echo "[$(date +%T)] $*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (apt-get, and cupsd runs its filters as lp)"
[ -x "$FOLIO" ] || die "no Folio binary at $FOLIO (build it first, or set FOLIO)"
[ -x "$BENCH_CLIENT" ] || die "no folio-bench at $BENCH_CLIENT (cargo build --release -p folio-bench, or set BENCH_CLIENT)"
HELD_USERS=$(( HELD / 10 > 1000 ? 1000 : HELD / 10 ))
(( HELD_USERS >= 2 * RUNS )) || die "HELD=$HELD gives $HELD_USERS users of 10 jobs; need ≥ $((2 * RUNS)) (HELD ≥ $((20 * RUNS)))"

# --- packages -------------------------------------------------------------------------------
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
missing=()
# cups-filters: CUPS converts the PDF (pdftopdf) on its way to an IPP Everywhere queue.
for pkg in cups cups-client cups-ipp-utils cups-filters dbus; do
  installed "$pkg" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2
fi
command -v cupsd >/dev/null || PATH=$PATH:/usr/sbin

# --- processes and clean-up -----------------------------------------------------------------
T=$(mktemp -d /tmp/folio-vs-cups.XXXXXX)
chmod 755 "$T"  # cupsd's filters run as lp and must reach its spool under here
RESULTS=$T/results.tsv
: > "$RESULTS"
FOLIO_PID= CUPSD_PID= EVE_F_PID= EVE_C_PID= DBUS_PID= WAITER_PID=

# Stop one of our children: TERM, then KILL after 20 s; reaps it.
stop_pid() {
  local pid=$1 i
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 2000; i++)); do
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.01
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local pid
  for pid in "$WAITER_PID" "$FOLIO_PID" "$CUPSD_PID" "$EVE_F_PID" "$EVE_C_PID" "$DBUS_PID"; do
    stop_pid "$pid"
  done
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

record() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >> "$RESULTS"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
freeport() { "$PY" "$HELPER" freeport; }

# Start "$@" (stdout/stderr to $2.out/.err) and time it until $1 answers IPP. A poller is
# started and loaded first, so its own start-up is not in the measure. Sets TS_PID, TS_SECS.
timed_start() {
  local uri=$1 logf=$2 any=
  shift 2
  if [ "$1" = --any ]; then any=--any; shift; fi
  rm -f "$T/ready" "$T/waiter.out"
  "$PY" "$HELPER" wait-ready "$uri" $any --ready-file "$T/ready" --timeout 120 > "$T/waiter.out" &
  WAITER_PID=$!
  while [ ! -e "$T/ready" ]; do
    kill -0 "$WAITER_PID" 2>/dev/null || die "the IPP poller did not start"
    sleep 0.01
  done
  local t0=$EPOCHREALTIME
  "$@" > "$logf.out" 2> "$logf.err" &
  TS_PID=$!
  if ! wait "$WAITER_PID"; then
    WAITER_PID=
    tail -5 "$logf.err" >&2 || true
    stop_pid "$TS_PID"
    die "$uri did not answer"
  fi
  WAITER_PID=
  TS_SECS=$(awk -v a="$t0" -v b="$(cat "$T/waiter.out")" 'BEGIN { printf "%.3f", b - a }')
}

# SIGTERM and time until the process has exited. Sets STOP_SECS.
timed_stop() {
  local pid=$1 t0
  t0=$EPOCHREALTIME
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  STOP_SECS=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
}

# --- the copiers: one ippeveprinter per server under test ------------------------------------
# ippeveprinter needs a D-Bus bus even with -r off; a private one, never the system's.
"$(command -v dbus-daemon)" --session --address="unix:path=$T/dbus.sock" --nofork --nopidfile \
  > "$T/dbus.log" 2>&1 &
DBUS_PID=$!
for ((i = 0; i < 500; i++)); do [ -S "$T/dbus.sock" ] && break; sleep 0.01; done
[ -S "$T/dbus.sock" ] || die "dbus-daemon did not start"
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$T/dbus.sock

# -c /bin/true: without a command ippeveprinter "prints" each job by sleeping seconds; with
# one, a job completes as soon as its document is received and the command has run on it.
# -k keeps the received files in the spool. It prints one job at a time (a second Print-Job
# while one is printing is answered server-error-busy), as some copiers do.
start_copier() {  # name port -> sets COPIER_PID
  local d=$T/copier-$1
  mkdir -p "$d/spool" "$d/keys"
  timed_start "ipp://127.0.0.1:$2/ipp/print" "$d/eve" \
    ippeveprinter -p "$2" -n localhost -r off -c /bin/true -d "$d/spool" -K "$d/keys" -k \
    -f application/pdf,image/pwg-raster "Copier $1"
  COPIER_PID=$TS_PID
}
EVE_F_PORT=$(freeport)
start_copier folio "$EVE_F_PORT"; EVE_F_PID=$COPIER_PID
EVE_C_PORT=$(freeport)
start_copier cups "$EVE_C_PORT"; EVE_C_PID=$COPIER_PID
COPIER_F=ipp://127.0.0.1:$EVE_F_PORT/ipp/print
COPIER_C=ipp://127.0.0.1:$EVE_C_PORT/ipp/print

# --- a private cupsd --------------------------------------------------------------------------
# Everything under $T: never the system's /etc/cups, spool, socket or port.
C=$T/cups
mkdir -p "$C/etc" "$C/spool/tmp" "$C/cache" "$C/state" "$C/log"
CUPS_PORT=$(freeport)
cat > "$C/cupsd.conf" <<EOF
LogLevel warn
Listen 127.0.0.1:$CUPS_PORT
Browsing No
BrowseLocalProtocols none
DefaultShared No
WebInterface No
HostNameLookups Off
DefaultAuthType None
# CUPS refuses new jobs past MaxJobs (500 by default): unlimited here.
MaxJobs 0
MaxJobsPerPrinter 0
MaxJobsPerUser 0
MaxHoldTime 0
PreserveJobHistory Yes
PreserveJobFiles Yes
<Location />
  Order allow,deny
  Allow all
</Location>
# The stock policy lets only the authenticated owner or an admin release a job, and only an
# admin run lpadmin; this one lets any loopback client do anything (Folio's terminal
# authenticates with its device token instead).
<Policy default>
  JobPrivateAccess all
  JobPrivateValues none
  SubscriptionPrivateAccess all
  SubscriptionPrivateValues none
  <Limit All>
    Order deny,allow
  </Limit>
</Policy>
EOF
cat > "$C/cups-files.conf" <<EOF
ServerRoot $C/etc
RequestRoot $C/spool
TempDir $C/spool/tmp
CacheDir $C/cache
StateDir $C/state
AccessLog $C/log/access_log
ErrorLog $C/log/error_log
PageLog $C/log/page_log
SystemGroup root
FileDevice No
EOF
CUPSD=$(command -v cupsd)
cups_start() {  # [--any] -> CUPSD_PID, TS_SECS
  local uri=ipp://127.0.0.1:$CUPS_PORT/printers/held
  [ "${1:-}" = --any ] && uri=ipp://127.0.0.1:$CUPS_PORT/
  timed_start "$uri" "$C/cupsd" "$@" "$CUPSD" -f -c "$C/cupsd.conf" -s "$C/cups-files.conf"
  CUPSD_PID=$TS_PID
}
cups_stop() { timed_stop "$CUPSD_PID"; CUPSD_PID=; }
# A fresh queue: the same printer, no jobs (spool and job cache emptied while cupsd is down).
cups_fresh() {
  [ -z "$CUPSD_PID" ] || cups_stop
  find "$C/spool" -mindepth 1 -maxdepth 1 ! -name tmp -exec rm -rf {} +
  find "$C/spool/tmp" -mindepth 1 -delete
  rm -f "$C/cache"/job.cache*
  cups_start
}

cups_start --any
CUPS_DEVICE=$COPIER_C
[ -z "${CUPS_WAITJOB:-}" ] || CUPS_DEVICE="$COPIER_C?waitjob=$CUPS_WAITJOB"
# -m everywhere: lpadmin builds the PPD from the copier's own IPP attributes (driverless).
lpadmin -h "127.0.0.1:$CUPS_PORT" -p held -E -v "$CUPS_DEVICE" -m everywhere \
  -o job-hold-until-default=indefinite
cups_stop  # writes printers.conf now; every later start reuses the queue
cups_fresh

# --- Folio ------------------------------------------------------------------------------------
# The directory: user00000… with badges 04B00000…, read from DATA_DIR/directory.ldif.
"$BENCH_CLIENT" directory --users "$INTAKE_USERS" --write-ldif "$T/directory.ldif" >&2
# Start Folio on a port of its choosing (first start of a data directory) -> FOLIO_PID, FOLIO_ADDR.
folio_start_new() {
  local data=$1 i
  mkdir -p "$data"
  cp "$T/directory.ldif" "$data/directory.ldif"
  "$FOLIO" serve --listen 127.0.0.1:0 --data-dir "$data" > "$data/serve.out" 2> "$data/serve.err" &
  FOLIO_PID=$!
  for ((i = 0; i < 3000; i++)); do
    grep -q '^listening on ' "$data/serve.out" 2>/dev/null && break
    kill -0 "$FOLIO_PID" 2>/dev/null || { tail -5 "$data/serve.err" >&2; die "folio serve exited"; }
    sleep 0.01
  done
  FOLIO_ADDR=$(sed -n 's/^listening on //p' "$data/serve.out" | head -1)
  [ -n "$FOLIO_ADDR" ] || die "folio serve did not say where it listens"
  "$PY" "$HELPER" wait-ready "ipp://$FOLIO_ADDR/ipp/print" > /dev/null
}
folio_restart() {  # same data dir and address -> FOLIO_PID, TS_SECS
  timed_start "ipp://$FOLIO_ADDR/ipp/print" "$1/restart" \
    "$FOLIO" serve --listen "$FOLIO_ADDR" --data-dir "$1"
  FOLIO_PID=$TS_PID
}
folio_stop() { timed_stop "$FOLIO_PID"; FOLIO_PID=; }

# --- 1. intake --------------------------------------------------------------------------------
# Runs `folio-bench intake` and records rate, p99 and failures under the given label.
bench_one() {  # system label server path clients pages
  local system=$1 label=$2 server=$3 path=$4 clients=$5 pages=$6 out rate p99 failed
  out=$("$BENCH_CLIENT" intake --server "$server" --path "$path" --jobs "$JOBS" --clients "$clients" \
    --pages "$pages" --users "$INTAKE_USERS" 2>&1) || true
  log "  $system: $out"
  rate=$(sed -n 's/.* rate=\([0-9.]*\) jobs\/s.*/\1/p' <<< "$out")
  p99=$(sed -n 's/.* p99=\([0-9.]*\)ms.*/\1/p' <<< "$out")
  failed=$(sed -n 's/.* failed=\([0-9]*\) .*/\1/p' <<< "$out")
  record "$label (jobs/s)" "$system" "${rate:-failed}" median .0f
  record "$label, p99 (ms)" "$system" "${p99:-failed}" median .2f
  record "intake: failed jobs, all runs" "$system" "${failed:-$JOBS}" sum .0f
}
intake_folio() {
  folio_start_new "$T/folio-intake"
  bench_one folio "$1" "$FOLIO_ADDR" /ipp/print "$2" "$3"
  folio_stop
  rm -rf "$T/folio-intake"
}
intake_cups() {
  cups_fresh
  bench_one cups "$1" "127.0.0.1:$CUPS_PORT" /printers/held "$2" "$3"
}
for ((run = 1; run <= RUNS; run++)); do
  for clients in $CLIENTS; do
    for pages in $PAGES; do
      if ((clients > 1)); then label="intake, $clients clients"; else label="intake, 1 client"; fi
      label="$label, $pages-page PDF"
      log "intake run $run/$RUNS: $clients client(s), $pages page(s), $JOBS jobs"
      # Alternate which server goes first, so that neither always meets a warmer disk.
      if (( run % 2 )); then
        intake_folio "$label" "$clients" "$pages"; intake_cups "$label" "$clients" "$pages"
      else
        intake_cups "$label" "$clients" "$pages"; intake_folio "$label" "$clients" "$pages"
      fi
    done
  done
done

# --- 2. HELD held jobs: memory, stop and start ------------------------------------------------
log "filling both servers with $HELD held jobs ($HELD_USERS users, 10 jobs each)"
FDATA=$T/folio
folio_start_new "$FDATA"
TOKEN=$("$FOLIO" device add --json --data-dir "$FDATA" --name copier --uri "$COPIER_F" \
  --driver ipp-everywhere | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["token"])')
cups_fresh
RSS0_F=$(rss_kb "$FOLIO_PID"); RSS0_C=$(rss_kb "$CUPSD_PID")
for system in folio cups; do
  if [ $system = folio ]; then server=$FOLIO_ADDR path=/ipp/print; else server=127.0.0.1:$CUPS_PORT path=/printers/held; fi
  out=$("$BENCH_CLIENT" intake --server "$server" --path "$path" --jobs "$HELD" --clients 8 --pages 1 \
    --users "$HELD_USERS" 2>&1) || true
  log "  $system: $out"
  record "fill to $HELD held, 8 clients, 1 page (jobs/s)" $system \
    "$(sed -n 's/.* rate=\([0-9.]*\) jobs\/s.*/\1/p' <<< "$out")" median .0f
  record "intake: failed jobs, all runs" $system "$(sed -n 's/.* failed=\([0-9]*\) .*/\1/p' <<< "$out")" sum .0f
done
RSSN_F=$(rss_kb "$FOLIO_PID"); RSSN_C=$(rss_kb "$CUPSD_PID")
HELD_F=$("$PY" "$HELPER" folio-held "$FOLIO_ADDR")
HELD_C=$("$PY" "$HELPER" count-jobs "ipp://127.0.0.1:$CUPS_PORT/printers/held")
log "held jobs now: Folio $HELD_F, CUPS $HELD_C"
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
record "RSS fresh, 0 held (MiB)" folio "$(mib "$RSS0_F")" median .1f
record "RSS fresh, 0 held (MiB)" cups "$(mib "$RSS0_C")" median .1f
record "RSS with $HELD held (MiB)" folio "$(mib "$RSSN_F")" median .1f
record "RSS with $HELD held (MiB)" cups "$(mib "$RSSN_C")" median .1f
record "RSS per held job (bytes)" folio "$(( (RSSN_F - RSS0_F) * 1024 / HELD ))" median .0f
record "RSS per held job (bytes)" cups "$(( (RSSN_C - RSS0_C) * 1024 / HELD ))" median .0f

for ((run = 1; run <= RUNS; run++)); do
  log "restart $run/$RUNS with $HELD held jobs"
  folio_stop; record "graceful stop with $HELD held (s)" folio "$STOP_SECS" median .3f
  folio_restart "$FDATA"; record "start-up with $HELD held, to first IPP answer (s)" folio "$TS_SECS" median .3f
  cups_stop; record "graceful stop with $HELD held (s)" cups "$STOP_SECS" median .3f
  cups_start; record "start-up with $HELD held, to first IPP answer (s)" cups "$TS_SECS" median .3f
done
record "RSS just after restart, $HELD held (MiB)" folio "$(mib "$(rss_kb "$FOLIO_PID")")" median .1f
record "RSS just after restart, $HELD held (MiB)" cups "$(mib "$(rss_kb "$CUPSD_PID")")" median .1f
# Both must still hold every job after the restarts (CUPS writes its job files at shutdown).
HELD_F2=$("$PY" "$HELPER" folio-held "$FOLIO_ADDR")
HELD_C2=$("$PY" "$HELPER" count-jobs "ipp://127.0.0.1:$CUPS_PORT/printers/held")
log "held jobs after the restarts: Folio $HELD_F2, CUPS $HELD_C2"

# --- 3. release → document at the copier ------------------------------------------------------
release_sample() {  # count user-index label
  local count=$1 u=$2 label=$3 ms first second
  local badge user
  badge=$(printf '04%06X' $((0xB00000 + u)))
  user=$(printf 'user%05d' "$u")
  # Alternate which server goes first.
  if (( u % 2 )); then first=cups second=folio; else first=folio second=cups; fi
  for system in $first $second; do
    if [ $system = folio ]; then
      ms=$("$PY" "$HELPER" release-folio --server "$FOLIO_ADDR" --token "$TOKEN" --badge "$badge" \
        --count "$count" --copier "$COPIER_F" --timeout "$RELEASE_TIMEOUT") || ms=failed
    else
      ms=$("$PY" "$HELPER" release-cups --server "127.0.0.1:$CUPS_PORT" --queue held --user "$user" \
        --count "$count" --copier "$COPIER_C" --timeout "$RELEASE_TIMEOUT") || ms=failed
    fi
    log "  $system, $user: $ms ms"
    record "$label" $system "$ms" median .1f
  done
}
for ((run = 0; run < RUNS; run++)); do
  log "release of 1 job, sample $((run + 1))/$RUNS"
  release_sample 1 "$run" "release 1 job → completed at the copier (ms)"
done
for ((run = 0; run < RUNS; run++)); do
  log "release of 10 jobs at once, sample $((run + 1))/$RUNS"
  release_sample 10 "$((RUNS + run))" "release 10 jobs at once → all 10 completed at the copier (ms)"
done

# --- report -----------------------------------------------------------------------------------
echo "## Folio vs CUPS on loopback"
echo
echo "- date: $(date -u '+%F %T') UTC"
echo "- machine: $(nproc) cores, $(awk '/^MemTotal/ {printf "%.0f", $2 / 1048576}' /proc/meminfo) GiB, Linux $(uname -r)"
echo "- Folio: $("$FOLIO" --version 2>/dev/null | head -1); SQLite, fsync per job"
echo "- CUPS: cupsd $(dpkg-query -W -f='${Version}' cups) (Debian), no fsync; queue \`held\`, IPP Everywhere (-m everywhere) to ippeveprinter $(dpkg-query -W -f='${Version}' cups-ipp-utils)${CUPS_WAITJOB:+, waitjob=$CUPS_WAITJOB}"
echo "- settings: RUNS=$RUNS JOBS=$JOBS CLIENTS=\"$CLIENTS\" PAGES=\"$PAGES\" HELD=$HELD (held by $HELD_USERS users); held after the fill: Folio $HELD_F, CUPS $HELD_C; after the restarts: Folio $HELD_F2, CUPS $HELD_C2"
echo "- medians of $RUNS runs (RSS: one reading; failed jobs: the sum); Folio/CUPS > 1 means Folio's number is larger"
echo
"$PY" "$HELPER" table "$RESULTS"
