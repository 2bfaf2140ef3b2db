//! CUPS' ipptool conformance suites (IPP/1.1, IPP/2.0, IPP Everywhere) against the real server,
//! on both database backends.
//!
//! The suites and their sample documents are prepared by `crate::common::conformance_dir()`;
//! `ipp-everywhere-fixed.test` is `ipp-everywhere.test` with the upstream "document-number"
//! typo fixed (see the fixtures README), so a correct printer passes it with no failure.

use crate::common::{both_backends, conformance_dir, run_suite, Backend, TestApp};

// Failed tests tolerated per suite (each suite includes ipp-1.1.test). Every allowance is
// explained in docs/conformance.md:
// - "Get-Job-Attributes Until Job Complete" (in every suite, through ipp-1.1): it waits for the
//   job to reach canceled/aborted/completed; a Folio job stays held until badged at a copier.
// - "PWG 5100.14 section 5.1/5.2" (ipp-everywhere): Identify-Printer, page-ranges,
//   printer-supply and friends describe a physical printer; the virtual queue has none yet.
//
// Each suite is a test of its own, on a server of its own: the suites mostly wait (the poll
// above lasts 145 s), so they run side by side (`.config/nextest.toml`).

/// The login name ipptool sends as `requesting-user-name` (`$user` in the suites).
fn login_name() -> String {
    let out = std::process::Command::new("id")
        .arg("-un")
        .output()
        .expect("running id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A queue in service has job history: one job printed and canceled before the suites run.
/// (On a queue that never finished a job, ipp-1.1's "which-jobs=completed" tests find nothing
/// to list: docs/conformance.md.)
fn give_the_queue_history(server: &TestApp) {
    use crate::common::{op, parse_response, tag, RawIpp};
    let user = login_name();
    let print = RawIpp::new(op::PRINT_JOB)
        .operation_prelude(&server.ipp_uri())
        .attr_str(tag::NAME_WITHOUT_LANGUAGE, "requesting-user-name", &user)
        .document(&testkit::sample_pdf(1))
        .build();
    let resp = parse_response(&server.post_ipp(&print).1).expect("an IPP response");
    let id = resp.integer("job-id").expect("the job was accepted");
    let cancel = RawIpp::new(op::CANCEL_JOB)
        .operation_prelude(&server.ipp_uri())
        .attr_i32(tag::INTEGER, "job-id", id)
        .attr_str(tag::NAME_WITHOUT_LANGUAGE, "requesting-user-name", &user)
        .build();
    assert_eq!(
        parse_response(&server.post_ipp(&cancel).1).unwrap().status,
        0
    );
}

/// Runs `suite` against a fresh server on `backend`; fails when more than `allowed` of its
/// tests fail or ipptool reports a problem.
fn run_conformance(backend: Backend, suite: &str, allowed: u32) {
    let dir = conformance_dir();
    // ipptool opens a suite file's connection before running the files it includes and sends
    // its first request minutes later: Folio's header timeout would close it (docs/conformance.md).
    let server = TestApp::builder(backend)
        .settings(|s| {
            s.limits.header_timeout_secs = 900;
        })
        .start();
    give_the_queue_history(&server);
    let result = run_suite(server.port, suite, dir);
    eprintln!(
        "{suite} on {}: {} passed, {} failed (allowed {allowed}), {} skipped; summary {:?}",
        backend.name(),
        result.passed,
        result.failed,
        result.skipped,
        result.summary
    );
    assert!(
        result.failed <= allowed && result.problems.is_empty(),
        "ipptool conformance failures in {suite} on {}: {} failed (allowed {allowed}), {} passed, \
         {} skipped\nproblems: {:?}\n{}\n{}",
        backend.name(),
        result.failed,
        result.passed,
        result.skipped,
        result.problems,
        result.failure_report(),
        server.log_excerpt()
    );
}

both_backends!(
    ipp_1_1_suite_passes_but_for_a_held_job_never_completing,
    |backend| {
        run_conformance(backend, "ipp-1.1.test", 1);
    }
);

both_backends!(
    ipp_2_0_suite_passes_but_for_a_held_job_never_completing,
    |backend| {
        run_conformance(backend, "ipp-2.0.test", 1);
    }
);

both_backends!(
    ipp_everywhere_suite_passes_but_for_a_held_job_and_the_physical_printer_tests,
    |backend| {
        run_conformance(backend, "ipp-everywhere-fixed.test", 2);
    }
);
