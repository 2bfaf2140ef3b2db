#!/usr/bin/env bash
# Memory while spooling one large job (see BENCHMARKS.md): a 500 MB PDF is streamed to Folio
# with curl; the server's peak resident memory (VmHWM) is read before and after.
# Usage: scripts/bench-large-job.sh [SIZE_MB]   (default 500)
set -euo pipefail
# Everything runs on loopback here: the client may name its users, and the copier is allowed
# (a site lists its own print servers and copier networks instead; docs/security.md).
export FOLIO_IPP__TRUSTED_NETWORKS=127.0.0.0/8 FOLIO_DEVICES__ALLOWED_NETWORKS=127.0.0.0/8 \
  FOLIO_DEVICES__ALLOWED_PORTS=1-65535 FOLIO_DIRECTORY__BADGE_REQUIRES_PIN=false
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SIZE_MB=${1:-500}
cargo build --release --quiet
DATA=$(mktemp -d /tmp/folio-large.XXXXXX)
trap 'kill $PID 2>/dev/null || true; rm -rf "$DATA"' EXIT
printf 'dn: uid=bench,dc=bench\nobjectClass: inetOrgPerson\nuid: bench\ncn: bench\nsn: bench\n' > "$DATA/directory.ldif"
FOLIO_MAX_JOB_MB=$(( SIZE_MB + 100 )) target/release/folio serve --listen 127.0.0.1:0 \
  --data-dir "$DATA/data" > "$DATA/out" 2> "$DATA/err" &
PID=$!
until grep -q 'listening on' "$DATA/out" 2>/dev/null; do sleep 0.01; done
ADDR=$(sed -n 's/^listening on //p' "$DATA/out")
# An IPP Print-Job header followed by a one-page PDF whose content stream is SIZE_MB long.
python3 - "$DATA/request.bin" "$SIZE_MB" "$ADDR" <<'PY'
import struct, sys
path, size_mb, addr = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def attr(tag, name, value):
    return bytes([tag]) + struct.pack('>H', len(name)) + name + struct.pack('>H', len(value)) + value
with open(path, 'wb') as f:
    f.write(bytes([2, 0, 0, 2]) + struct.pack('>i', 1) + b'\x01')
    f.write(attr(0x47, b'attributes-charset', b'utf-8') + attr(0x48, b'attributes-natural-language', b'en'))
    f.write(attr(0x45, b'printer-uri', f'ipp://{addr}/ipp/print'.encode()))
    f.write(attr(0x42, b'requesting-user-name', b'bench') + attr(0x49, b'document-format', b'application/pdf'))
    f.write(b'\x03')
    start = f.tell()
    f.write(b'%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n')
    f.write(b'2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n')
    f.write(b'3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>\nendobj\n')
    n = size_mb * 1024 * 1024
    f.write(b'4 0 obj\n<< /Length %d >>\nstream\n' % n)
    block = b'% filler comment line to make a large content stream.........\n' * 1024
    while n > 0:
        f.write(block[:min(n, len(block))]); n -= len(block)
    f.write(b'\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n')
PY
hwm() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$PID/status"; }
echo "peak RSS before: $(hwm) MB"
/usr/bin/time -f "upload took %es" curl -s -o "$DATA/resp.bin" -H 'Content-Type: application/ipp' \
  -H 'Transfer-Encoding: chunked' --data-binary @"$DATA/request.bin" "http://$ADDR/ipp/print"
python3 -c "import sys; d=open('$DATA/resp.bin','rb').read(); print('IPP status 0x%04x' % int.from_bytes(d[2:4], 'big'))"
echo "peak RSS after a ${SIZE_MB} MB job: $(hwm) MB"
