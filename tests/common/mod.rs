//! Shared helpers for Folio's integration tests.
//!
//! They start the real `folio` binary on SQLite or on a throwaway PostgreSQL cluster, speak raw
//! IPP to it, and run CUPS' `ipptool` conformance suites against it. Every integration test file
//! declares `mod common;`; no file uses every helper, hence the `allow` below.
//!
//! Outside tools (ipptool, PostgreSQL, Ghostscript) are never optional: when one is missing the
//! helper panics and says to run `scripts/test.sh`, which installs them.
#![allow(dead_code, unused_imports, unused_macros)]

use std::collections::hash_map::DefaultHasher;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, OnceLock};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a server may take to print its `listening on` line.
pub mod archive;
pub mod browser;
pub mod copier;
pub mod directory;
pub mod release;
pub mod tls;

const START_TIMEOUT: Duration = Duration::from_secs(60);
/// File in the data directory that receives the server's stderr (appended across restarts).
pub const SERVER_LOG: &str = "test-server-stderr.log";
/// File in the data directory that receives the server's stdout (appended across restarts).
pub const SERVER_STDOUT_LOG: &str = "test-server-stdout.log";
/// What to tell a developer when a tool the tests need is missing.
pub(crate) const INSTALL_HINT: &str =
    "run scripts/test.sh (the README's test command), which installs the Debian packages the tests need";

// ---------------------------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------------------------

/// The database a test server runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// `DATA_DIR/folio.db`, the default.
    Sqlite,
    /// A fresh database in this test process's throwaway PostgreSQL cluster.
    Postgres,
}

impl Backend {
    /// Both backends, SQLite first.
    pub const ALL: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

    /// Lower-case name, for messages and file names.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A running `folio serve` on 127.0.0.1, killed (SIGKILL) when dropped.
///
/// Its stderr goes to `DATA_DIR/test-server-stderr.log`, not to the test output; panics raised
/// by these helpers include the end of that log.
pub struct TestServer {
    /// The port the server printed in its `listening on` line (IPP and HTTP).
    pub port: u16,
    /// The database backend.
    pub backend: Backend,
    /// The server's `--data-dir`; kept for restarts.
    pub data_dir: PathBuf,
    /// The `--database-url` passed, if any (always set on PostgreSQL).
    pub db_url: Option<String>,
    extra_env: Vec<(String, String)>,
    child: Child,
    /// Owns the data directory when `start`/`start_env` created it.
    _temp: Option<tempfile::TempDir>,
}

impl TestServer {
    /// Starts a server on `backend` with a fresh data directory (and a fresh PostgreSQL database).
    pub fn start(backend: Backend) -> TestServer {
        TestServer::start_env(backend, &[])
    }

    /// Like [`TestServer::start`], with extra environment variables (e.g. `FOLIO_HOLD_HOURS`).
    pub fn start_env(backend: Backend, extra_env: &[(&str, &str)]) -> TestServer {
        let temp = tempfile::Builder::new()
            .prefix("folio-test-")
            .tempdir()
            .unwrap_or_else(|e| panic!("creating a temporary data directory: {e}"));
        let mut server = TestServer::start_with(backend, temp.path(), None, extra_env);
        server._temp = Some(temp);
        server
    }

    /// Starts a server on an existing data directory, which the caller keeps alive.
    ///
    /// `db_url` is passed as `--database-url` when given. On PostgreSQL with `db_url = None` a
    /// fresh database is created; pass the previous server's `db_url` to restart on the same one.
    /// Every `FOLIO_*` variable of the test's own environment is removed, then `extra_env` is set.
    pub fn start_with(
        backend: Backend,
        data_dir: &Path,
        db_url: Option<&str>,
        extra_env: &[(&str, &str)],
    ) -> TestServer {
        let db_url = match (backend, db_url) {
            (_, Some(url)) => Some(url.to_owned()),
            (Backend::Postgres, None) => Some(fresh_postgres_database()),
            (Backend::Sqlite, None) => None,
        };
        let extra_env: Vec<(String, String)> = extra_env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let (child, port) = launch(data_dir, db_url.as_deref(), &extra_env);
        TestServer {
            port,
            backend,
            data_dir: data_dir.to_owned(),
            db_url,
            extra_env,
            child,
            _temp: None,
        }
    }

    /// Kills the server with SIGKILL if it still runs, then starts it again on the same data
    /// directory, database and environment. The new server has a new port.
    pub fn restart(&mut self) {
        self.kill9();
        let (child, port) = launch(&self.data_dir, self.db_url.as_deref(), &self.extra_env);
        self.child = child;
        self.port = port;
    }

    /// Like [`TestServer::restart`], replacing the extra environment variables.
    pub fn restart_env(&mut self, extra_env: &[(&str, &str)]) {
        self.extra_env = extra_env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.restart();
    }

    /// `ipp://127.0.0.1:PORT/ipp/print`, the print queue.
    pub fn ipp_uri(&self) -> String {
        format!("ipp://127.0.0.1:{}/ipp/print", self.port)
    }

    /// `http://127.0.0.1:PORT` followed by `path` (which starts with `/`).
    pub fn http_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// POSTs a raw IPP request to the print queue; see [`post_ipp`].
    pub fn post_ipp(&self, body: &[u8]) -> (u16, Vec<u8>) {
        post_ipp(self.port, body)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the server with SIGKILL (a crash: no shutdown code runs) and reaps it.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits up to `timeout` for the server to exit; panics (with the log) if it
    /// does not.
    pub fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", pid.as_str()]).status();
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return status,
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(50)),
                Ok(None) => {
                    self.kill9();
                    panic!(
                        "folio did not exit within {timeout:?} of SIGTERM\n{}",
                        log_excerpt(&self.data_dir)
                    );
                }
                Err(e) => panic!("waiting for folio: {e}"),
            }
        }
    }

    /// `Some(status)` when the server has exited, `None` while it runs.
    pub fn try_exit_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The whole stderr log of this data directory (all starts so far).
    pub fn server_log(&self) -> String {
        fs::read_to_string(self.data_dir.join(SERVER_LOG)).unwrap_or_default()
    }

    /// The last lines of the stderr log, headed by its path; for assertion messages.
    pub fn log_excerpt(&self) -> String {
        log_excerpt(&self.data_dir)
    }
}

