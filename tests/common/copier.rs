//! Copiers for tests: CUPS's `ippeveprinter` (a real IPP Everywhere printer) with its own D-Bus
//! bus, keeping the files it receives; and fake peers for the failures real copiers have.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::{free_port, INSTALL_HINT};

/// A running ippeveprinter, killed when dropped.
pub struct IppEvePrinter {
    pub port: u16,
    pub dir: tempfile::TempDir,
    printer: Child,
    dbus: Child,
}

impl IppEvePrinter {
    /// Starts a copier: `duplex` adds two-sided support, `color` colour (pages per minute).
    pub fn start(name: &str, duplex: bool, color: bool) -> IppEvePrinter {
        IppEvePrinter::start_with(name, duplex, color, false)
    }

    /// Like [`IppEvePrinter::start`]; `fast` has each job "printed" by `/bin/true` as soon as it
    /// is received instead of taking its pages' time. Either way it prints one job at a time and
    /// answers `server-error-busy` to a new one meanwhile, as many copiers do.
    pub fn start_with(name: &str, duplex: bool, color: bool, fast: bool) -> IppEvePrinter {
        for tool in ["ippeveprinter", "dbus-daemon"] {
            let found = Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .is_ok_and(|o| o.status.success());
            assert!(
                found,
                "{tool} is not installed (Debian packages cups-ipp-utils, dbus); {INSTALL_HINT}"
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("folio-copier-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        fs::create_dir_all(d.join("spool")).unwrap();
        fs::create_dir_all(d.join("keys")).unwrap();
        let socket = d.join("dbus.sock");
        let dbus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--nopidfile"])
            .arg(format!("--address=unix:path={}", socket.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting dbus-daemon");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "dbus-daemon did not start");
            thread::sleep(Duration::from_millis(20));
        }
        let port = free_port();
        let mut cmd = Command::new("ippeveprinter");
        cmd.env(
            "DBUS_SYSTEM_BUS_ADDRESS",
            format!("unix:path={}", socket.display()),
        )
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}", socket.display()),
        )
        .args([
            "-p",
            &port.to_string(),
            "-n",
            "localhost",
            "-r",
            "off",
            "-k",
        ])
        .arg("-d")
        .arg(d.join("spool"))
        .arg("-K")
        .arg(d.join("keys"))
        .args(["-f", "application/pdf,image/pwg-raster"])
        .args(["-s", if color { "20,10" } else { "20,0" }]);
        if duplex {
            cmd.arg("-2");
        }
        if fast {
            cmd.args(["-c", "/bin/true"]);
        }
        let printer = cmd
            .arg(name)
            .stdout(Stdio::null())
            .stderr(fs::File::create(d.join("ippeveprinter.log")).unwrap())
            .spawn()
            .expect("starting ippeveprinter");
        let mut p = IppEvePrinter {
            port,
            dir,
            printer,
            dbus,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = p.printer.try_wait() {
                panic!("ippeveprinter exited ({status}): {}", p.log());
            }
            assert!(
                Instant::now() < deadline,
                "ippeveprinter did not start: {}",
                p.log()
            );
            thread::sleep(Duration::from_millis(50));
        }
        p
    }

    pub fn uri(&self) -> String {
        format!("ipp://127.0.0.1:{}/ipp/print", self.port)
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("ippeveprinter.log")).unwrap_or_default()
    }

    /// The documents it kept, as (file name, bytes), waiting up to `wait` for `count` of them.
    pub fn received(&self, count: usize, wait: Duration) -> Vec<(String, Vec<u8>)> {
        let deadline = Instant::now() + wait;
        loop {
            let mut files = Vec::new();
            for entry in super::files_under(&self.dir.path().join("spool")) {
                if entry.extension().is_some_and(|e| e == "pdf" || e == "pwg") {
                    let name = entry.file_name().unwrap().to_string_lossy().into_owned();
                    files.push((name, fs::read(&entry).unwrap_or_default()));
                }
            }
            if files.len() >= count || Instant::now() > deadline {
                files.sort();
                return files;
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for IppEvePrinter {
    fn drop(&mut self) {
        let _ = self.printer.kill();
        let _ = self.printer.wait();
        let _ = self.dbus.kill();
        let _ = self.dbus.wait();
    }
}

/// A raw TCP 9100 sink that records everything each connection sends.
pub struct SocketSink {
    pub port: u16,
    pub received: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl SocketSink {
    pub fn start() -> SocketSink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let r = received.clone();
        thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let r = r.clone();
                thread::spawn(move || {
                    let mut conn = conn;
                    let mut bytes = Vec::new();
                    let _ = conn.read_to_end(&mut bytes);
                    r.lock().unwrap().push(bytes);
                });
            }
        });
        SocketSink { port, received }
    }

    /// The jobs received, waiting up to `wait` for `count`.
    pub fn jobs(&self, count: usize, wait: Duration) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + wait;
        loop {
            let jobs = self.received.lock().unwrap().clone();
            if jobs.len() >= count || Instant::now() > deadline {
                return jobs;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A job an [`LpdSink`] received.
#[derive(Clone, Debug, Default)]
pub struct LpdJob {
    pub queue: String,
    pub control: String,
    pub data: Vec<u8>,
}

/// A minimal LPD server (RFC 1179 "receive a printer job"): acknowledges every command and
/// keeps the queue, control file and data file of each job.
pub struct LpdSink {
    pub port: u16,
    pub received: Arc<Mutex<Vec<LpdJob>>>,
}

impl LpdSink {
    pub fn start() -> LpdSink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let r = received.clone();
        thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let r = r.clone();
                thread::spawn(move || {
                    if let Some(job) = lpd_receive(conn) {
                        r.lock().unwrap().push(job);
                    }
                });
            }
        });
        LpdSink { port, received }
    }

    /// The jobs received, waiting up to `wait` for `count`.
    pub fn jobs(&self, count: usize, wait: Duration) -> Vec<LpdJob> {
        let deadline = Instant::now() + wait;
        loop {
            let jobs = self.received.lock().unwrap().clone();
            if jobs.len() >= count || Instant::now() > deadline {
                return jobs;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

fn lpd_line(conn: &mut std::net::TcpStream) -> Option<Vec<u8>> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    loop {
        if conn.read(&mut b).ok()? == 0 {
            return None;
        }
        if b[0] == b'\n' {
            return Some(line);
        }
        line.push(b[0]);
    }
}

fn lpd_receive(mut conn: std::net::TcpStream) -> Option<LpdJob> {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let first = lpd_line(&mut conn)?;
    assert_eq!(first.first(), Some(&2), "not a receive-job command");
    let mut job = LpdJob {
        queue: String::from_utf8_lossy(&first[1..]).into_owned(),
        ..LpdJob::default()
    };
    conn.write_all(&[0]).ok()?;
    while let Some(sub) = lpd_line(&mut conn) {
        let text = String::from_utf8_lossy(&sub[1..]).into_owned();
        let count: usize = text.split(' ').next()?.parse().ok()?;
        conn.write_all(&[0]).ok()?;
        let mut content = vec![0u8; count + 1];
        conn.read_exact(&mut content).ok()?;
        assert_eq!(content.pop(), Some(0), "a file ends with a zero byte");
        match sub[0] {
            2 => job.control = String::from_utf8_lossy(&content).into_owned(),
            3 => job.data = content,
            other => panic!("unexpected LPD subcommand {other}"),
        }
        conn.write_all(&[0]).ok()?;
    }
    Some(job)
}

/// How a fake IPP copier misbehaves.
#[derive(Clone, Copy, Debug)]
pub enum Misbehaviour {
    /// Reads the whole request, then answers HTTP 503.
    Busy,
    /// Reads the whole request, then never answers.
    Silent,
    /// A working IPP copier whose jobs end `aborted` (a jam it gave up on, a bad document).
    Aborts,
    /// Answers Print-Job `server-error-busy` twice, then takes the job and completes it.
    BusyTwice,
}

/// The IPP operation of a request as received (Content-Length or chunked body).
pub fn ipp_operation(raw: &[u8]) -> Option<u16> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let mut body = &raw[end + 4..];
    if head.contains("transfer-encoding: chunked") {
        let line = body.windows(2).position(|w| w == b"\r\n")?;
        body = &body[line + 2..];
    }
    Some(u16::from_be_bytes([*body.get(2)?, *body.get(3)?]))
}

/// An HTTP 200 carrying an IPP response with `status` and `groups`.
fn ipp_answer(status: u16, groups: Vec<folio::ipp::wire::Group>) -> Vec<u8> {
    use folio::ipp::values::{charset, language};
    use folio::ipp::wire::{Attr, Group, Response};
    let mut op = Group::new(0x01);
    op.attrs
        .push(Attr::new("attributes-charset", charset("utf-8")));
    op.attrs
        .push(Attr::new("attributes-natural-language", language("en")));
    let mut all = vec![op];
    all.extend(groups);
    let body = folio::ipp::wire::encode(&Response {
        version: (2, 0),
        status,
        request_id: 1,
        groups: all,
    });
    let mut out = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/ipp\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend(body);
    out
}

/// What a scripted fake copier answers to `operation` (`print_jobs`: Print-Jobs seen so far,
/// this one included).
pub fn scripted(how: Misbehaviour, operation: u16, print_jobs: u32) -> Vec<u8> {
    use folio::ipp::values::{integer, keyword};
    use folio::ipp::wire::{Attr, Group};
    use folio::ipp::IppValue;
    match operation {
        // Get-Printer-Attributes: idle and accepting.
        0x000B => {
            let mut p = Group::new(0x04);
            p.attrs.push(Attr::new("printer-state", IppValue::Enum(3)));
            p.attrs
                .push(Attr::new("printer-state-reasons", keyword("none")));
            p.attrs.push(Attr::new(
                "printer-is-accepting-jobs",
                IppValue::Boolean(true),
            ));
            ipp_answer(0, vec![p])
        }
        // Print-Job.
        0x0002 if matches!(how, Misbehaviour::BusyTwice) && print_jobs <= 2 => {
            ipp_answer(0x0507, Vec::new())
        }
        0x0002 => {
            let mut j = Group::new(0x02);
            j.attrs.push(Attr::new("job-id", integer(7)));
            j.attrs.push(Attr::new("job-state", IppValue::Enum(3)));
            ipp_answer(0, vec![j])
        }
        // Get-Job-Attributes: the job's end.
        0x0009 => {
            let mut j = Group::new(0x02);
            let (state, reason) = match how {
                Misbehaviour::Aborts => (8, "aborted-by-system"),
                _ => (9, "job-completed-successfully"),
            };
            j.attrs.push(Attr::new("job-state", IppValue::Enum(state)));
            j.attrs
                .push(Attr::new("job-state-reasons", keyword(reason)));
            j.attrs
                .push(Attr::new("job-impressions-completed", integer(2)));
            ipp_answer(0, vec![j])
        }
        _ => ipp_answer(0x0501, Vec::new()),
    }
}

/// A fake IPP copier on loopback; counts the requests it got.
pub struct FakeCopier {
    pub port: u16,
    pub requests: Arc<Mutex<u32>>,
    /// Every request as received (head and body, as sent on the wire).
    pub raw: Arc<Mutex<Vec<Vec<u8>>>>,
}

/// Whether `all` holds a whole HTTP request: a Content-Length body read, or a chunked body's
/// last chunk.
pub fn request_complete(all: &[u8]) -> bool {
    let Some(end) = all.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&all[..end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    match length {
        Some(n) => all.len() >= end + 4 + n,
        None => all.ends_with(b"0\r\n\r\n"),
    }
}

impl FakeCopier {
    pub fn start(how: Misbehaviour) -> FakeCopier {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(0));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let count = requests.clone();
        let kept = raw.clone();
        let print_jobs = Arc::new(Mutex::new(0u32));
        thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let count = count.clone();
                let kept = kept.clone();
                let print_jobs = print_jobs.clone();
                thread::spawn(move || {
                    let mut conn = conn;
                    let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
                    // Read until the chunked body's end (or the timeout).
                    let mut all = Vec::new();
                    let mut buf = [0u8; 65536];
                    while let Ok(n) = conn.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        all.extend_from_slice(&buf[..n]);
                        if request_complete(&all) {
                            break;
                        }
                    }
                    *count.lock().unwrap() += 1;
                    let operation = ipp_operation(&all);
                    kept.lock().unwrap().push(all);
                    match how {
                        Misbehaviour::Aborts | Misbehaviour::BusyTwice => {
                            let operation = operation.unwrap_or(0);
                            let n = {
                                let mut p = print_jobs.lock().unwrap();
                                if operation == 0x0002 {
                                    *p += 1;
                                }
                                *p
                            };
                            let _ = conn.write_all(&scripted(how, operation, n));
                        }
                        Misbehaviour::Busy => {
                            let _ = conn.write_all(
                                b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                            );
                        }
                        Misbehaviour::Silent => thread::sleep(Duration::from_secs(60)),
                    }
                });
            }
        });
        FakeCopier {
            port,
            requests,
            raw,
        }
    }

    pub fn uri(&self) -> String {
        format!("ipp://127.0.0.1:{}/ipp/print", self.port)
    }
}
