#!/usr/bin/env bash
# Directory benchmarks (see BENCHMARKS.md), against a throwaway OpenLDAP with 10,000 users
# (StartTLS with a throwaway CA, like a hospital's directory):
#   1. badge → user latency through Folio's directory service: uncached (each badge asks LDAP)
#      then cached, 8 concurrent taps;
#   2. IPP intake (8 clients, 1-page PDF) with the directory answering, then with the directory
#      hung (accepts connections, never answers), every cached user stale (cache_ttl = 1 s).
# Needs slapd, ldap-utils, openssl, python3. Usage: scripts/bench-directory.sh [USERS]
set -euo pipefail
# Everything runs on loopback here: the client may name its users, and the copier is allowed
# (a site lists its own print servers and copier networks instead; docs/security.md).
export FOLIO_IPP__TRUSTED_NETWORKS=127.0.0.0/8 FOLIO_DEVICES__ALLOWED_NETWORKS=127.0.0.0/8 \
  FOLIO_DEVICES__ALLOWED_PORTS=1-65535 FOLIO_DIRECTORY__BADGE_REQUIRES_PIN=false
cd "$(dirname "${BASH_SOURCE[0]}")/.."
USERS=${1:-10000}
cargo build --release --quiet -p folio -p folio-bench
BIN=$PWD/target/release/folio
BENCH=$PWD/target/release/folio-bench
W=$(mktemp -d /tmp/folio-bench-dir.XXXXXX)
PORT=$((20000 + RANDOM % 20000))
cleanup() {
  [ -n "${FOLIO_PID:-}" ] && kill "$FOLIO_PID" 2>/dev/null || true
  [ -n "${SLAPD_PID:-}" ] && kill "$SLAPD_PID" 2>/dev/null || true
  [ -n "${HOLE_PID:-}" ] && kill "$HOLE_PID" 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT

# --- slapd with the synthetic directory
mkdir -p "$W/db" "$W/tls"
(cd "$W/tls"
 openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Bench CA" -keyout ca.key -out ca.crt 2>/dev/null
 openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr 2>/dev/null
 printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > ext.cnf
 openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile ext.cnf -out server.crt 2>/dev/null)
cat > "$W/slapd.conf" <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile $W/slapd.pid
TLSCACertificateFile  $W/tls/ca.crt
TLSCertificateFile    $W/tls/server.crt
TLSCertificateKeyFile $W/tls/server.key
sizelimit size.soft=1000 size.hard=1000 size.pr=1000 size.prtotal=unlimited
database mdb
maxsize 1073741824
suffix "dc=bench,dc=test"
rootdn "cn=admin,dc=bench,dc=test"
rootpw benchpw
directory $W/db
index objectClass,uid,employeeNumber eq
CONF
"$BENCH" directory --users "$USERS" --write-ldif "$W/users.ldif"
slapadd -q -f "$W/slapd.conf" -l "$W/users.ldif"
start_slapd() {
  slapd -d 0 -f "$W/slapd.conf" -h "ldap://127.0.0.1:$PORT/" 2>/dev/null &
  SLAPD_PID=$!
  until ldapsearch -x -H "ldap://127.0.0.1:$PORT" -b "" -s base >/dev/null 2>&1; do sleep 0.1; done
}
start_slapd
echo benchpw > "$W/bind.pw"
export FOLIO_DIRECTORY__KIND=ldap FOLIO_DIRECTORY__URL="ldap://127.0.0.1:$PORT" \
  FOLIO_DIRECTORY__STARTTLS=true FOLIO_DIRECTORY__CA_FILE="$W/tls/ca.crt" \
  FOLIO_DIRECTORY__BIND_DN="cn=admin,dc=bench,dc=test" FOLIO_DIRECTORY__BIND_PASSWORD_FILE="$W/bind.pw" \
  FOLIO_DIRECTORY__BASE_DN="dc=bench,dc=test" FOLIO_DIRECTORY__GROUP_ATTRIBUTE=""

echo "machine: $(nproc) cores; $(uname -r); $(date -u +%F)"
echo "--- 1. badge -> user, $USERS users, LDAP over StartTLS (3 runs, fresh cache each)"
for run in 1 2 3; do
  FOLIO_DATA_DIR="$W/data$run" "$BENCH" directory --users "$USERS" --lookups 2000 --clients 8 2>/dev/null
done

echo "--- 2. IPP intake while the directory answers, then while it hangs"
export FOLIO_DIRECTORY__CACHE_TTL=1 FOLIO_DIRECTORY__TIMEOUT=5
"$BIN" serve --listen 127.0.0.1:0 --data-dir "$W/serve" > "$W/out" 2> "$W/err" &
FOLIO_PID=$!
until grep -q 'listening on' "$W/out" 2>/dev/null; do sleep 0.05; done
ADDR=$(sed -n 's/^listening on //p' "$W/out")
"$BENCH" intake --server "$ADDR" --jobs 1000 --clients 8 --users 1000 > /dev/null   # every user seen once
sleep 1.5                                                                         # …and now stale
echo "directory answering:"
for _ in 1 2 3; do "$BENCH" intake --server "$ADDR" --jobs 3000 --clients 8 --users 1000; sleep 1.5; done
kill "$SLAPD_PID"; wait "$SLAPD_PID" 2>/dev/null || true; SLAPD_PID=
python3 - "$PORT" <<'PY' &
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(100); held = []
while True:
    c, _ = s.accept(); held.append(c)   # accept, never answer
PY
HOLE_PID=$!
sleep 0.5
echo "directory hung (accepts, never answers):"
for _ in 1 2 3; do "$BENCH" intake --server "$ADDR" --jobs 3000 --clients 8 --users 1000; sleep 1.5; done
grep -c "degraded mode" "$W/err" | sed 's/^/degraded-mode log lines: /'