impl Drop for TestServer {
    /// Kills the server. When the test is failing, prints the end of the server's log and keeps
    /// its data directory for inspection.
    fn drop(&mut self) {
        self.kill9();
        if thread::panicking() {
            eprintln!("{}", self.log_excerpt());
            if let Some(temp) = self._temp.take() {
                eprintln!("data directory kept: {}", temp.keep().display());
            }
        }
    }
}

/// Spawns `folio serve`, waits for its `listening on` line and a 200 from `/healthz`.
fn launch(data_dir: &Path, db_url: Option<&str>, extra_env: &[(String, String)]) -> (Child, u16) {
    let log_path = data_dir.join(SERVER_LOG);
    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .unwrap_or_else(|e| panic!("opening {}: {e}", log_path.display()));
    let _ = writeln!(
        log,
        "===== test harness: starting folio serve (db: {}) at unix time {} =====",
        db_url.unwrap_or("sqlite default"),
        unix_secs()
    );

    // Every test server knows the users the tests print as, unless the test brings a directory.
    let brings_directory = extra_env
        .iter()
        .any(|(k, _)| k.starts_with("FOLIO_DIRECTORY__"));
    let ldif = data_dir.join("directory.ldif");
    if !brings_directory && !ldif.exists() {
        directory::write_default(&ldif);
    }

    let mut cmd = Command::new(env!("CARGO_BIN_EXE_folio"));
    cmd.arg("serve")
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--data-dir")
        .arg(data_dir);
    if let Some(url) = db_url {
        cmd.arg("--database-url").arg(url);
    }
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("FOLIO_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("RUST_BACKTRACE", "1");
    for (key, value) in extra_env {
        cmd.env(key, value);
    }
    cmd.current_dir(data_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log));
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {}: {e}", env!("CARGO_BIN_EXE_folio")));

    // Read stdout on a thread: the first `listening on` line goes to the channel, everything is
    // copied to the stdout log, and the pipe is drained until the server exits.
    let stdout = child.stdout.take().expect("stdout was configured as piped");
    let stdout_log = data_dir.join(SERVER_STDOUT_LOG);
    let (tx, rx) = mpsc::channel::<String>();
    thread::spawn(move || {
        let mut copy = OpenOptions::new()
            .create(true)
            .append(true)
            .open(stdout_log)
            .ok();
        let mut sent = false;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(file) = copy.as_mut() {
                let _ = writeln!(file, "{line}");
            }
            if !sent && line.trim_start().starts_with("listening on ") {
                let _ = tx.send(line);
                sent = true;
            }
        }
    });

    let line = match rx.recv_timeout(START_TIMEOUT) {
        Ok(line) => line,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "folio serve printed no `listening on` line within {START_TIMEOUT:?}\n{}",
                log_excerpt(data_dir)
            );
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            // stdout closed: the server exited (or closed stdout) before becoming ready.
            let status = wait_briefly(&mut child);
            panic!(
                "folio serve closed stdout without a `listening on` line (exit status: {status})\n{}",
                log_excerpt(data_dir)
            );
        }
    };
    let addr = line.trim().trim_start_matches("listening on ").trim();
    let port = match addr.parse::<SocketAddr>() {
        Ok(addr) if addr.port() != 0 => addr.port(),
        _ => {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "expected `listening on 127.0.0.1:PORT` on stdout, got {line:?}\n{}",
                log_excerpt(data_dir)
            );
        }
    };

    // The contract says the line comes when the server is ready; check it answers (over plain
    // HTTP: a server whose only listener speaks TLS is checked by its test).
    let tls_only = extra_env
        .iter()
        .any(|(k, _)| k == "FOLIO_TLS__CERTIFICATE_FILE")
        && !extra_env.iter().any(|(k, _)| k == "FOLIO_TLS__LISTEN");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if tls_only {
            break;
        }
        let outcome = match try_http_get(port, "/healthz") {
            Ok((200, _)) => break,
            Ok((status, body)) => format!("HTTP {status}: {}", String::from_utf8_lossy(&body)),
            Err(e) => e,
        };
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "folio printed `{line}` but GET /healthz did not answer 200 ({outcome})\n{}",
                log_excerpt(data_dir)
            );
        }
        thread::sleep(Duration::from_millis(100));
    }
    (child, port)
}

/// Waits up to 5 s for a child that is expected to exit; describes how it ended.
fn wait_briefly(child: &mut Child) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.to_string(),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(50)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return "still running after 5 s, killed".to_owned();
            }
            Err(e) => return format!("unknown ({e})"),
        }
    }
}

