#!/usr/bin/env python3
"""Timing helper for bench/vs-cups.sh (stdlib only).

Subcommands:
  freeport                      print a free TCP port on 127.0.0.1
  wait-ready URI [--ready-file F] [--any]
                                touch F once loaded, then poll IPP Get-Printer-Attributes every
                                2 ms until it answers successful-ok; print that moment as an
                                epoch time. Started *before* the server, so that the
                                interpreter's own start-up is not counted in the server's.
  count-jobs URI [--which W]    print how many jobs Get-Jobs returns (which-jobs W)
  folio-held HOST:PORT          print Folio's folio_jobs_held gauge (from /metrics)
  release-cups ...              Release-Job on a CUPS queue, time until the copier completed them
  release-folio ...             Folio REST release, time until the copier completed them
  table FILE                    print the Markdown table of the results file

Both release measures use the same clock (time.monotonic, one process) and the same end
condition: the copier (ippeveprinter) reports as many new jobs in job-state completed (9) as
were released. ippeveprinter reads the whole document into its spool file before it queues
the job, then runs its command (-c) on that file, and only then marks the job completed: so
"completed" means the complete file is at the copier. Printed result: milliseconds, one line.
"""

import argparse
import http.client
import json
import re
import socket
import statistics
import struct
import sys
import time
import urllib.parse

# IPP operation ids and value tags (RFC 8011).
OP_GET_JOBS = 0x000A
OP_GET_PRINTER_ATTRIBUTES = 0x000B
OP_RELEASE_JOB = 0x000D
TAG_OPERATION = 0x01
TAG_END = 0x03
TAG_INTEGER = 0x21
TAG_BOOLEAN = 0x22
TAG_ENUM = 0x23
TAG_NAME = 0x42
TAG_KEYWORD = 0x44
TAG_URI = 0x45
TAG_CHARSET = 0x47
TAG_LANGUAGE = 0x48

POLL_SECONDS = 0.002  # copier polling interval, the same for both servers


def _attr(tag, name, values):
    if not isinstance(values, (list, tuple)):
        values = [values]
    out = b""
    for i, v in enumerate(values):
        if tag in (TAG_INTEGER, TAG_ENUM):
            raw = struct.pack(">i", v)
        elif tag == TAG_BOOLEAN:
            raw = b"\x01" if v else b"\x00"
        else:
            raw = v.encode()
        key = name.encode() if i == 0 else b""
        out += struct.pack(">BH", tag, len(key)) + key + struct.pack(">H", len(raw)) + raw
    return out


