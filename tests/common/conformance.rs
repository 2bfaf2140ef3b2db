//! CUPS' `ipptool` and its conformance suites (IPP/1.1, IPP/2.0, IPP Everywhere), run against a
//! test server from a directory holding the suites and their sample documents.

use super::*;

/// Whether `program` is an executable file on `$PATH`.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

pub fn require_ipptool() {
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

pub fn build_conformance_dir() -> PathBuf {
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
