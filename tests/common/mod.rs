//! Shared helpers for Folio's integration tests.
//!
//! They start the real `folio` binary on SQLite or on a throwaway PostgreSQL cluster, speak raw
//! IPP to it, and run CUPS' `ipptool` conformance suites against it. The one integration test
//! binary (`tests/main.rs`) declares it; the areas use it as `crate::common`.
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

pub use folio::config::Settings;

pub mod archive;
pub mod browser;
pub mod builders;
pub mod copier;
pub mod directory;
pub mod proxy;
pub mod release;
pub mod tls;

mod conformance;
mod http;
mod postgres;
pub use builders::{TestDevice, TestJob};
pub use conformance::*;
pub use http::*;
pub use postgres::*;

/// The settings every test server (and CLI run) starts from: `Settings::default()` as a site
/// sets it for its own networks, the tests' print clients and copiers being on loopback, and
/// no PIN after the badge (the default, a PIN, has tests of its own). A test changes what it
/// needs with [`AppBuilder::settings`]: a misspelt setting does not compile.
pub fn test_settings() -> Settings {
    let mut s = Settings::default();
    s.ipp.trusted_networks = vec!["127.0.0.0/8".into(), "::1/128".into()];
    s.devices.allowed_networks = vec!["127.0.0.0/8".into(), "::1/128".into(), "10.0.0.0/8".into()];
    s.devices.allowed_ports = vec!["1-65535".into()];
    s.directory.badge_requires_pin = false;
    s
}

/// The configuration file a test server reads, in its data directory.
pub const CONFIG_FILE: &str = "test-folio.toml";