class Ipp:
    """One keep-alive HTTP connection to an IPP endpoint."""

    def __init__(self, uri, timeout=10.0):
        u = urllib.parse.urlsplit(uri)
        self.uri = uri
        self.host = u.hostname
        self.port = u.port or 631
        self.path = u.path or "/"
        self.timeout = timeout
        self.conn = None
        self.request_id = 0

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def call(self, op, attrs, printer_uri=None):
        """attrs: list of (tag, name, value(s)) after the standard three. Returns
        (status, [ {name: [values]} per group ])."""
        self.request_id += 1
        body = struct.pack(">BBHi", 2, 0, op, self.request_id)
        body += bytes([TAG_OPERATION])
        body += _attr(TAG_CHARSET, "attributes-charset", "utf-8")
        body += _attr(TAG_LANGUAGE, "attributes-natural-language", "en")
        body += _attr(TAG_URI, "printer-uri", printer_uri or self.uri)
        for tag, name, value in attrs:
            body += _attr(tag, name, value)
        body += bytes([TAG_END])
        for attempt in (0, 1):  # one retry: a keep-alive connection the server closed
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request("POST", self.path, body, {"Content-Type": "application/ipp"})
                resp = self.conn.getresponse()
                data = resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"HTTP {resp.status} from {self.uri}")
                return parse_ipp(data)
            except (ConnectionError, http.client.HTTPException, OSError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")


def parse_ipp(data):
    status = struct.unpack(">H", data[2:4])[0]
    groups, cur, last, pos = [], None, None, 8
    while pos < len(data):
        tag = data[pos]
        pos += 1
        if tag == TAG_END:
            break
        if tag < 0x10:  # a new attribute group
            cur = {}
            groups.append(cur)
            continue
        nlen = struct.unpack(">H", data[pos:pos + 2])[0]
        name = data[pos + 2:pos + 2 + nlen].decode("utf-8", "replace")
        pos += 2 + nlen
        vlen = struct.unpack(">H", data[pos:pos + 2])[0]
        raw = data[pos + 2:pos + 2 + vlen]
        pos += 2 + vlen
        if tag in (TAG_INTEGER, TAG_ENUM) and vlen == 4:
            value = struct.unpack(">i", raw)[0]
        else:
            value = raw.decode("utf-8", "replace")
        if name:
            last = name
            cur.setdefault(name, []).append(value)
        elif last is not None and cur is not None:  # additional value, or collection member
            cur[last].append(value)
    return status, groups


def job_groups(groups):
    return [g for g in groups if "job-id" in g]


def copier_jobs(copier, which):
    """{job-id: job-state} of the copier's jobs."""
    status, groups = copier.call(OP_GET_JOBS, [
        (TAG_KEYWORD, "which-jobs", which),
        (TAG_KEYWORD, "requested-attributes", ["job-id", "job-state"]),
    ])
    if status >= 0x0100:
        raise RuntimeError(f"copier Get-Jobs: status 0x{status:04x}")
    return {g["job-id"][0]: g.get("job-state", [0])[0] for g in job_groups(groups)}


def wait_copier(copier, baseline, count, t0, timeout):
    """Poll until `count` copier jobs newer than `baseline` are completed; return ms since t0."""
    deadline = t0 + timeout
    while True:
        done = sum(1 for jid, st in copier_jobs(copier, "completed").items()
                   if jid > baseline and st == 9)
        if done >= count:
            return (time.monotonic() - t0) * 1000.0
        if time.monotonic() > deadline:
            raise SystemExit(f"timeout: {done}/{count} jobs completed at the copier")
        time.sleep(POLL_SECONDS)


def copier_baseline(copier):
    jobs = copier_jobs(copier, "all")
    return max(jobs) if jobs else 0


def cmd_freeport(_args):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


def cmd_wait_ready(args):
    if args.ready_file:
        open(args.ready_file, "w").close()
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        ipp = Ipp(args.uri, timeout=2.0)
        try:
            status, _ = ipp.call(OP_GET_PRINTER_ATTRIBUTES, [
                (TAG_KEYWORD, "requested-attributes", "printer-state")])
            if status < 0x0100 or args.any:
                print(f"{time.time():.6f}")
                return
        except (OSError, RuntimeError, http.client.HTTPException, struct.error, IndexError):
            pass
        finally:
            ipp.close()
        time.sleep(0.002)
    raise SystemExit(f"{args.uri}: no answer within {args.timeout} s")


def _folio_metrics(server):
    host, port = server.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    return text


def cmd_folio_held(args):
    for line in _folio_metrics(args.server).splitlines():
        if line.startswith("folio_jobs_held "):
            print(int(float(line.split()[1])))
            return
    raise SystemExit("folio_jobs_held not found in /metrics")


def settle_folio(server, timeout=120.0):
    """Wait until every job Folio moved to processing has left it (delivered and followed to
    its end at the copier), so that one sample's deliveries do not overlap the next."""
    deadline = time.monotonic() + timeout
    pat = re.compile(r'^folio_job_transitions_total\{(.*)\} (\S+)$')
    while True:
        into = out = 0.0
        for line in _folio_metrics(server).splitlines():
            m = pat.match(line)
            if m:
                if 'to="processing"' in m.group(1):
                    into += float(m.group(2))
                if 'from="processing"' in m.group(1):
                    out += float(m.group(2))
        if out >= into or time.monotonic() > deadline:
            return
        time.sleep(0.05)


def settle_cups(queue, timeout=120.0):
    """Wait until the CUPS queue is idle: its backend (which by default waits for the copier's
    job to end) has exited, so that the next sample does not queue behind the previous one."""
    deadline = time.monotonic() + timeout
    while True:
        status, groups = queue.call(OP_GET_PRINTER_ATTRIBUTES, [
            (TAG_KEYWORD, "requested-attributes", "printer-state")])
        state = next((g["printer-state"][0] for g in groups if "printer-state" in g), 0)
        if state == 3 or time.monotonic() > deadline:
            return
        time.sleep(0.05)


def cmd_count_jobs(args):
    ipp = Ipp(args.uri, timeout=120.0)
    status, groups = ipp.call(OP_GET_JOBS, [
        (TAG_NAME, "requesting-user-name", "bench"),
        (TAG_KEYWORD, "which-jobs", args.which),
        (TAG_KEYWORD, "requested-attributes", "job-id"),
    ])
    if status >= 0x0100:
        raise SystemExit(f"Get-Jobs: status 0x{status:04x}")
    print(len(job_groups(groups)))


def cmd_release_cups(args):
    queue = Ipp(f"ipp://{args.server}/printers/{args.queue}")
    copier = Ipp(args.copier)
    # The user's held jobs (my-jobs: only theirs), oldest first.
    status, groups = queue.call(OP_GET_JOBS, [
        (TAG_NAME, "requesting-user-name", args.user),
        (TAG_KEYWORD, "which-jobs", "not-completed"),
        (TAG_BOOLEAN, "my-jobs", True),
        (TAG_KEYWORD, "requested-attributes", ["job-id", "job-state"]),
    ])
    held = sorted(g["job-id"][0] for g in job_groups(groups) if g.get("job-state", [0])[0] == 4)
    if len(held) < args.count:
        raise SystemExit(f"{args.user} has {len(held)} held jobs at CUPS, need {args.count}")
    settle_cups(queue)
    baseline = copier_baseline(copier)
    t0 = time.monotonic()
    for jid in held[:args.count]:  # back to back on one connection: as fast as a client can
        status, _ = queue.call(OP_RELEASE_JOB, [
            (TAG_INTEGER, "job-id", jid),
            (TAG_NAME, "requesting-user-name", args.user),
        ])
        if status >= 0x0100:
            raise SystemExit(f"Release-Job {jid}: status 0x{status:04x}")
    print(f"{wait_copier(copier, baseline, args.count, t0, args.timeout):.1f}")


def _rest(conn, method, path, token, body=None):
    headers = {"Authorization": f"Bearer {token}"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    conn.request(method, path, data, headers)
    resp = conn.getresponse()
    raw = resp.read()
    if resp.status >= 300:
        raise SystemExit(f"{method} {path}: HTTP {resp.status} {raw[:300]!r}")
    return json.loads(raw) if raw else None


def cmd_release_folio(args):
    settle_folio(args.server)
    host, port = args.server.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    copier = Ipp(args.copier)
    session = _rest(conn, "POST", "/api/v1/release/sessions", args.token, {"badge": args.badge})
    sid = session["session"]
    held = [j["id"] for j in session.get("jobs", []) if j.get("state", "held") == "held"]
    if len(held) < args.count:
        raise SystemExit(f"badge {args.badge} has {len(held)} held jobs at Folio, need {args.count}")
    baseline = copier_baseline(copier)
    t0 = time.monotonic()
    res = _rest(conn, "POST", f"/api/v1/release/sessions/{sid}/release", args.token,
                {"jobs": held[:args.count]})
    bad = [r for r in res.get("results", []) if r.get("result") != "releasing"]
    if bad:
        raise SystemExit(f"release refused: {bad}")
    ms = wait_copier(copier, baseline, args.count, t0, args.timeout)
    _rest(conn, "DELETE", f"/api/v1/release/sessions/{sid}", args.token)
    print(f"{ms:.1f}")


def cmd_table(args):
    """Results file: one line per sample, tab-separated: label, system (folio|cups), value,
    aggregate (median|sum), format (a Python format spec). A value that is not a number (a
    failed or timed-out sample) is counted and shown beside the median of the others."""
    rows, data = [], {}
    with open(args.file) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 5:
                continue
            label, system, value, agg, fmt = parts
            if label not in data:
                rows.append(label)
                data[label] = {"agg": agg, "fmt": fmt, "folio": [], "cups": []}
            data[label][system].append(value)

    def summarise(values, agg):
        nums, bad = [], 0
        for v in values:
            try:
                nums.append(float(v))
            except ValueError:
                bad += 1
        if not nums:
            return None, bad
        return (sum(nums) if agg == "sum" else statistics.median(nums)), bad

    print("| measure | Folio | CUPS | Folio/CUPS |")
    print("|---|---:|---:|---:|")
    rows.sort(key=lambda label: data[label]["agg"] == "sum")  # totals (failures) last
    for label in rows:
        d = data[label]
        cells, vals = [], []
        for system in ("folio", "cups"):
            v, bad = summarise(d[system], d["agg"])
            vals.append(v)
            cell = "n/a" if v is None else format(v, d["fmt"])
            if bad:
                cell += f" ({bad} of {len(d[system])} failed)"
            cells.append(cell)
        f, c = vals
        ratio = f"{f / c:.2f}" if f is not None and c else "n/a"
        print(f"| {label} | {cells[0]} | {cells[1]} | {ratio} |")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("freeport").set_defaults(fn=cmd_freeport)
    w = sub.add_parser("wait-ready")
    w.add_argument("uri")
    w.add_argument("--ready-file")
    w.add_argument("--any", action="store_true", help="any IPP answer will do (no queue yet)")
    w.add_argument("--timeout", type=float, default=60.0)
    w.set_defaults(fn=cmd_wait_ready)
    c = sub.add_parser("count-jobs")
    c.add_argument("uri")
    c.add_argument("--which", default="not-completed")
    c.set_defaults(fn=cmd_count_jobs)
    fh = sub.add_parser("folio-held")
    fh.add_argument("server")
    fh.set_defaults(fn=cmd_folio_held)
    t = sub.add_parser("table")
    t.add_argument("file")
    t.set_defaults(fn=cmd_table)
    rc = sub.add_parser("release-cups")
    rc.add_argument("--server", required=True, help="host:port of cupsd")
    rc.add_argument("--queue", default="held")
    rc.add_argument("--user", required=True)
    rc.add_argument("--count", type=int, default=1)
    rc.add_argument("--copier", required=True, help="ipp://… of the queue's ippeveprinter")
    rc.add_argument("--timeout", type=float, default=300.0)
    rc.set_defaults(fn=cmd_release_cups)
    rf = sub.add_parser("release-folio")
    rf.add_argument("--server", required=True, help="host:port of Folio")
    rf.add_argument("--token", required=True)
    rf.add_argument("--badge", required=True)
    rf.add_argument("--count", type=int, default=1)
    rf.add_argument("--copier", required=True, help="ipp://… of the device's ippeveprinter")
    rf.add_argument("--timeout", type=float, default=300.0)
    rf.set_defaults(fn=cmd_release_folio)
    args = p.parse_args()
    args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
