//! One throwaway PostgreSQL cluster per test run (initdb/pg_ctl in a temp dir, trust
//! authentication on 127.0.0.1), shared by every test process of that run, with a migrated
//! template database that each test clones into its own (`CREATE DATABASE … TEMPLATE`), and
//! psql for assertions.
//!
//! nextest runs each test in its own process: the first one of a run (`NEXTEST_RUN_ID`, else
//! the runner's process id) starts the cluster under a file lock; the others find its port in
//! the shared directory. A reaper stops it and deletes its directory when the runner exits.

use super::*;

/// The run's PostgreSQL cluster, on 127.0.0.1 with trust authentication.
struct PgCluster {
    bin: PathBuf,
    base: PathBuf,
    port: u16,
}

static PG_CLUSTER: OnceLock<PgCluster> = OnceLock::new();

/// The migrated database every test's database is cloned from.
const TEMPLATE: &str = "folio_template";

/// Creates a new database, migrated, in the run's PostgreSQL cluster (started on first use)
/// and returns its URL, `postgres://postgres@127.0.0.1:PORT/folio_t_...`.
pub fn fresh_postgres_database() -> String {
    let cluster = PG_CLUSTER.get_or_init(PgCluster::shared);
    let name = format!("folio_t_{}", unique_suffix());
    // Two clones of the template at the same instant may find it busy: try again.
    for attempt in 1.. {
        match cluster.try_psql(&format!("CREATE DATABASE \"{name}\" TEMPLATE {TEMPLATE}")) {
            Ok(()) => break,
            Err(e) if attempt < 20 && e.contains("being accessed by other users") => {
                thread::sleep(Duration::from_millis(50 * attempt));
            }
            Err(e) => panic!("creating {name}: {e}"),
        }
    }
    format!("postgres://postgres@127.0.0.1:{}/{name}", cluster.port)
}

/// Drops a database made by [`fresh_postgres_database`] (its connections closed first); a
/// failure is only reported, the cluster goes at the end of the run anyway.
pub fn drop_postgres_database(db_url: &str) {
    let Some(cluster) = PG_CLUSTER.get() else {
        return;
    };
    let name = db_url.rsplit('/').next().unwrap_or_default();
    if !name.starts_with("folio_t_") {
        return;
    }
    if let Err(e) = cluster.try_psql(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")) {
        eprintln!("dropping {name}: {e}");
    }
}

/// Runs SQL as the `postgres` superuser on the database of `db_url` (a URL from
/// [`fresh_postgres_database`]), panicking on error; returns psql's unaligned output.
pub fn postgres_sql(db_url: &str, sql: &str) -> String {
    let cluster = PG_CLUSTER.get_or_init(PgCluster::shared);
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

/// What identifies this test run: nextest's run id, else the runner's process id.
fn run_key() -> String {
    if let Ok(id) = std::env::var("NEXTEST_RUN_ID") {
        return id.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    }
    format!("ppid{}", parent_pid())
}

/// This process's parent (the test runner).
fn parent_pid() -> u32 {
    let stat = fs::read_to_string("/proc/self/stat").unwrap_or_default();
    stat.rsplit(')')
        .next()
        .and_then(|r| r.split_whitespace().nth(1))
        .and_then(|p| p.parse().ok())
        .unwrap_or(0)
}

impl PgCluster {
    /// The run's cluster: started by the first test process of the run, found by the others.
    fn shared() -> PgCluster {
        let bin = pg_bin_dir();
        let base = std::env::temp_dir().join(format!("folio-pg-run-{}", run_key()));
        fs::create_dir_all(&base).unwrap_or_else(|e| panic!("creating {}: {e}", base.display()));
        let lock = File::create(base.join("setup.lock"))
            .unwrap_or_else(|e| panic!("creating the cluster's lock: {e}"));
        lock.lock()
            .unwrap_or_else(|e| panic!("locking the cluster's setup: {e}"));
        let ready = base.join("port");
        let port: Option<u16> = fs::read_to_string(&ready)
            .ok()
            .and_then(|p| p.trim().parse().ok());
        let cluster = match port {
            Some(port) => PgCluster { bin, base, port },
            None => {
                let cluster = PgCluster::start(bin, base);
                cluster.template();
                fs::write(&ready, cluster.port.to_string())
                    .unwrap_or_else(|e| panic!("writing the cluster's port: {e}"));
                cluster
            }
        };
        drop(lock);
        cluster
    }

    /// The migrated template database (the server's own migrations, as `folio migrate`).
    fn template(&self) {
        self.psql(&format!("CREATE DATABASE {TEMPLATE}"));
        let url = format!("postgres://postgres@127.0.0.1:{}/{TEMPLATE}", self.port);
        let out = folio_command()
            .args(["migrate", "--database-url", &url])
            .output()
            .unwrap_or_else(|e| panic!("running folio migrate: {e}"));
        assert!(
            out.status.success(),
            "folio migrate on the template failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.psql(&format!(
            "UPDATE pg_database SET datistemplate = true WHERE datname = '{TEMPLATE}'"
        ));
    }

    fn start(bin: PathBuf, base: PathBuf) -> PgCluster {
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

        spawn_reaper(&bin, &base, as_root, parent_pid());
        let cluster = PgCluster { bin, base, port };
        cluster.psql("SELECT 1");
        cluster
    }

    /// Runs one SQL command on the `postgres` database, panicking on error.
    fn psql(&self, sql: &str) {
        if let Err(e) = self.try_psql(sql) {
            panic!("{e}");
        }
    }

    /// Runs one SQL command on the `postgres` database; the error says what psql said.
    fn try_psql(&self, sql: &str) -> Result<(), String> {
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
        if out.status.success() {
            return Ok(());
        }
        Err(format!(
            "psql {sql:?} failed ({}): {}\n(cluster in {}, see postgres.log there)",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            self.base.display()
        ))
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin` holding `initdb`, or `$FOLIO_TEST_PG_BIN`.
pub fn pg_bin_dir() -> PathBuf {
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
pub fn pg_command(program: &Path, as_root: bool) -> Command {
    if as_root {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

/// Starts a detached shell that waits for process `owner` to exit (the test runner, or a test
/// process for a cluster of its own), then stops the cluster (`pg_ctl stop -m immediate`) and
/// deletes its directory. `setsid` keeps it out of the test runner's process group.
pub fn spawn_reaper(bin: &Path, base: &Path, as_root: bool, owner: u32) -> Option<Child> {
    let stop = if as_root {
        "runuser -u postgres -- \"$2/pg_ctl\""
    } else {
        "\"$2/pg_ctl\""
    };
    let script = format!(
        "while kill -0 \"$1\" 2>/dev/null; do sleep 1; done; \
         {stop} -D \"$3/data\" -m immediate -w stop >/dev/null 2>&1; rm -rf \"$3\""
    );
    let pid = owner.to_string();
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

pub fn running_as_root() -> bool {
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}