/// The last 150 lines of `DATA_DIR/test-server-stderr.log`, headed by its path.
pub fn log_excerpt(data_dir: &Path) -> String {
    let path = data_dir.join(SERVER_LOG);
    let text = fs::read_to_string(&path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(150);
    format!(
        "--- folio stderr ({}, last {} lines) ---\n{}\n--- end of folio stderr ---",
        path.display(),
        lines.len() - start,
        lines[start..].join("\n")
    )
}

// ---------------------------------------------------------------------------------------------
// Test matrix
// ---------------------------------------------------------------------------------------------

/// Generates one test per backend: `both_backends!(name, |backend| { ... })` expands to
/// `mod name { #[test] fn sqlite() {...} #[test] fn postgres() {...} }`, the body running with
/// `backend` bound to [`Backend::Sqlite`] or [`Backend::Postgres`]. Attributes written before
/// the name (e.g. `#[ignore = "why"]`) go on both tests. The module sees the file's items
/// through `use super::*`.
macro_rules! both_backends {
    ($(#[$meta:meta])* $name:ident, |$backend:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn run($backend: $crate::common::Backend) $body

            #[test]
            $(#[$meta])*
            fn sqlite() {
                run($crate::common::Backend::Sqlite)
            }

            #[test]
            $(#[$meta])*
            fn postgres() {
                run($crate::common::Backend::Postgres)
            }
        }
    };
}
pub(crate) use both_backends;

// ---------------------------------------------------------------------------------------------
// PostgreSQL
// ---------------------------------------------------------------------------------------------

/// One throwaway PostgreSQL cluster per test process, on 127.0.0.1 with trust authentication.
struct PgCluster {
    bin: PathBuf,
    base: PathBuf,
    port: u16,
    /// A detached shell that stops the cluster and deletes `base` once this process has exited.
    _reaper: Option<Child>,
}

static PG_CLUSTER: OnceLock<PgCluster> = OnceLock::new();

/// Creates a new, empty database in this process's PostgreSQL cluster (started on first use)
/// and returns its URL, `postgres://postgres@127.0.0.1:PORT/folio_t_...`.
pub fn fresh_postgres_database() -> String {
    let cluster = PG_CLUSTER.get_or_init(PgCluster::start);
    let name = format!("folio_t_{}", unique_suffix());
    cluster.psql(&format!("CREATE DATABASE \"{name}\""));
    format!("postgres://postgres@127.0.0.1:{}/{name}", cluster.port)
}

/// Runs SQL as the `postgres` superuser on the database of `db_url` (a URL from
/// [`fresh_postgres_database`]), panicking on error; returns psql's unaligned output.
pub fn postgres_sql(db_url: &str, sql: &str) -> String {
    let cluster = PG_CLUSTER.get_or_init(PgCluster::start);
    let out = Command::new("timeout")
        .arg("60")
        .arg(cluster.bin.join("psql"))
        .args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            db_url,
            "-c",
            sql,
        ])
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .unwrap_or_else(|e| panic!("running psql: {e}"));
    assert!(
        out.status.success(),
        "psql {sql:?} on {db_url} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl PgCluster {
    fn start() -> PgCluster {
        let bin = pg_bin_dir();
        let base = tempfile::Builder::new()
            .prefix("folio-pg-")
            .tempdir()
            .unwrap_or_else(|e| panic!("creating the PostgreSQL temp dir: {e}"))
            .keep();
        let as_root = running_as_root();
        if as_root {
            // initdb refuses to run as root: the cluster belongs to the `postgres` user.
            run_checked(
                Command::new("chown").arg("postgres:").arg(&base),
                "chown the PostgreSQL temp dir to postgres",
            );
        }
        let data = base.join("data");
        let initdb_log = base.join("initdb.log");
        let status = pg_command(&bin.join("initdb"), as_root)
            .arg("-D")
            .arg(&data)
            .args([
                "--auth=trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "--no-locale",
            ])
            .current_dir(&base)
            .stdin(Stdio::null())
            .stdout(log_file(&initdb_log))
            .stderr(log_file(&initdb_log))
            .status()
            .unwrap_or_else(|e| panic!("running initdb: {e}"));
        assert!(
            status.success(),
            "initdb failed ({status}):\n{}",
            fs::read_to_string(&initdb_log).unwrap_or_default()
        );

        // A free port can be taken between our probe and the server's bind: retry a few times.
        let server_log = base.join("postgres.log");
        let pg_ctl_log = base.join("pg_ctl.log");
        let mut port = 0;
        for attempt in 1..=5 {
            let candidate = free_port();
            let options = format!(
                "-c listen_addresses=127.0.0.1 -p {candidate} -k {} -c fsync=off \
                 -c full_page_writes=off -c synchronous_commit=off -c max_connections=200",
                base.display()
            );
            let status = pg_command(&bin.join("pg_ctl"), as_root)
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(&server_log)
                .args(["-w", "-t", "60", "-o", options.as_str(), "start"])
                .current_dir(&base)
                .stdin(Stdio::null())
                .stdout(log_file(&pg_ctl_log))
                .stderr(log_file(&pg_ctl_log))
                .status()
                .unwrap_or_else(|e| panic!("running pg_ctl: {e}"));
            if status.success() {
                port = candidate;
                break;
            }
            assert!(
                attempt < 5,
                "pg_ctl start failed 5 times; last: {status}\n{}\n{}",
                fs::read_to_string(&pg_ctl_log).unwrap_or_default(),
                fs::read_to_string(&server_log).unwrap_or_default()
            );
        }

        let reaper = spawn_reaper(&bin, &base, as_root);
        let cluster = PgCluster {
            bin,
            base,
            port,
            _reaper: reaper,
        };
        cluster.psql("SELECT 1");
        cluster
    }

    /// Runs one SQL command on the `postgres` database, panicking on error.
    fn psql(&self, sql: &str) {
        let port = self.port.to_string();
        let out = Command::new("timeout")
            .arg("60")
            .arg(self.bin.join("psql"))
            .args([
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-p",
                port.as_str(),
            ])
            .args(["-U", "postgres", "-d", "postgres", "-c", sql])
            .env("PGCONNECT_TIMEOUT", "10")
            .output()
            .unwrap_or_else(|e| panic!("running psql: {e}"));
        assert!(
            out.status.success(),
            "psql {sql:?} failed ({}): {}\n(cluster in {}, see postgres.log there)",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            self.base.display()
        );
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin` holding `initdb`, or `$FOLIO_TEST_PG_BIN`.
fn pg_bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FOLIO_TEST_PG_BIN") {
        return PathBuf::from(dir);
    }
    let root = Path::new("/usr/lib/postgresql");
    let mut best: Option<(Vec<u32>, PathBuf)> = None;
    if let Ok(entries) = fs::read_dir(root) {
        for entry in entries.flatten() {
            let bin = entry.path().join("bin");
            if !bin.join("initdb").is_file() || !bin.join("pg_ctl").is_file() {
                continue;
            }
            let version: Vec<u32> = entry
                .file_name()
                .to_string_lossy()
                .split('.')
                .map(|part| part.parse().unwrap_or(0))
                .collect();
            if best.as_ref().is_none_or(|(v, _)| version > *v) {
                best = Some((version, bin));
            }
        }
    }
    match best {
        Some((_, bin)) if bin.join("psql").is_file() => bin,
        _ => panic!(
            "PostgreSQL server binaries (initdb, pg_ctl, psql) not found under \
             /usr/lib/postgresql/*/bin; {INSTALL_HINT} (package postgresql). \
             FOLIO_TEST_PG_BIN=DIR points the tests at another bin directory."
        ),
    }
}

/// A command that runs `program` as the `postgres` user when we are root.
fn pg_command(program: &Path, as_root: bool) -> Command {
    if as_root {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

/// Starts a detached shell that waits for this process to exit, then stops the cluster
/// (`pg_ctl stop -m immediate`) and deletes its directory. `setsid` keeps it out of the test
/// runner's process group.
fn spawn_reaper(bin: &Path, base: &Path, as_root: bool) -> Option<Child> {
    let stop = if as_root {
        "runuser -u postgres -- \"$2/pg_ctl\""
    } else {
        "\"$2/pg_ctl\""
    };
    let script = format!(
        "while kill -0 \"$1\" 2>/dev/null; do sleep 1; done; \
         {stop} -D \"$3/data\" -m immediate -w stop >/dev/null 2>&1; rm -rf \"$3\""
    );
    let pid = std::process::id().to_string();
    let sh_args = [
        OsStr::new("-c"),
        OsStr::new(&script),
        OsStr::new("folio-pg-reaper"),
        OsStr::new(&pid),
        bin.as_os_str(),
        base.as_os_str(),
    ];
    let spawn = |with_setsid: bool| {
        let mut cmd = if with_setsid {
            let mut cmd = Command::new("setsid");
            cmd.arg("sh");
            cmd
        } else {
            Command::new("sh")
        };
        cmd.args(sh_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
    };
    // Without setsid a plain shell still cleans up, unless the runner kills our process group.
    spawn(true).or_else(|_| spawn(false)).ok()
}

fn running_as_root() -> bool {
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .unwrap_or_else(|e| panic!("finding a free port: {e}"))
}

/// Unique within this machine for practical purposes: pid, a counter and the clock.
fn unique_suffix() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{}_{n}_{nanos:x}", std::process::id())
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Opens `path` for appending, for a child's stdout or stderr.
fn log_file(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()))
}

/// Runs a command to completion and panics with its output if it fails.
fn run_checked(cmd: &mut Command, what: &str) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{what}: {cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

// ---------------------------------------------------------------------------------------------
// HTTP and raw IPP
// ---------------------------------------------------------------------------------------------

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(120))
        .build()
}

/// Reads a ureq outcome into (HTTP status, body); HTTP error statuses are not errors here.
fn read_response(outcome: Result<ureq::Response, ureq::Error>) -> Result<(u16, Vec<u8>), String> {
    let response = match outcome {
        Ok(response) | Err(ureq::Error::Status(_, response)) => response,
        Err(ureq::Error::Transport(transport)) => return Err(transport.to_string()),
    };
    let status = response.status();
    let mut body = Vec::new();
    response
        .into_reader()
        .read_to_end(&mut body)
        .map_err(|e| format!("reading the response body: {e}"))?;
    Ok((status, body))
}

/// GET `http://127.0.0.1:PORT{path}`: (HTTP status, body), or the transport error.
pub fn try_http_get(port: u16, path: &str) -> Result<(u16, Vec<u8>), String> {
    read_response(
        agent()
            .get(&format!("http://127.0.0.1:{port}{path}"))
            .call(),
    )
}

/// GET `http://127.0.0.1:PORT{path}`: (HTTP status, body as text); panics on transport errors.
pub fn http_get(port: u16, path: &str) -> (u16, String) {
    let (status, body) =
        try_http_get(port, path).unwrap_or_else(|e| panic!("GET {path} on port {port}: {e}"));
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// POSTs `body` to `http://127.0.0.1:PORT/ipp/print` as `application/ipp`: (HTTP status, body),
/// or the transport error (e.g. the server closed the connection).
pub fn try_post_ipp(port: u16, body: &[u8]) -> Result<(u16, Vec<u8>), String> {
    read_response(
        agent()
            .post(&format!("http://127.0.0.1:{port}/ipp/print"))
            .set("Content-Type", "application/ipp")
            .send_bytes(body),
    )
}

/// Like [`try_post_ipp`], panicking on transport errors.
pub fn post_ipp(port: u16, body: &[u8]) -> (u16, Vec<u8>) {
    try_post_ipp(port, body)
        .unwrap_or_else(|e| panic!("POST /ipp/print on port {port} ({} bytes): {e}", body.len()))
}

/// IPP delimiter and value tags (RFC 8010 section 3.5).
pub mod tag {
    pub const OPERATION_ATTRIBUTES: u8 = 0x01;
    pub const JOB_ATTRIBUTES: u8 = 0x02;
    pub const END_OF_ATTRIBUTES: u8 = 0x03;
    pub const PRINTER_ATTRIBUTES: u8 = 0x04;
    pub const UNSUPPORTED_ATTRIBUTES: u8 = 0x05;
    pub const UNSUPPORTED_VALUE: u8 = 0x10;
    pub const UNKNOWN: u8 = 0x12;
    pub const NO_VALUE: u8 = 0x13;
    pub const INTEGER: u8 = 0x21;
    pub const BOOLEAN: u8 = 0x22;
    pub const ENUM: u8 = 0x23;
    pub const OCTET_STRING: u8 = 0x30;
    pub const DATE_TIME: u8 = 0x31;
    pub const RESOLUTION: u8 = 0x32;
    pub const RANGE_OF_INTEGER: u8 = 0x33;
    pub const BEG_COLLECTION: u8 = 0x34;
    pub const TEXT_WITH_LANGUAGE: u8 = 0x35;
    pub const NAME_WITH_LANGUAGE: u8 = 0x36;
    pub const END_COLLECTION: u8 = 0x37;
    pub const TEXT_WITHOUT_LANGUAGE: u8 = 0x41;
    pub const NAME_WITHOUT_LANGUAGE: u8 = 0x42;
    pub const KEYWORD: u8 = 0x44;
    pub const URI: u8 = 0x45;
    pub const URI_SCHEME: u8 = 0x46;
    pub const CHARSET: u8 = 0x47;
    pub const NATURAL_LANGUAGE: u8 = 0x48;
    pub const MIME_MEDIA_TYPE: u8 = 0x49;
    pub const MEMBER_ATTR_NAME: u8 = 0x4A;
    pub const EXTENSION: u8 = 0x7F;
}

/// IPP operation ids.
pub mod op {
    pub const PRINT_JOB: u16 = 0x0002;
    pub const PRINT_URI: u16 = 0x0003;
    pub const VALIDATE_JOB: u16 = 0x0004;
    pub const CREATE_JOB: u16 = 0x0005;
    pub const SEND_DOCUMENT: u16 = 0x0006;
    pub const SEND_URI: u16 = 0x0007;
    pub const CANCEL_JOB: u16 = 0x0008;
    pub const GET_JOB_ATTRIBUTES: u16 = 0x0009;
    pub const GET_JOBS: u16 = 0x000A;
    pub const GET_PRINTER_ATTRIBUTES: u16 = 0x000B;
    pub const HOLD_JOB: u16 = 0x000C;
    pub const RELEASE_JOB: u16 = 0x000D;
    pub const RESTART_JOB: u16 = 0x000E;
    pub const PAUSE_PRINTER: u16 = 0x0010;
    pub const RESUME_PRINTER: u16 = 0x0011;
    pub const SET_JOB_ATTRIBUTES: u16 = 0x0014;
    pub const CANCEL_JOBS: u16 = 0x0038;
    pub const CANCEL_MY_JOBS: u16 = 0x0039;
    pub const CLOSE_JOB: u16 = 0x003B;
    pub const IDENTIFY_PRINTER: u16 = 0x003C;
    pub const VALIDATE_DOCUMENT: u16 = 0x003D;
}

/// IPP status codes.
pub mod status {
    pub const SUCCESSFUL_OK: u16 = 0x0000;
    pub const SUCCESSFUL_OK_IGNORED_OR_SUBSTITUTED_ATTRIBUTES: u16 = 0x0001;
    pub const CLIENT_ERROR_BAD_REQUEST: u16 = 0x0400;
    pub const CLIENT_ERROR_FORBIDDEN: u16 = 0x0401;
    pub const CLIENT_ERROR_NOT_AUTHENTICATED: u16 = 0x0402;
    pub const CLIENT_ERROR_NOT_AUTHORIZED: u16 = 0x0403;
    pub const CLIENT_ERROR_NOT_POSSIBLE: u16 = 0x0404;
    pub const CLIENT_ERROR_TIMEOUT: u16 = 0x0405;
    pub const CLIENT_ERROR_NOT_FOUND: u16 = 0x0406;
    pub const CLIENT_ERROR_GONE: u16 = 0x0407;
    pub const CLIENT_ERROR_REQUEST_ENTITY_TOO_LARGE: u16 = 0x0408;
    pub const CLIENT_ERROR_REQUEST_VALUE_TOO_LONG: u16 = 0x0409;
    pub const CLIENT_ERROR_DOCUMENT_FORMAT_NOT_SUPPORTED: u16 = 0x040A;
    pub const CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED: u16 = 0x040B;
    pub const CLIENT_ERROR_URI_SCHEME_NOT_SUPPORTED: u16 = 0x040C;
    pub const CLIENT_ERROR_CHARSET_NOT_SUPPORTED: u16 = 0x040D;
    pub const CLIENT_ERROR_CONFLICTING_ATTRIBUTES: u16 = 0x040E;
    pub const CLIENT_ERROR_COMPRESSION_NOT_SUPPORTED: u16 = 0x040F;
    pub const CLIENT_ERROR_COMPRESSION_ERROR: u16 = 0x0410;
    pub const CLIENT_ERROR_DOCUMENT_FORMAT_ERROR: u16 = 0x0411;
    pub const CLIENT_ERROR_DOCUMENT_ACCESS_ERROR: u16 = 0x0412;
    pub const SERVER_ERROR_INTERNAL_ERROR: u16 = 0x0500;
    pub const SERVER_ERROR_OPERATION_NOT_SUPPORTED: u16 = 0x0501;
    pub const SERVER_ERROR_SERVICE_UNAVAILABLE: u16 = 0x0502;
    pub const SERVER_ERROR_VERSION_NOT_SUPPORTED: u16 = 0x0503;
    pub const SERVER_ERROR_DEVICE_ERROR: u16 = 0x0504;
    pub const SERVER_ERROR_TEMPORARY_ERROR: u16 = 0x0505;
    pub const SERVER_ERROR_NOT_ACCEPTING_JOBS: u16 = 0x0506;
    pub const SERVER_ERROR_BUSY: u16 = 0x0507;
    pub const SERVER_ERROR_JOB_CANCELED: u16 = 0x0508;
    pub const SERVER_ERROR_MULTIPLE_DOCUMENT_JOBS_NOT_SUPPORTED: u16 = 0x0509;
}

/// A hand-built IPP request, for malformed-input tests; nothing is validated.
///
/// `RawIpp::new(op::GET_PRINTER_ATTRIBUTES).operation_prelude(&uri).build()` is a valid
/// request; [`RawIpp::raw`], [`RawIpp::version`] and [`RawIpp::without_end_tag`] break it.
#[derive(Clone, Debug)]
pub struct RawIpp {
    version: (u8, u8),
    operation: u16,
    request_id: u32,
    attributes: Vec<u8>,
    end_tag: bool,
    document: Vec<u8>,
}

impl RawIpp {
    /// An IPP/2.0 request for `operation` with request-id 1 and no attributes yet.
    pub fn new(operation: u16) -> RawIpp {
        RawIpp {
            version: (2, 0),
            operation,
            request_id: 1,
            attributes: Vec::new(),
            end_tag: true,
            document: Vec::new(),
        }
    }

    /// Sets the version-number bytes.
    pub fn version(mut self, major: u8, minor: u8) -> RawIpp {
        self.version = (major, minor);
        self
    }

    /// Sets the request-id.
    pub fn request_id(mut self, id: u32) -> RawIpp {
        self.request_id = id;
        self
    }

    /// Appends a delimiter tag starting an attribute group (see [`tag`]).
    pub fn group(mut self, delimiter: u8) -> RawIpp {
        self.attributes.push(delimiter);
        self
    }

    /// Appends an attribute: value tag, name length and name, value length and value.
    pub fn attr(mut self, value_tag: u8, name: &str, value: &[u8]) -> RawIpp {
        self.attributes.push(value_tag);
        push_with_length(&mut self.attributes, name.as_bytes());
        push_with_length(&mut self.attributes, value);
        self
    }

    /// Appends an additional value of the previous attribute (name length 0).
    pub fn value(mut self, value_tag: u8, value: &[u8]) -> RawIpp {
        self.attributes.push(value_tag);
        push_with_length(&mut self.attributes, b"");
        push_with_length(&mut self.attributes, value);
        self
    }

    /// Appends a string-valued attribute (keyword, name, text, uri, charset, ...).
    pub fn attr_str(self, value_tag: u8, name: &str, value: &str) -> RawIpp {
        self.attr(value_tag, name, value.as_bytes())
    }

    /// Appends an integer or enum attribute.
    pub fn attr_i32(self, value_tag: u8, name: &str, value: i32) -> RawIpp {
        self.attr(value_tag, name, &value.to_be_bytes())
    }

    /// Appends a boolean attribute.
    pub fn attr_bool(self, name: &str, value: bool) -> RawIpp {
        self.attr(tag::BOOLEAN, name, &[u8::from(value)])
    }

    /// Starts the operation group with attributes-charset utf-8, attributes-natural-language en
    /// and printer-uri, in the required order.
    pub fn operation_prelude(self, printer_uri: &str) -> RawIpp {
        self.group(tag::OPERATION_ATTRIBUTES)
            .attr_str(tag::CHARSET, "attributes-charset", "utf-8")
            .attr_str(tag::NATURAL_LANGUAGE, "attributes-natural-language", "en")
            .attr_str(tag::URI, "printer-uri", printer_uri)
    }

    /// Appends arbitrary bytes to the attribute section.
    pub fn raw(mut self, bytes: &[u8]) -> RawIpp {
        self.attributes.extend_from_slice(bytes);
        self
    }

    /// Leaves out the end-of-attributes tag.
    pub fn without_end_tag(mut self) -> RawIpp {
        self.end_tag = false;
        self
    }

    /// Document data sent after the end-of-attributes tag.
    pub fn document(mut self, data: &[u8]) -> RawIpp {
        self.document = data.to_vec();
        self
    }

    /// The request bytes.
    pub fn build(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(9 + self.attributes.len() + self.document.len());
        out.push(self.version.0);
        out.push(self.version.1);
        out.extend_from_slice(&self.operation.to_be_bytes());
        out.extend_from_slice(&self.request_id.to_be_bytes());
        out.extend_from_slice(&self.attributes);
        if self.end_tag {
            out.push(tag::END_OF_ATTRIBUTES);
        }
        out.extend_from_slice(&self.document);
        out
    }
}

fn push_with_length(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u16::try_from(bytes.len()).unwrap_or_else(|_| {
        panic!(
            "an IPP name or value is at most 65535 bytes (got {}); use RawIpp::raw for odd lengths",
            bytes.len()
        )
    });
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
}

/// One attribute value of a parsed IPP response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IppValue {
    /// The delimiter tag of the group the value is in.
    pub group: u8,
    /// The value tag.
    pub value_tag: u8,
    /// The attribute name (repeated for additional values).
    pub name: String,
    /// The raw value bytes.
    pub value: Vec<u8>,
}

impl IppValue {
    /// The value as text; for textWithLanguage/nameWithLanguage, the text part.
    pub fn text(&self) -> String {
        if self.value_tag == tag::TEXT_WITH_LANGUAGE || self.value_tag == tag::NAME_WITH_LANGUAGE {
            if let Some(text) = with_language_text(&self.value) {
                return text;
            }
        }
        String::from_utf8_lossy(&self.value).into_owned()
    }

    /// The value as a big-endian i32 (integer, enum), if it is 4 bytes long.
    pub fn integer(&self) -> Option<i32> {
        <[u8; 4]>::try_from(self.value.as_slice())
            .ok()
            .map(i32::from_be_bytes)
    }
}

/// The text part of a textWithLanguage value: lang length, lang, text length, text.
fn with_language_text(value: &[u8]) -> Option<String> {
    let lang_len = usize::from(u16::from_be_bytes([*value.first()?, *value.get(1)?]));
    let rest = value.get(2 + lang_len..)?;
    let text_len = usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?]));
    let text = rest.get(2..2 + text_len)?;
    Some(String::from_utf8_lossy(text).into_owned())
}

/// A parsed IPP response (collections are not interpreted: their member values are listed
/// flat, as they come).
#[derive(Clone, Debug)]
pub struct IppResponse {
    pub version: (u8, u8),
    pub status: u16,
    pub request_id: u32,
    pub values: Vec<IppValue>,
}

impl IppResponse {
    /// All values of attribute `name`.
    pub fn all(&self, name: &str) -> Vec<&IppValue> {
        self.values.iter().filter(|v| v.name == name).collect()
    }

    /// The first value of attribute `name`.
    pub fn first(&self, name: &str) -> Option<&IppValue> {
        self.values.iter().find(|v| v.name == name)
    }

    /// The first value of `name` as text.
    pub fn text(&self, name: &str) -> Option<String> {
        self.first(name).map(IppValue::text)
    }

    /// The first value of `name` as an integer or enum.
    pub fn integer(&self, name: &str) -> Option<i32> {
        self.first(name).and_then(IppValue::integer)
    }

    /// Whether any group has delimiter `group` (e.g. [`tag::UNSUPPORTED_ATTRIBUTES`]).
    pub fn has_group(&self, group: u8) -> bool {
        self.values.iter().any(|v| v.group == group)
    }
}

/// Parses an IPP response; `Err` describes where the bytes stop making sense.
pub fn parse_response(body: &[u8]) -> Result<IppResponse, String> {
    if body.len() < 8 {
        return Err(format!(
            "an IPP response has at least 8 bytes, got {}: {}",
            body.len(),
            hex(body)
        ));
    }
    let mut response = IppResponse {
        version: (body[0], body[1]),
        status: u16::from_be_bytes([body[2], body[3]]),
        request_id: u32::from_be_bytes([body[4], body[5], body[6], body[7]]),
        values: Vec::new(),
    };
    let mut pos = 8;
    let mut group = 0u8;
    let mut name = String::new();
    loop {
        let Some(&value_tag) = body.get(pos) else {
            return Err(format!("no end-of-attributes tag (ran out at byte {pos})"));
        };
        pos += 1;
        if value_tag == tag::END_OF_ATTRIBUTES {
            return Ok(response);
        }
        if value_tag < 0x10 {
            group = value_tag;
            continue;
        }
        let name_bytes = read_with_length(body, &mut pos)
            .ok_or_else(|| format!("truncated attribute name at byte {pos}"))?;
        if !name_bytes.is_empty() {
            name = String::from_utf8_lossy(name_bytes).into_owned();
        }
        let value = read_with_length(body, &mut pos)
            .ok_or_else(|| format!("truncated value of {name:?} at byte {pos}"))?;
        response.values.push(IppValue {
            group,
            value_tag,
            name: name.clone(),
            value: value.to_vec(),
        });
    }
}

fn read_with_length<'a>(body: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let len = usize::from(u16::from_be_bytes([*body.get(*pos)?, *body.get(*pos + 1)?]));
    let bytes = body.get(*pos + 2..*pos + 2 + len)?;
    *pos += 2 + len;
    Some(bytes)
}

