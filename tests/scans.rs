//! Scans uploaded by a copier over HTTP: kept encrypted before the 201, attributed to the
//! person badged in at that copier (or named by the copier, or nobody: quarantined "to
//! attribute"), duplicates set aside, validation run by the pipeline (a damaged PDF
//! quarantined), refused for now when the disk is low, and shown only to that copier and to
//! administrators; every step in the audit trail.

mod common;

use std::time::{Duration, Instant};

use common::directory::{basic, http, password_of, write_ldif, HttpAnswer, TestUser};
use common::release::terminal;
use common::{both_backends, folio_cli, Backend, TestServer};

fn users() -> Vec<TestUser> {
    let mut nina = TestUser::new("nina");
    nina.badges = vec!["0A1B2C3D".into()];
    let mut carol = TestUser::new("carol");
    carol.groups = vec!["folio-admins".into()];
    vec![nina, carol, TestUser::new("omar")]
}

/// A copier registered with the CLI (its scans need no print connection): its token.
fn add_copier(server: &TestServer, name: &str) -> String {
    let out = folio_cli(
        &server.data_dir,
        server.db_url.as_deref(),
        &[
            "device",
            "add",
            "--json",
            "--name",
            name,
            "--uri",
            "socket://127.0.0.1:9",
            "--driver",
            "generic-pjl-pdf",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    v["token"].as_str().unwrap().to_owned()
}

/// POSTs a raw scan with the copier's token and extra headers.
fn upload(server: &TestServer, token: &str, body: &[u8], headers: &[(&str, &str)]) -> HttpAnswer {
    let mut req = ureq::post(&server.http_url("/api/v1/scans"))
        .set("Authorization", &format!("Bearer {token}"))
        .set("Content-Type", "application/pdf")
        .timeout(Duration::from_secs(30));
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let resp = match req.send_bytes(body) {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    let status = resp.status();
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut resp.into_reader(), &mut out).unwrap();
    HttpAnswer {
        status,
        challenge: None,
        body: out,
    }
}

/// A multipart form with `file` and `metadata` parts.
fn form(file: &[u8], metadata: &str) -> (String, Vec<u8>) {
    let boundary = "folio-test-boundary-7d1";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\
             Content-Type: application/json\r\n\r\n{metadata}\r\n--{boundary}\r\n\
             Content-Disposition: form-data; name=\"file\"; filename=\"scan-0042.pdf\"\r\n\
             Content-Type: application/pdf\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn scan(server: &TestServer, auth: &str, id: i64) -> HttpAnswer {
    http(
        "GET",
        &server.http_url(&format!("/api/v1/scans/{id}")),
        Some(auth),
        "",
        b"",
    )
}

/// Waits until scan `id` has left `stage`.
fn wait_past(server: &TestServer, token: &str, id: i64, stage: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = scan(server, &format!("Bearer {token}"), id).json();
        if v["stage"] != stage {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "scan {id} stayed at {stage}: {v}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

both_backends!(scans_are_captured_attributed_and_validated, |backend| {
    let data = tempfile::tempdir().unwrap();
    write_ldif(&data.path().join("directory.ldif"), &users());
    let server = TestServer::start_with(
        backend,
        data.path(),
        None,
        &[("FOLIO_SCAN__ATTRIBUTION_WINDOW_SECS", "1")],
    );
    let token = add_copier(&server, "records-copier");
    let other = add_copier(&server, "lab-copier");
    let pdf = folio::bench::sample_pdf(2);

    // No token, no scan.
    let anonymous = http(
        "POST",
        &server.http_url("/api/v1/scans"),
        None,
        "application/pdf",
        &pdf,
    );
    assert_eq!(anonymous.status, 401);

    // Nina badges in and scans: hers, strongly; safe before the 201.
    let session = terminal(
        &server,
        &token,
        "POST",
        "/api/v1/release/sessions",
        r#"{"badge":"0A1B2C3D"}"#,
    );
    assert_eq!(session.status, 201);
    let sid = session.json()["session"].as_str().unwrap().to_owned();
    let first = upload(
        &server,
        &token,
        &pdf,
        &[(
            "Content-Disposition",
            "attachment; filename=\"DUPONT Jean CR.pdf\"",
        )],
    );
    assert_eq!(
        first.status,
        201,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    let receipt = first.json();
    assert_eq!(receipt["user"], "nina");
    assert_eq!(receipt["attribution"], "badge-session");
    assert_eq!(receipt["strength"], "strong");
    assert_eq!(receipt["stage"], "validate");
    let id = receipt["id"].as_i64().unwrap();

    // The pipeline validates it: a PDF of two pages, now waiting to be split.
    let validated = wait_past(&server, &token, id, "validate");
    assert_eq!(validated["stage"], "split", "{validated}");
    assert_eq!(validated["format"], "pdf");
    assert_eq!(validated["pages"], 2);
    assert_eq!(validated["file_name"], "DUPONT Jean CR.pdf");
    assert_eq!(
        validated["attribution"]["directory"]["department"],
        "Cardiology"
    );

    // Nothing in clear on disk: not the PDF, not its name.
    for entry in std::fs::read_dir(data.path().join("captures")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(
            !bytes.windows(5).any(|w| w == b"%PDF-"),
            "a master in clear"
        );
    }
    if backend == Backend::Sqlite {
        let db = std::fs::read(data.path().join("folio.db")).unwrap();
        let wal = std::fs::read(data.path().join("folio.db-wal")).unwrap_or_default();
        for b in [db, wal] {
            assert!(
                !b.windows(6).any(|w| w == b"DUPONT"),
                "the file name in clear"
            );
        }
    }

    // The same bytes again: recorded, set aside, not archived twice.
    let again = upload(&server, &token, &pdf, &[]).json();
    assert_eq!(again["duplicate_of"], id);
    assert_eq!(again["stage"], "quarantined");
    assert!(again["quarantine_reason"]
        .as_str()
        .unwrap()
        .contains("duplicate"));

    // After Nina leaves (and the window), a scan from that copier is nobody's.
    let end = terminal(
        &server,
        &token,
        "DELETE",
        &format!("/api/v1/release/sessions/{sid}"),
        "",
    );
    assert!(end.status < 300, "{}", end.status);
    std::thread::sleep(Duration::from_millis(1500));
    let orphan = upload(&server, &token, &folio::bench::sample_pdf(3), &[]).json();
    assert_eq!(orphan["stage"], "quarantined", "{orphan}");
    assert!(orphan["quarantine_reason"]
        .as_str()
        .unwrap()
        .contains("to attribute"));

    // The copier names the user in a form's metadata; a damaged PDF is quarantined by the
    // pipeline's validation, with the reason.
    let mut damaged = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n".to_vec();
    damaged.extend_from_slice(b"trailer << /Root 1 0 R >>\n%%EOF\n");
    let (content_type, body) = form(&damaged, r#"{"user":"omar","copier_job":"42"}"#);
    let named = http(
        "POST",
        &server.http_url("/api/v1/scans"),
        Some(&format!("Bearer {other}")),
        &content_type,
        &body,
    );
    assert_eq!(
        named.status,
        201,
        "{}",
        String::from_utf8_lossy(&named.body)
    );
    let named = named.json();
    assert_eq!(named["user"], "omar");
    assert_eq!(named["attribution"], "sidecar");
    assert_eq!(named["strength"], "medium");
    let named_id = named["id"].as_i64().unwrap();
    let quarantined = wait_past(&server, &other, named_id, "validate");
    assert_eq!(quarantined["stage"], "quarantined", "{quarantined}");
    assert_eq!(quarantined["quarantine"]["stage"], "validate");
    assert_eq!(quarantined["file_name"], "scan-0042.pdf");

    // Bad metadata is refused before anything is kept.
    let (content_type, body) = form(&pdf, "[1,2]");
    let refused = http(
        "POST",
        &server.http_url("/api/v1/scans"),
        Some(&format!("Bearer {other}")),
        &content_type,
        &body,
    );
    assert_eq!(refused.status, 400);
    assert_eq!(refused.json()["error"], "bad_metadata");

    // Who may look: the copier that sent it and administrators; not another copier, not staff.
    assert_eq!(scan(&server, &format!("Bearer {other}"), id).status, 404);
    assert_eq!(
        scan(&server, &basic("nina", &password_of("nina")), id).status,
        403
    );
    let admin = scan(&server, &basic("carol", &password_of("carol")), id);
    assert_eq!(admin.status, 200);
    assert_eq!(admin.json()["sha256"], receipt["sha256"]);

    // The trail: captured, duplicate, stage, quarantined; and it verifies.
    let export = folio_cli(
        &server.data_dir,
        server.db_url.as_deref(),
        &["audit", "export", "--format", "json"],
    );
    let events: Vec<serde_json::Value> = serde_json::from_str(&export.stdout).unwrap();
    for action in [
        "scan.captured",
        "scan.duplicate",
        "scan.stage",
        "scan.quarantined",
    ] {
        assert!(
            events.iter().any(|e| e["action"] == action),
            "no {action} in the trail"
        );
    }
    let stage = events
        .iter()
        .find(|e| e["action"] == "scan.stage" && e["object"] == format!("scan:{id}"))
        .unwrap();
    assert_eq!(stage["device"], "records-copier");
    assert_eq!(stage["detail"]["to"], "split");
    let verify = folio_cli(
        &server.data_dir,
        server.db_url.as_deref(),
        &["audit", "verify"],
    );
    assert_eq!(verify.code, 0, "{}", verify.stdout);
});

#[test]
fn scans_are_refused_for_now_when_the_disk_is_low() {
    let server =
        TestServer::start_env(Backend::Sqlite, &[("FOLIO_SCAN__MIN_FREE_MB", "100000000")]);
    let token = add_copier(&server, "records-copier");
    let answer = upload(&server, &token, &folio::bench::sample_pdf(1), &[]);
    assert_eq!(answer.status, 503);
    assert_eq!(answer.json()["error"], "try_again_later");
    let captures = std::fs::read_dir(server.data_dir.join("captures"))
        .unwrap()
        .count();
    assert_eq!(captures, 0, "nothing kept of a refused scan");
}