/// Writes `settings` as the configuration file of `data_dir`; its path.
pub fn write_config(data_dir: &Path, settings: &Settings) -> PathBuf {
    let path = data_dir.join(CONFIG_FILE);
    let text = toml::to_string(settings).unwrap_or_else(|e| panic!("settings as TOML: {e}"));
    fs::write(&path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    path
}

/// How long a server may take to print its `listening on` line.
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
pub struct TestApp {
    /// The port the server printed in its `listening on` line (IPP and HTTP).
    pub port: u16,
    /// The database backend.
    pub backend: Backend,
    /// The server's `--data-dir`; kept for restarts.
    pub data_dir: PathBuf,
    /// The `--database-url` passed, if any (always set on PostgreSQL).
    pub db_url: Option<String>,
    /// The settings it runs with (`DATA_DIR/test-folio.toml`).
    pub settings: Settings,
    env: Vec<(String, String)>,
    child: Child,
    /// Owns the data directory when the builder made it.
    _temp: Option<tempfile::TempDir>,
    /// The builder made its PostgreSQL database: dropped with the server.
    owns_database: bool,
}

/// A test server to start: its typed settings, directory, data directory and database.
pub struct AppBuilder {
    backend: Backend,
    settings: Settings,
    users: Option<Vec<directory::TestUser>>,
    data_dir: Option<PathBuf>,
    db_url: Option<String>,
    env: Vec<(String, String)>,
}

impl AppBuilder {
    /// Changes settings (starting from [`test_settings`]).
    pub fn settings(mut self, change: impl FnOnce(&mut Settings)) -> AppBuilder {
        change(&mut self.settings);
        self
    }

    /// The file directory's users and badges (instead of the default ones the tests print as).
    pub fn directory(mut self, users: &[directory::TestUser]) -> AppBuilder {
        self.users = Some(users.to_vec());
        self
    }

    /// Runs on `dir`, which the caller keeps (and may share with a restarted server).
    pub fn data_dir(mut self, dir: &Path) -> AppBuilder {
        self.data_dir = Some(dir.to_owned());
        self
    }

    /// Runs on the database at `url` (a restart on the same database).
    pub fn database(mut self, url: &str) -> AppBuilder {
        self.db_url = Some(url.to_owned());
        self
    }

    /// An environment variable of the process that is not a setting (`RUST_LOG`).
    pub fn env(mut self, key: &str, value: &str) -> AppBuilder {
        assert!(
            !key.starts_with("FOLIO_"),
            "{key}: settings go through AppBuilder::settings"
        );
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Starts the server: a fresh data directory unless given, a fresh PostgreSQL database on
    /// that backend unless given; waits until it answers.
    pub fn start(self) -> TestApp {
        let (temp, data_dir) = match self.data_dir {
            Some(d) => (None, d),
            None => {
                let t = tempfile::Builder::new()
                    .prefix("folio-test-")
                    .tempdir()
                    .unwrap_or_else(|e| panic!("creating a temporary data directory: {e}"));
                let d = t.path().to_owned();
                (Some(t), d)
            }
        };
        if let Some(users) = &self.users {
            directory::write_ldif(&data_dir.join("directory.ldif"), users);
        }
        let owns_database = self.backend == Backend::Postgres && self.db_url.is_none();
        let db_url = match (self.backend, self.db_url) {
            (_, Some(url)) => Some(url),
            (Backend::Postgres, None) => Some(fresh_postgres_database()),
            (Backend::Sqlite, None) => None,
        };
        let (child, port) = launch(&data_dir, db_url.as_deref(), &self.settings, &self.env);
        TestApp {
            port,
            backend: self.backend,
            data_dir,
            db_url,
            settings: self.settings,
            env: self.env,
            child,
            _temp: temp,
            owns_database,
        }
    }
}

impl TestApp {
    /// A server to start on `backend`, from [`test_settings`].
    pub fn builder(backend: Backend) -> AppBuilder {
        AppBuilder {
            backend,
            settings: test_settings(),
            users: None,
            data_dir: None,
            db_url: None,
            env: Vec::new(),
        }
    }

    /// Starts a server on `backend` with a fresh data directory (and a fresh PostgreSQL database)
    /// and the test settings.
    pub fn start(backend: Backend) -> TestApp {
        TestApp::builder(backend).start()
    }

    /// Kills the server with SIGKILL if it still runs, then starts it again on the same data
    /// directory, database and settings. The new server has a new port.
    pub fn restart(&mut self) {
        self.kill9();
        let (child, port) = launch(
            &self.data_dir,
            self.db_url.as_deref(),
            &self.settings,
            &self.env,
        );
        self.child = child;
        self.port = port;
    }

    /// Like [`TestApp::restart`], with settings changed first.
    pub fn restart_with(&mut self, change: impl FnOnce(&mut Settings)) {
        change(&mut self.settings);
        self.restart();
    }

    /// The configuration file the server reads (for the command line beside it).
    pub fn config_file(&self) -> PathBuf {
        self.data_dir.join(CONFIG_FILE)
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

impl Drop for TestApp {
    /// Kills the server. When the test is failing, prints the end of the server's log and keeps
    /// its data directory for inspection.
    fn drop(&mut self) {
        self.kill9();
        if thread::panicking() {
            eprintln!("{}", self.log_excerpt());
            if let Some(temp) = self._temp.take() {
                eprintln!("data directory kept: {}", temp.keep().display());
            }
            if let Some(url) = self.db_url.as_ref().filter(|_| self.owns_database) {
                eprintln!("database kept until the run ends: {url}");
            }
        } else if let Some(url) = self.db_url.as_ref().filter(|_| self.owns_database) {
            drop_postgres_database(url);
        }
    }
}

/// Spawns `folio serve --config` with `settings`, waits for its `listening on` line and a 200
/// from `/healthz`.
fn launch(
    data_dir: &Path,
    db_url: Option<&str>,
    settings: &Settings,
    env: &[(String, String)],
) -> (Child, u16) {
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
    let ldif = data_dir.join("directory.ldif");
    if settings.directory.kind == folio::config::DirectoryKind::File && !ldif.exists() {
        directory::write_default(&ldif);
    }
    let config = write_config(data_dir, settings);

    let mut cmd = folio_command();
    cmd.arg("serve")
        .arg("--config")
        .arg(&config)
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--data-dir")
        .arg(data_dir);
    if let Some(url) = db_url {
        cmd.arg("--database-url").arg(url);
    }
    cmd.env("RUST_BACKTRACE", "1");
    for (key, value) in env {
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
    let tls_only = !settings.tls.certificate_file.as_os_str().is_empty()
        && settings.tls.listen.trim().is_empty();
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

/// Fault-injection tests: whether the long variant is asked for (`FOLIO_FAULTS_LONG=1`).
pub fn faults_long_run() -> bool {
    std::env::var("FOLIO_FAULTS_LONG").is_ok_and(|v| v == "1")
}

/// Fault-injection tests: the random seed, `FOLIO_FAULTS_SEED` to replay a run, else the clock.
pub fn faults_seed() -> u64 {
    std::env::var("FOLIO_FAULTS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0)
        })
}

/// Every file under `dir`, recursively (none when it does not exist).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Whether `needle` occurs in `hay`.
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
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
// Spool verification
// ---------------------------------------------------------------------------------------------

/// The `folio` binary as a command, without the test's own `FOLIO_*` variables
/// (`FOLIO_FAULTS_SEED`, `FOLIO_TEST_*`…): they are not settings, and Folio refuses a `FOLIO_*`
/// variable that names none. Settings reach it through its `--config` file.
pub fn folio_command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_folio"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("FOLIO_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// Runs `folio spool verify --json` on a server's data directory and database: one
/// `(job id, sha256 of the decrypted document, ok)` per held document.
pub fn verify_spool(server: &TestApp) -> Vec<(i64, String, bool)> {
    let mut cmd = folio_command();
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
    let mut cmd = folio_command();
    cmd.args(args).arg("--data-dir").arg(data_dir);
    if let Some(url) = db_url {
        cmd.arg("--database-url").arg(url);
    }
    // The server's settings when one runs on this directory, else the tests' defaults.
    let config = data_dir.join(CONFIG_FILE);
    if !config.exists() {
        write_config(data_dir, &test_settings());
    }
    cmd.arg("--config").arg(&config);
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running folio {args:?}: {e}"));
    CliOutput {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