/// The status code (bytes 2..4) and `status-message` of an IPP response; panics on bodies
/// shorter than 8 bytes. A malformed attribute section just yields no message.
pub fn parse_status(body: &[u8]) -> (u16, Option<String>) {
    assert!(
        body.len() >= 8,
        "not an IPP response ({} bytes): {}",
        body.len(),
        hex(body)
    );
    let status = u16::from_be_bytes([body[2], body[3]]);
    let message = parse_response(body)
        .ok()
        .and_then(|response| response.text("status-message"));
    (status, message)
}

/// Lower-case hex of at most the first 256 bytes.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(2 * bytes.len().min(256) + 3);
    for byte in bytes.iter().take(256) {
        let _ = write!(out, "{byte:02x}");
    }
    if bytes.len() > 256 {
        out.push_str("...");
    }
    out
}

// ---------------------------------------------------------------------------------------------
// ipptool
// ---------------------------------------------------------------------------------------------

/// Whether `program` is an executable file on `$PATH`.
fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

fn require_ipptool() {
    assert!(
        on_path("ipptool"),
        "ipptool is not installed (Debian package cups-ipp-utils); {INSTALL_HINT}"
    );
}

/// Runs `timeout 300 ipptool ARGS` in `cwd`; panics if ipptool is not installed.
pub fn ipptool(args: &[&str], cwd: &Path) -> Output {
    require_ipptool();
    Command::new("timeout")
        .arg("300")
        .arg("ipptool")
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running ipptool {args:?}: {e}"))
}

