//! Releases over the other paths: an `ipps://` copier with a self-signed certificate (refused
//! until pinned), LPD with a PJL header, and a Folio node killed in the middle of a release (the
//! job awaits its owner's decision after the restart, and only the node that was sending marks
//! it).

use std::time::{Duration, Instant};

use crate::common::copier::{FakeCopier, IppEvePrinter, LpdSink, Misbehaviour};
use crate::common::directory::{write_ldif, TestUser};
use crate::common::release::{add_device, job_state, print_as, release_one, terminal, wait_state};
use crate::common::{both_backends, folio_cli, TestApp};

const HELD: i32 = 4;
const PROCESSING: i32 = 5;
const PROCESSING_STOPPED: i32 = 6;
const COMPLETED: i32 = 9;

/// Opens a session with `badge` and releases `job`; returns the session as JSON.
fn badge_and_release(server: &TestApp, token: &str, badge: &str, job: i32) -> serde_json::Value {
    let (session, result) = release_one(server, token, badge, job);
    assert_eq!(result["result"], "releasing", "{result}");
    session
}

/// Waits until `job` is held again with a message saying it was not printed.
fn wait_held_again(server: &TestApp, job: i32) -> String {
    wait_held_with(server, job, "not printed")
}

/// Waits until `job` is held again with a message containing `why`.
fn wait_held_with(server: &TestApp, job: i32, why: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (state, message) = job_state(server, "alice", job);
        if state == HELD && message.contains(why) {
            return message;
        }
        assert!(Instant::now() < deadline, "job {job}: {state} {message}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Requests that carried a document to `copier`.
fn documents_at(copier: &FakeCopier) -> usize {
    copier
        .raw
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.windows(5).any(|w| w == b"%PDF-"))
        .count()
}

fn alice_directory(data: &std::path::Path) {
    let mut users = vec![TestUser::new("alice")];
    users[0].badges = vec!["04A1B2C3".into()];
    write_ldif(&data.join("directory.ldif"), &users);
}

#[test]
fn an_ipps_copier_with_a_self_signed_certificate_prints_only_once_pinned() {
    let data = tempfile::tempdir().unwrap();
    alice_directory(data.path());
    let server = TestApp::builder(crate::common::Backend::Sqlite)
        .data_dir(data.path())
        .start();
    let copier = IppEvePrinter::start("Secure Copier", true, false);
    let uri = format!("ipps://127.0.0.1:{}/ipp/print", copier.port);

    // Not pinned: its certificate chains to nothing Folio trusts. Nothing is sent.
    let token = add_device(data.path(), None, "secure-1", &uri);
    let job = print_as(&server, "alice", "Bilan");
    let session = badge_and_release(&server, &token, "04A1B2C3", job);
    assert_eq!(session["device_status"]["ready"], false, "{session}");
    let message = wait_held_again(&server, job);
    assert!(message.contains("certificate"), "{message}");
    assert!(copier.received(1, Duration::from_millis(500)).is_empty());

    // Pinned with the CLI: the fingerprint it records is the copier's certificate.
    let out = folio_cli(data.path(), None, &["device", "pin", "secure-1"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let cert = copier.dir.path().join("keys/localhost.crt");
    let openssl = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(&cert)
        .output()
        .expect("openssl");
    let expected = String::from_utf8_lossy(&openssl.stdout)
        .split('=')
        .nth(1)
        .unwrap()
        .trim()
        .replace(':', "")
        .to_lowercase();
    assert_eq!(
        expected.len(),
        64,
        "{}",
        String::from_utf8_lossy(&openssl.stdout)
    );
    assert!(
        out.stdout.contains(&expected),
        "{} vs {expected}",
        out.stdout
    );

    let session = badge_and_release(&server, &token, "04A1B2C3", job);
    assert_eq!(session["device_status"]["ready"], true, "{session}");
    wait_state(&server, "alice", job, COMPLETED);
    assert_eq!(copier.received(1, Duration::from_secs(30)).len(), 1);

    // Another certificate than the pinned one is refused again.
    let wrong = "ab".repeat(32);
    let out = folio_cli(
        data.path(),
        None,
        &["device", "pin", "secure-1", "--certificate-sha256", &wrong],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let second = print_as(&server, "alice", "Courrier");
    badge_and_release(&server, &token, "04A1B2C3", second);
    wait_held_again(&server, second);
    assert_eq!(copier.received(2, Duration::from_millis(500)).len(), 1);
}

both_backends!(
    a_release_interrupted_by_a_crash_awaits_the_owners_decision,
    |backend| {
        let data = tempfile::tempdir().unwrap();
        alice_directory(data.path());
        let mut server = TestApp::builder(backend)
            .data_dir(data.path())
            .settings(|s| {
                s.node_name = "node-a".into();
            })
            .start();
        // A copier that takes the bytes and never answers: the release is in flight.
        let copier = FakeCopier::start(Misbehaviour::Silent);
        let token = add_device(
            data.path(),
            server.db_url.as_deref(),
            "ward-3",
            &copier.uri(),
        );
        let job = print_as(&server, "alice", "Compte rendu");
        badge_and_release(&server, &token, "04A1B2C3", job);
        // (The session's status check is a request too: wait for the document itself.)
        let deadline = Instant::now() + Duration::from_secs(20);
        while documents_at(&copier) == 0 {
            assert!(
                Instant::now() < deadline,
                "the document never reached the copier"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(job_state(&server, "alice", job).0, PROCESSING);

        // Another node starting on the same database leaves node-a's release alone.
        server.restart_with(|s| {
            s.node_name = "node-b".into();
        });
        assert_eq!(job_state(&server, "alice", job).0, PROCESSING);

        // node-a comes back: the job may have printed, so it is not resent; its owner decides.
        server.restart_with(|s| {
            s.node_name = "node-a".into();
        });
        let (state, message) = job_state(&server, "alice", job);
        assert_eq!(state, PROCESSING_STOPPED, "{message}");
        assert!(message.contains("may or may not have printed"), "{message}");
        let s = terminal(
            &server,
            &token,
            "POST",
            "/api/v1/release/sessions",
            r#"{"badge":"04A1B2C3"}"#,
        );
        let session = s.json();
        assert_eq!(session["jobs"][0]["id"], job as i64, "{session}");
        assert_eq!(session["jobs"][0]["state"], "needs-decision");
        std::thread::sleep(Duration::from_secs(1));
        assert_eq!(documents_at(&copier), 1, "nothing is resent by itself");
    }
);

#[test]
fn an_lpd_printer_gets_the_control_file_and_the_pjl_wrapped_document_once() {
    let data = tempfile::tempdir().unwrap();
    alice_directory(data.path());
    let server = TestApp::builder(crate::common::Backend::Sqlite)
        .data_dir(data.path())
        .start();
    let sink = LpdSink::start();
    let token = crate::common::TestDevice::new(
        "old-laser",
        &format!("lpd://127.0.0.1:{}/BINARY_P1", sink.port),
    )
    .driver("generic-pjl-pdf")
    .add_to(data.path(), None);
    let job = print_as(&server, "alice", "Compte rendu");
    let session = badge_and_release(&server, &token, "04A1B2C3", job);
    assert_eq!(session["device_status"]["ready"], true, "{session}");
    let message = wait_state(&server, "alice", job, COMPLETED);
    assert!(message.contains("no confirmation"), "{message}");

    let jobs = sink.jobs(1, Duration::from_secs(10));
    assert_eq!(jobs.len(), 1);
    let got = &jobs[0];
    assert_eq!(got.queue, "BINARY_P1");
    assert!(got.control.contains("Palice\n"), "{}", got.control);
    assert!(
        got.control.contains("ldfA"),
        "raw data file: {}",
        got.control
    );
    let pdf = testkit::sample_pdf(2);
    assert!(
        got.data.starts_with(b"\x1b%-12345X@PJL"),
        "PJL header first"
    );
    let text = String::from_utf8_lossy(&got.data);
    assert!(text.contains("@PJL SET DUPLEX=ON"), "duplex by default");
    assert!(
        got.data.windows(pdf.len()).any(|w| w == pdf.as_slice()),
        "the document, whole"
    );
    assert!(text.ends_with("@PJL EOJ\n\x1b%-12345X"), "PJL trailer last");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(sink.jobs(2, Duration::from_millis(100)).len(), 1, "once");
}

both_backends!(
    a_copier_that_aborts_holds_the_job_again_and_one_busy_twice_prints_it_once,
    |backend| {
        let data = tempfile::tempdir().unwrap();
        alice_directory(data.path());
        let server = TestApp::builder(backend).data_dir(data.path()).start();

        // The copier takes the job, then gives up on it: nothing printed, held again.
        let aborts = FakeCopier::start(Misbehaviour::Aborts);
        let token = add_device(
            data.path(),
            server.db_url.as_deref(),
            "ward-5",
            &aborts.uri(),
        );
        let job = print_as(&server, "alice", "Compte rendu");
        badge_and_release(&server, &token, "04A1B2C3", job);
        let message = wait_held_with(&server, job, "did not print it");
        assert!(message.contains("ward-5"), "{message}");

        // Busy twice, then it takes the job: retried with backoff, printed once.
        let busy = FakeCopier::start(Misbehaviour::BusyTwice);
        let token = add_device(data.path(), server.db_url.as_deref(), "ward-6", &busy.uri());
        badge_and_release(&server, &token, "04A1B2C3", job);
        let message = wait_state(&server, "alice", job, COMPLETED);
        assert!(
            message.contains("printed at ward-6 (2 impressions)"),
            "{message}"
        );
        assert_eq!(
            documents_at(&busy),
            3,
            "two busy answers, then the one that printed"
        );
    }
);

#[test]
fn a_job_larger_than_the_copier_takes_is_kept_for_another_copier() {
    let data = tempfile::tempdir().unwrap();
    alice_directory(data.path());
    // A site profile for a copier that takes at most 1 MB.
    let drivers = data.path().join("drivers");
    std::fs::create_dir_all(&drivers).unwrap();
    let shipped = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("drivers/generic-pjl-pdf.toml"),
    )
    .unwrap();
    std::fs::write(
        drivers.join("small-pjl.toml"),
        format!("{shipped}\n[quirks]\nmax_job_mb = 1\n"),
    )
    .unwrap();
    let server = TestApp::builder(crate::common::Backend::Sqlite)
        .data_dir(data.path())
        .settings(|s| s.drivers_dir = drivers.clone())
        .start();
    let sink = crate::common::copier::SocketSink::start();
    // The command line reads the server's settings (its drivers directory).
    let uri = format!("socket://127.0.0.1:{}", sink.port);
    let token = crate::common::TestDevice::new("small", &uri)
        .driver("small-pjl")
        .add_to(data.path(), None);
    // A 2 MB document (400 pages) and a small one.
    let big = testkit::sample_pdf(400);
    let big = if big.len() > 1024 * 1024 {
        big
    } else {
        let mut padded = big;
        let mut pages = 400;
        while padded.len() <= 1024 * 1024 {
            pages *= 2;
            padded = testkit::sample_pdf(pages);
        }
        padded
    };
    let req = crate::common::RawIpp::new(crate::common::op::PRINT_JOB)
        .operation_prelude(&server.ipp_uri())
        .attr_str(
            crate::common::tag::NAME_WITHOUT_LANGUAGE,
            "requesting-user-name",
            "alice",
        )
        .attr_str(
            crate::common::tag::MIME_MEDIA_TYPE,
            "document-format",
            "application/pdf",
        )
        .document(&big)
        .build();
    let r = crate::common::parse_response(&server.post_ipp(&req).1).unwrap();
    let large = r.integer("job-id").unwrap();
    let small = print_as(&server, "alice", "Courrier");
    let (_, result) = release_one(&server, &token, "04A1B2C3", large);
    assert_eq!(result["result"], "too-large", "{result}");
    assert!(result["message"].as_str().unwrap().contains("1 MB"));
    assert_eq!(job_state(&server, "alice", large).0, HELD, "still held");
    let (_, result) = release_one(&server, &token, "04A1B2C3", small);
    assert_eq!(result["result"], "releasing", "{result}");
    wait_state(&server, "alice", small, COMPLETED);
}

both_backends!(
    ten_jobs_released_at_once_to_a_copier_that_prints_one_at_a_time_all_print_once,
    |backend| {
        let data = tempfile::tempdir().unwrap();
        alice_directory(data.path());
        let server = TestApp::builder(backend).data_dir(data.path()).start();
        // ippeveprinter takes one job at a time and answers the others "busy".
        let copier = IppEvePrinter::start_with("Ward Copier", true, false, true);
        let token = add_device(
            data.path(),
            server.db_url.as_deref(),
            "ward-3",
            &copier.uri(),
        );
        let jobs: Vec<i32> = (0..10)
            .map(|n| print_as(&server, "alice", &format!("Courrier {n}")))
            .collect();
        let s = terminal(
            &server,
            &token,
            "POST",
            "/api/v1/release/sessions",
            r#"{"badge":"04A1B2C3"}"#,
        );
        let sid = s.json()["session"].as_str().unwrap().to_owned();
        let started = Instant::now();
        let r = terminal(
            &server,
            &token,
            "POST",
            &format!("/api/v1/release/sessions/{sid}/release"),
            r#"{"jobs":"all"}"#,
        );
        assert_eq!(r.json()["results"].as_array().unwrap().len(), 10);
        for job in &jobs {
            let message = wait_state(&server, "alice", *job, COMPLETED);
            assert!(message.contains("printed at ward-3"), "{message}");
        }
        eprintln!("ten jobs printed in {:?}", started.elapsed());
        assert_eq!(copier.received(11, Duration::from_secs(1)).len(), 10);
    }
);
