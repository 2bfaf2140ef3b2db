//! Scans uploaded by a copier over HTTP: kept encrypted before the 201, attributed to the
//! person badged in at that copier (or named by the copier, or nobody: quarantined "to
//! attribute"), duplicates set aside, validation run by the pipeline (a damaged PDF
//! quarantined), refused for now when the disk is low, and shown only to that copier and to
//! administrators; every step in the audit trail.

use std::time::Duration;

use crate::common::archive::{
    add_copier, form, scan, upload, upload_accepted, wait_for, wait_until,
};
use crate::common::directory::{basic, http, password_of, write_ldif, TestUser};
use crate::common::release::terminal;
use crate::common::{both_backends, folio_cli, Backend, TestApp};

fn users() -> Vec<TestUser> {
    let mut nina = TestUser::new("nina");
    nina.badges = vec!["0A1B2C3D".into()];
    let mut carol = TestUser::new("carol");
    carol.groups = vec!["folio-admins".into()];
    vec![nina, carol, TestUser::new("omar")]
}

both_backends!(scans_are_captured_attributed_and_validated, |backend| {
    let data = tempfile::tempdir().unwrap();
    write_ldif(&data.path().join("directory.ldif"), &users());
    let server = TestApp::builder(backend)
        .data_dir(data.path())
        .settings(|s| {
            s.scan.attribution_window_secs = 1;
        })
        .start();
    let token = add_copier(&server, "records-copier");
    let other = add_copier(&server, "lab-copier");
    let pdf = testkit::sample_pdf(2);

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

    // The pipeline validates it (a PDF of two pages) and splits it: without a cover sheet, its
    // pages are nobody's, set aside for an operator.
    let validated = wait_until(&server, &token, id, "done");
    assert_eq!(validated["format"], "pdf");
    let doc = &validated["documents"][0];
    assert_eq!(doc["stage"], "quarantined", "{validated}");
    assert!(doc["quarantine"]["reason"]
        .as_str()
        .unwrap()
        .contains("before any cover sheet"));
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
    let orphan = upload(&server, &token, &testkit::sample_pdf(3), &[]).json();
    assert_eq!(orphan["stage"], "quarantined", "{orphan}");
    assert!(orphan["quarantine_reason"]
        .as_str()
        .unwrap()
        .contains("to attribute"));

    // An administrator names who scanned it: it goes through the pipeline.
    let admin = basic("carol", &password_of("carol"));
    let act = |path: String, body: &str, auth: &str| {
        http(
            "POST",
            &server.http_url(&path),
            Some(auth),
            "application/json",
            body.as_bytes(),
        )
    };
    let orphan_id = orphan["id"].as_i64().unwrap();
    let nina_auth = basic("nina", &password_of("nina"));
    let named = format!("/api/v1/scans/{orphan_id}/actions");
    assert_eq!(
        act(
            named.clone(),
            r#"{"action":"attribute","user":"nina"}"#,
            &nina_auth
        )
        .status,
        403
    );
    let unknown = act(
        named.clone(),
        r#"{"action":"attribute","user":"nobody"}"#,
        &admin,
    );
    assert_eq!(unknown.status, 422);
    let attributed = act(
        named.clone(),
        r#"{"action":"attribute","user":"nina"}"#,
        &admin,
    );
    assert_eq!(
        attributed.status,
        200,
        "{}",
        String::from_utf8_lossy(&attributed.body)
    );
    let done = wait_until(&server, &token, orphan_id, "done");
    assert_eq!(done["user"], "nina");
    assert_eq!(done["attribution"]["method"], "operator");
    assert_eq!(
        act(named, r#"{"action":"retry"}"#, &admin).status,
        409,
        "no longer in quarantine"
    );
    // The duplicate is rejected, with a justification.
    let dup = format!("/api/v1/scans/{}/actions", again["id"].as_i64().unwrap());
    assert_eq!(
        act(
            dup.clone(),
            r#"{"action":"reject","justification":"no"}"#,
            &admin
        )
        .status,
        422
    );
    let rejected = act(
        dup,
        r#"{"action":"reject","justification":"scanned twice by mistake"}"#,
        &admin,
    );
    assert_eq!(rejected.json()["stage"], "rejected");

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
    let quarantined = wait_until(&server, &other, named_id, "quarantined");
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
    assert!(events
        .iter()
        .any(|e| e["action"] == "scan.stage" && e["detail"]["from"] == "split"));
    let verify = folio_cli(
        &server.data_dir,
        server.db_url.as_deref(),
        &["audit", "verify"],
    );
    assert_eq!(verify.code, 0, "{}", verify.stdout);
});

#[test]
fn scans_are_refused_for_now_when_the_disk_is_low() {
    let server = TestApp::builder(Backend::Sqlite)
        .settings(|s| {
            s.scan.min_free_mb = 100000000;
        })
        .start();
    let token = add_copier(&server, "records-copier");
    let answer = upload(&server, &token, &testkit::sample_pdf(1), &[]);
    assert_eq!(answer.status, 503);
    assert_eq!(answer.json()["error"], "try_again_later");
    let captures = std::fs::read_dir(server.data_dir.join("captures"))
        .unwrap()
        .count();
    assert_eq!(captures, 0, "nothing kept of a refused scan");
}

both_backends!(
    a_batch_is_split_by_cover_sheets_identified_and_classified,
    |backend| {
        use folio::archive::cover::CoverSheet;
        use testkit::scan::{scanned_pdf, ScanPage};
        let data = tempfile::tempdir().unwrap();
        write_ldif(&data.path().join("directory.ldif"), &users());
        let fhir = backend == Backend::Postgres;
        let url = crate::common::archive::identity_service(fhir);
        let kind = if fhir { "fhir" } else { "json" };
        let server = TestApp::builder(backend)
            .data_dir(data.path())
            .settings(|s| {
                s.archive.identity_kind = kind.into();
                s.archive.identity_url = url.clone();
                s.archive.identity_system = "urn:oid:1.2.250.1.999.1.1".into();
            })
            .start();
        let token = add_copier(&server, "records-copier");
        let sheet = |p: &str, c: &str| ScanPage::Cover(CoverSheet::new(p, "NDA-7", c).unwrap());
        // Two patients, a merged one, an unreadable separator, a category the plan lacks.
        let batch = [
            sheet("800001", "CRH"),
            ScanPage::Text(1),
            ScanPage::Text(2),
            sheet("800004", "BIO"),
            ScanPage::Text(3),
            ScanPage::SmudgedCover,
            ScanPage::Text(4),
            sheet("800002", "CRO"),
            ScanPage::Text(5),
            sheet("800001", "XYZ"),
            ScanPage::Text(6),
        ];
        let pdf = scanned_pdf(&batch, 300.0).unwrap();
        let id = upload_accepted(
            &server,
            &token,
            &pdf,
            &[("X-Folio-Metadata", r#"{"user":"nina"}"#)],
        );
        let settled = |v: &serde_json::Value| {
            v["stage"] == "done"
                && v["documents"].as_array().is_some_and(|d| {
                    d.len() == 5
                        && d.iter()
                            .all(|x| x["stage"] == "qc" || x["stage"] == "quarantined")
                })
        };
        let v = wait_for(&server, &token, id, settled);
        let docs = v["documents"].as_array().unwrap();
        let stage = |i: usize| docs[i]["stage"].as_str().unwrap().to_owned();
        let reason = |i: usize| {
            docs[i]["quarantine"]["reason"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        };
        // Patient 800001: pages 2 and 3 (0-based 1, 2), identified, filed as a discharge report.
        assert_eq!(docs[0]["patient"], "800001");
        assert_eq!(docs[0]["pages"], serde_json::json!([1, 2]));
        assert_eq!(stage(0), "qc", "{}", reason(0));
        assert_eq!(docs[0]["category_label"], "Compte rendu d'hospitalisation");
        assert!(docs[0]["retention"].as_str().unwrap().starts_with("20 ans"));
        assert_eq!(docs[1]["patient"], "800004");
        assert_eq!(stage(1), "qc", "{}", reason(1));
        assert_eq!(docs[1]["pages"], serde_json::json!([4]));
        // The smudged separator: its page is nobody's, never 800004's.
        assert_eq!(docs[2]["pages"], serde_json::json!([6]));
        assert_eq!(stage(2), "quarantined");
        assert!(reason(2).contains("page 6 cannot be read"), "{}", reason(2));
        // Identity vigilance: 800002 was merged.
        assert_eq!(stage(3), "quarantined");
        assert!(
            docs[3]["quarantine"]["stage"] == "identify"
                && reason(3).starts_with("identity vigilance")
                && reason(3).contains("merged"),
            "{}",
            reason(3)
        );
        // A category the plan does not have is not guessed.
        assert_eq!(stage(4), "quarantined");
        assert!(
            reason(4).contains("to classify: category XYZ"),
            "{}",
            reason(4)
        );

        // Identity vigilance names the right patient, a person the category, the unreadable
        // part is rejected: each goes on from there.
        let admin = basic("carol", &password_of("carol"));
        let act = |doc: usize, body: &str| {
            let id = docs[doc]["id"].as_i64().unwrap();
            let path = format!("/api/v1/scans/documents/{id}/actions");
            http(
                "POST",
                &server.http_url(&path),
                Some(&admin),
                "application/json",
                body.as_bytes(),
            )
        };
        assert_eq!(
            act(3, r#"{"action":"identify","patient":"800001"}"#).status,
            200
        );
        assert_eq!(
            act(4, r#"{"action":"classify","category":"CRH"}"#).status,
            200
        );
        assert_eq!(
            act(
                2,
                r#"{"action":"reject","justification":"cover sheet smudged, rescan"}"#
            )
            .status,
            200
        );
        assert_eq!(act(0, r#"{"action":"retry"}"#).status, 409);
        assert_eq!(
            act(4, r#"{"action":"classify","category":"NOPE"}"#).status,
            422
        );
        let v = wait_for(&server, &token, id, |v| {
            v["documents"][3]["stage"] == "qc" && v["documents"][4]["stage"] == "qc"
        });
        assert_eq!(v["documents"][3]["patient"], "800001");
        assert_eq!(
            v["documents"][4]["category_label"],
            "Compte rendu d'hospitalisation"
        );
        assert_eq!(v["documents"][2]["stage"], "rejected");
    }
);

/// A copier whose scans must be in colour: its gray scan goes back to be scanned again, its
/// colour scan goes on; another copier's gray scan is not held to it.
#[test]
fn a_copier_that_must_scan_in_colour_has_its_gray_scans_refused() {
    let data = tempfile::tempdir().unwrap();
    write_ldif(&data.path().join("directory.ldif"), &users());
    let server = TestApp::builder(Backend::Sqlite)
        .data_dir(data.path())
        .settings(|s| {
            s.scan.colour_required = vec!["wound-care-copier".into()];
        })
        .start();
    let wound = add_copier(&server, "wound-care-copier");
    let records = add_copier(&server, "records-copier");
    let jpeg = |colour: bool, shade: u8| {
        let (kind, size) = if colour {
            (jpeg_encoder::ColorType::Rgb, 3)
        } else {
            (jpeg_encoder::ColorType::Luma, 1)
        };
        let mut out = Vec::new();
        jpeg_encoder::Encoder::new(&mut out, 85)
            .encode(&vec![shade; 64 * 64 * size], 64, 64, kind)
            .unwrap();
        out
    };
    let sent = |token: &str, body: &[u8]| {
        upload_accepted(
            &server,
            token,
            body,
            &[("X-Folio-Metadata", r#"{"user":"nina"}"#)],
        )
    };
    let gray = sent(&wound, &jpeg(false, 180));
    let v = wait_for(&server, &wound, gray, |v| v["stage"] != "validate");
    assert_eq!(v["quarantine"]["stage"], "validate", "{v}");
    assert!(v["quarantine"]["reason"]
        .as_str()
        .unwrap()
        .contains("in colour"));
    let colour = sent(&wound, &jpeg(true, 180));
    let v = wait_for(&server, &wound, colour, |v| v["stage"] != "validate");
    assert_ne!(v["quarantine"]["stage"], "validate", "{v}");
    let elsewhere = sent(&records, &jpeg(false, 120));
    let v = wait_for(&server, &records, elsewhere, |v| v["stage"] != "validate");
    assert_ne!(v["quarantine"]["stage"], "validate", "{v}");
}

#[test]
fn a_cover_sheet_is_printed_with_its_code_and_the_same_data_in_clear() {
    let data = tempfile::tempdir().unwrap();
    let out = data.path().join("cover.pdf");
    let run = folio_cli(
        data.path(),
        None,
        &[
            "scan",
            "cover-sheet",
            "--patient",
            "800123456",
            "--encounter",
            "NDA-2026-1",
            "--category",
            "CRH",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let pdf = std::fs::read(&out).unwrap();
    let doc = lopdf::Document::load_mem(&pdf).unwrap();
    let text = doc.extract_text(&[1]).unwrap();
    for want in [
        "800123456",
        "NDA-2026-1",
        "CRH",
        "Compte rendu d'hospitalisation",
        "FOLIO1;P=800123456",
    ] {
        assert!(text.contains(want), "{want} not in {text}");
    }
    let unknown = folio_cli(
        data.path(),
        None,
        &[
            "scan",
            "cover-sheet",
            "--patient",
            "1",
            "--category",
            "NOPE",
        ],
    );
    assert_ne!(unknown.code, 0);
    assert!(
        unknown.stderr.contains("not in the classification plan"),
        "{}",
        unknown.stderr
    );
    let list = folio_cli(data.path(), None, &["scan", "categories", "--json"]);
    let plan: Vec<serde_json::Value> = serde_json::from_str(&list.stdout).unwrap();
    assert_eq!(plan.len(), 26);
}

#[test]
fn a_watched_folder_takes_a_slowly_written_scan_once_it_is_whole() {
    use std::io::Write;
    let data = tempfile::tempdir().unwrap();
    write_ldif(&data.path().join("directory.ldif"), &users());
    let share = tempfile::tempdir().unwrap();
    let folder = format!("{}=records-copier", share.path().display());
    let server = TestApp::builder(Backend::Sqlite)
        .data_dir(data.path())
        .settings(|s| {
            s.scan.folders = folder
                .as_str()
                .split(',')
                .map(|x| x.trim().to_owned())
                .filter(|x| !x.is_empty())
                .collect();
            s.scan.folder_poll_secs = 1;
            s.scan.folder_settle_secs = 2;
        })
        .start();
    let token = add_copier(&server, "records-copier");
    let session = terminal(
        &server,
        &token,
        "POST",
        "/api/v1/release/sessions",
        r#"{"badge":"0A1B2C3D"}"#,
    );
    assert_eq!(session.status, 201);

    // A copier writing slowly: a chunk, a pause longer than a poll, the rest.
    let pdf = testkit::sample_pdf(2);
    let path = share.path().join("SCAN_0001.pdf");
    let mut file = std::fs::File::create(&path).unwrap();
    let half = pdf.len() / 2;
    file.write_all(&pdf[..half]).unwrap();
    file.flush().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(path.exists(), "taken while still being written");
    file.write_all(&pdf[half..]).unwrap();
    drop(file);
    // A partial file and a hidden one are left alone.
    std::fs::write(share.path().join("SCAN_0002.pdf.part"), b"%PDF-").unwrap();
    std::fs::write(share.path().join(".hidden.pdf"), b"%PDF-").unwrap();
    // A damaged (empty) file is refused for good and moved aside with its reason.
    std::fs::write(share.path().join("EMPTY.pdf"), b"").unwrap();

    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while path.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the scan was never taken"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The whole file was captured, once, attributed to the person badged in at that copier.
    let admin = basic("carol", &password_of("carol"));
    let first = scan(&server, &admin, 1).json();
    assert_eq!(first["channel"], "folder");
    assert_eq!(first["file_name"], "SCAN_0001.pdf");
    assert_eq!(first["size_bytes"], pdf.len());
    use sha2::Digest;
    assert_eq!(first["sha256"], hex::encode(sha2::Sha256::digest(&pdf)));
    assert_eq!(first["user"], "nina");
    assert_eq!(first["attribution"]["method"], "badge-session");
    std::thread::sleep(Duration::from_millis(3000));
    assert_eq!(scan(&server, &admin, 2).status, 404, "one capture only");
    assert!(share.path().join("SCAN_0002.pdf.part").exists());
    assert!(share.path().join(".hidden.pdf").exists());
    let refused = share.path().join(".folio-refused");
    assert!(refused.join("EMPTY.pdf").exists());
    assert!(
        std::fs::read_to_string(refused.join("EMPTY.pdf.reason.txt"))
            .unwrap()
            .contains("empty")
    );
}

#[test]
fn the_console_shows_the_pipeline_and_acts_on_its_quarantine() {
    let data = tempfile::tempdir().unwrap();
    let mut audrey = TestUser::new("audrey");
    audrey.groups = vec!["folio-auditors".into()];
    let mut all = users();
    all.push(audrey);
    write_ldif(&data.path().join("directory.ldif"), &all);
    let server = TestApp::builder(Backend::Sqlite)
        .data_dir(data.path())
        .start();
    let token = add_copier(&server, "records-copier");
    // Nobody badged in: the scan waits "to attribute".
    let orphan = upload(&server, &token, &testkit::sample_pdf(1), &[]).json();
    let id = orphan["id"].as_i64().unwrap();

    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let get = |cookie: &str| match agent
        .get(&server.http_url("/scans"))
        .set("Cookie", cookie)
        .call()
    {
        Ok(r) => (r.status(), r.into_string().unwrap()),
        Err(ureq::Error::Status(s, r)) => (s, r.into_string().unwrap_or_default()),
        Err(e) => panic!("{e}"),
    };
    let post = |cookie: &str, path: &str, form: &str| match agent
        .post(&server.http_url(path))
        .set("Cookie", cookie)
        .set("Content-Type", "application/x-www-form-urlencoded")
        .send_string(form)
    {
        Ok(r) => (r.status(), r.header("location").unwrap_or("").to_owned()),
        Err(ureq::Error::Status(s, _)) => (s, String::new()),
        Err(e) => panic!("{e}"),
    };
    assert_eq!(get("").0, 303, "anonymous: to the sign-in");
    let carol = crate::common::release::console_cookie(&server, "carol");
    let (status, page) = get(&carol);
    assert_eq!(status, 200);
    assert!(page.contains(&format!("id=\"captures-{id}\"")), "{page}");
    assert!(page.contains("to attribute"));
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    // The auditor sees it and cannot act; a form without its token is refused.
    let audrey = crate::common::release::console_cookie(&server, "audrey");
    let (status, seen) = get(&audrey);
    assert_eq!(status, 200);
    assert!(
        seen.contains(&format!("id=\"captures-{id}\"")) && !seen.contains("Attribute</button>")
    );
    let path = format!("/scans/captures/{id}/action");
    assert_eq!(post(&audrey, &path, "action=attribute&user=nina").0, 403);
    assert_eq!(
        post(&carol, &path, "action=attribute&user=nina").0,
        403,
        "no CSRF token"
    );
    // The administrator names who scanned it: it goes through the pipeline.
    let (status, location) = post(
        &carol,
        &path,
        &format!("csrf={csrf}&action=attribute&user=nina"),
    );
    assert_eq!((status, location.starts_with("/scans?done=")), (303, true));
    let v = wait_until(&server, &token, id, "done");
    assert_eq!(v["user"], "nina");
    assert_eq!(v["attribution"]["method"], "operator");
    let (_, after) = get(&carol);
    assert!(
        !after.contains(&format!("id=\"captures-{id}\"")),
        "left the quarantine"
    );
}