/// What one ipptool suite run reported. Counts come from the `[PASS]`/`[FAIL]`/`[SKIP]` result
/// lines, not from the exit code or the `Summary:` line: ipptool 2.4 exits 0 and may print no
/// summary when a file aborts part-way or an included file fails.
#[derive(Clone, Debug, Default)]
pub struct SuiteResult {
    pub passed: u32,
    pub failed: u32,
    pub skipped: u32,
    /// `(tests, passed, failed, skipped)` from the `Summary:` line, when ipptool printed one.
    pub summary: Option<(u32, u32, u32, u32)>,
    /// ipptool's exit code (`None` if killed by a signal; 124 when `timeout` stopped it).
    pub exit_code: Option<i32>,
    /// Signs the run did not complete: ipptool's own error lines (unreadable FILE, connection
    /// refused, parse errors) and timeouts. Should be empty.
    pub problems: Vec<String>,
    /// stdout followed by stderr.
    pub output: String,
}

impl SuiteResult {
    /// Each `[FAIL]` line with the indented detail lines (EXPECTED..., GOT...) below it.
    pub fn failure_report(&self) -> String {
        let mut report = String::new();
        let mut in_failure = false;
        for line in self.output.lines() {
            if line.trim_end().ends_with("[FAIL]") {
                in_failure = true;
            } else if !(in_failure && line.starts_with("        ")) {
                in_failure = false;
            }
            if in_failure {
                report.push_str(line);
                report.push('\n');
            }
        }
        report
    }
}

/// Parses ipptool `-t` output (stdout then stderr) and its exit code.
pub fn parse_ipptool_output(output: &str, exit_code: Option<i32>) -> SuiteResult {
    let mut result = SuiteResult {
        exit_code,
        output: output.to_owned(),
        ..SuiteResult::default()
    };
    for line in output.lines() {
        let trimmed = line.trim();
        if trimmed.ends_with("[PASS]") {
            result.passed += 1;
        } else if trimmed.ends_with("[FAIL]") {
            result.failed += 1;
        } else if trimmed.ends_with("[SKIP]") {
            result.skipped += 1;
        } else if let Some(rest) = trimmed.strip_prefix("Summary:") {
            // "Summary: 66 tests, 33 passed, 3 failed, 30 skipped"
            let numbers: Vec<u32> = rest
                .split(',')
                .filter_map(|part| part.split_whitespace().next()?.parse().ok())
                .collect();
            if let [tests, passed, failed, skipped] = numbers[..] {
                result.summary = Some((tests, passed, failed, skipped));
            }
        } else if trimmed.starts_with("ipptool:") {
            result.problems.push(trimmed.to_owned());
        }
    }
    match exit_code {
        Some(124) => result
            .problems
            .push("timeout stopped ipptool: the suite did not finish".to_owned()),
        None => result
            .problems
            .push("ipptool was killed by a signal".to_owned()),
        Some(_) => {}
    }
    if result.passed + result.failed + result.skipped == 0 {
        result
            .problems
            .push("ipptool reported no test results".to_owned());
    }
    result
}

/// Runs `timeout 600 ipptool -t -I -T 30 -f testfile.pdf ipp://127.0.0.1:PORT/ipp/print SUITE`
/// in `dir` (a [`conformance_dir`]). `-f` sets `$filename`, which ipp-1.1.test prints with;
/// without it ipptool aborts that file (and every file including it) at its first Print-Job.
pub fn run_suite(port: u16, suite_file: &str, dir: &Path) -> SuiteResult {
    require_ipptool();
    let uri = format!("ipp://127.0.0.1:{port}/ipp/print");
    let out = Command::new("timeout")
        .arg("600")
        .arg("ipptool")
        .args(if suite_file.starts_with("ipp-1.1") {
            &[][..]
        } else {
            &["-V", "2.0"][..]
        })
        .args([
            "-t",
            "-I",
            "-T",
            "30",
            "-f",
            "testfile.pdf",
            uri.as_str(),
            suite_file,
        ])
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running ipptool on {suite_file}: {e}"));
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    parse_ipptool_output(&text, out.status.code())
}

// ---------------------------------------------------------------------------------------------
// Conformance directory
// ---------------------------------------------------------------------------------------------

/// Where CUPS installs the ipptool suites (Debian package cups-ipp-utils).
const SUITES_DIR: &str = "/usr/share/cups/ipptool";
/// The suites copied into the conformance directory.
pub const SUITES: [&str; 3] = ["ipp-1.1.test", "ipp-2.0.test", "ipp-everywhere.test"];
/// Files every conformance directory must hold (besides the PWG raster samples).
const CONFORMANCE_FILES: [&str; 16] = [
    "ipp-1.1.test",
    "ipp-2.0.test",
    "ipp-everywhere.test",
    "ipp-everywhere-fixed.test",
    "document-letter.pdf",
    "document-a4.pdf",
    "document-letter.ps",
    "document-a4.ps",
    "onepage-letter.pdf",
    "onepage-a4.pdf",
    "testfile.pdf",
    "color.jpg",
    "gray.jpg",
    "testfile.jpg",
    "pwg-raster-samples-300dpi/sgray-8/document-letter-sgray-8-300dpi.pwg",
    "pwg-raster-samples-600dpi/black-1/color.jpg-4x6-black-1-600dpi.pwg",
];
/// The script that builds a conformance directory.
const MAKE_CONFORMANCE_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/scripts/make-conformance-dir.sh"
);

static CONFORMANCE_DIR: OnceLock<PathBuf> = OnceLock::new();

/// A directory holding the three ipptool suites, `ipp-everywhere-fixed.test` and every sample
/// document they name (generated with Ghostscript by `scripts/make-conformance-dir.sh`).
///
/// Read-only for tests. Built once per process and cached on disk under `CARGO_TARGET_TMPDIR`,
/// keyed by the script, the suites and `$PWG_REAL`, so test processes share one copy.
pub fn conformance_dir() -> &'static Path {
    CONFORMANCE_DIR.get_or_init(build_conformance_dir)
}

fn build_conformance_dir() -> PathBuf {
    require_ipptool();
    let mut hasher = DefaultHasher::new();
    let script = fs::read(MAKE_CONFORMANCE_DIR)
        .unwrap_or_else(|e| panic!("reading {MAKE_CONFORMANCE_DIR}: {e}"));
    script.hash(&mut hasher);
    let suites_dir = std::env::var_os("IPPTOOL_SUITES_DIR")
        .map_or_else(|| PathBuf::from(SUITES_DIR), PathBuf::from);
    for suite in SUITES {
        let path = suites_dir.join(suite);
        let text = fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "reading {}: {e}; the ipptool suites come with cups-ipp-utils: {INSTALL_HINT}",
                path.display()
            )
        });
        text.hash(&mut hasher);
    }
    std::env::var("PWG_REAL")
        .unwrap_or_default()
        .hash(&mut hasher);

    let cache_root = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dest = cache_root.join(format!("ipptool-conformance-{:016x}", hasher.finish()));
    let complete = |dir: &Path| {
        dir.join(".complete").is_file() && CONFORMANCE_FILES.iter().all(|f| dir.join(f).is_file())
    };
    if complete(&dest) {
        return dest;
    }

    let _ = fs::create_dir_all(cache_root);
    let work = cache_root.join(format!("ipptool-conformance-tmp-{}", unique_suffix()));
    let out = Command::new("timeout")
        .arg("900")
        .arg("sh")
        .arg(MAKE_CONFORMANCE_DIR)
        .arg(&work)
        .env("IPPTOOL_SUITES_DIR", suites_dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {MAKE_CONFORMANCE_DIR}: {e}"));
    if !out.status.success() || !CONFORMANCE_FILES.iter().all(|f| work.join(f).is_file()) {
        let _ = fs::remove_dir_all(&work);
        panic!(
            "{MAKE_CONFORMANCE_DIR} failed ({}); it needs Ghostscript and cups-ipp-utils: \
             {INSTALL_HINT}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    fs::write(work.join(".complete"), b"")
        .unwrap_or_else(|e| panic!("writing {}/.complete: {e}", work.display()));
    // Another test process may have finished first: then keep its copy and drop ours.
    if fs::rename(&work, &dest).is_err() {
        let _ = fs::remove_dir_all(&work);
        assert!(
            complete(&dest),
            "could not move the conformance directory into {}",
            dest.display()
        );
    }
    dest
}

// ---------------------------------------------------------------------------------------------
// Spool verification
// ---------------------------------------------------------------------------------------------

/// Runs `folio spool verify --json` on a server's data directory and database: one
/// `(job id, sha256 of the decrypted document, ok)` per held document.
pub fn verify_spool(server: &TestServer) -> Vec<(i64, String, bool)> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_folio"));
    cmd.arg("--data-dir").arg(&server.data_dir);
    if let Some(url) = &server.db_url {
        cmd.arg("--database-url").arg(url);
    }
    let out = cmd
        .args(["spool", "verify", "--json"])
        .env("RUST_LOG", "error")
        .output()
        .unwrap_or_else(|e| panic!("running folio spool verify: {e}"));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "folio spool verify printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    json.as_array()
        .expect("a JSON array")
        .iter()
        .map(|d| {
            (
                d["job_id"].as_i64().expect("job_id"),
                d["sha256"].as_str().unwrap_or("").to_owned(),
                d["ok"].as_bool().expect("ok"),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The command line
// ---------------------------------------------------------------------------------------------

/// What a `folio` command printed and returned.
pub struct CliOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `folio ARGS --data-dir DATA_DIR [--database-url URL]` without the test's `FOLIO_*`
/// environment.
pub fn folio_cli(data_dir: &Path, db_url: Option<&str>, args: &[&str]) -> CliOutput {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_folio"));
    cmd.args(args).arg("--data-dir").arg(data_dir);
    if let Some(url) = db_url {
        cmd.arg("--database-url").arg(url);
    }
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("FOLIO_") {
            cmd.env_remove(key);
        }
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running folio {args:?}: {e}"));
    CliOutput {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
