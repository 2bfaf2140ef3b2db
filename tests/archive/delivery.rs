//! The end of the archive pipeline: a lot sampled for QC and reviewed, documents sealed with
//! an RFC 3161 time stamp from an `openssl ts` authority (verified by `openssl ts -verify` and
//! by `folio archive verify`), deposited as PDF + manifest and sent to a FHIR server that
//! checks each transaction strictly; a rejected sample sends its lot to quarantine.

use crate::common::archive::{
    add_copier, archive_services, fhir_server, identity_service, openssl, refusing_fhir_server,
    scan, tsa, upload, upload_accepted, wait_for,
};
use crate::common::directory::{basic, http, password_of, write_ldif, TestUser};
use crate::common::{both_backends, folio_cli, Backend, TestApp};
use base64::Engine;
use folio::archive::cover::CoverSheet;
use testkit::scan::{scanned_pdf, ScanPage};

fn users() -> Vec<TestUser> {
    let mut nina = TestUser::new("nina");
    nina.badges = vec!["0A1B2C3D".into()];
    let mut carol = TestUser::new("carol");
    carol.groups = vec!["folio-admins".into()];
    let mut rachel = TestUser::new("rachel");
    rachel.groups = vec!["folio-qc-reviewers".into()];
    vec![nina, carol, rachel]
}

/// A console GET with a session cookie: status, content type, body.
fn console_get(server: &TestApp, cookie: &str, path: &str) -> (u16, String, Vec<u8>) {
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let resp = match agent
        .get(&server.http_url(path))
        .set("Cookie", cookie)
        .call()
    {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    let (status, kind) = (resp.status(), resp.content_type().to_owned());
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut resp.into_reader(), &mut body).unwrap();
    (status, kind, body)
}

/// The QC reviewer sees the sampled document's pages (each look audited) and its trace; the
/// administrator sees the trace but not the pages.
fn reviewer_sees_the_pages(server: &TestApp, document: i64) {
    let rachel = crate::common::release::console_cookie(server, "rachel");
    assert_eq!(
        console_get(server, &rachel, "/").0,
        303,
        "to the scans page"
    );
    assert_eq!(console_get(server, &rachel, "/jobs").0, 403, "no IT pages");
    let (status, _, body) = console_get(server, &rachel, "/scans");
    let page = String::from_utf8(body).unwrap();
    assert_eq!(status, 200);
    assert!(
        page.contains(&format!("id=\"accept-{document}\"")),
        "{page}"
    );
    assert!(page.contains("id=\"chart-received\"") && page.contains("id=\"chart-outcomes\""));
    assert!(
        page.contains("1 scans received"),
        "this hour's scan is drawn"
    );
    let (status, _, body) = console_get(server, &rachel, &format!("/scans/documents/{document}"));
    let page = String::from_utf8(body).unwrap();
    assert_eq!(status, 200);
    assert!(
        page.contains("800001") && page.contains("id=\"pages\""),
        "{page}"
    );
    for action in [
        "scan.captured",
        "scan.stage",
        "scan.document",
        "scan.qc_sampled",
    ] {
        assert!(page.contains(action), "{action} missing from the trace");
    }
    let image = format!("/scans/documents/{document}/pages/1");
    assert!(page.contains(&image));
    let (status, kind, drawn) = console_get(server, &rachel, &image);
    assert_eq!((status, kind.as_str()), (200, "image/png"));
    let reader = png::Decoder::new(std::io::Cursor::new(drawn))
        .read_info()
        .expect("a PNG");
    assert!((600..=1200).contains(&reader.info().width));
    let (status, _, _) = console_get(
        server,
        &rachel,
        &format!("/scans/documents/{document}/pages/9"),
    );
    assert_eq!(status, 404);

    let carol = crate::common::release::console_cookie(server, "carol");
    let (status, _, body) = console_get(server, &carol, &format!("/scans/documents/{document}"));
    let page = String::from_utf8(body).unwrap();
    assert_eq!(status, 200);
    assert!(
        !page.contains("id=\"pages\"") && page.contains("scan.page_viewed"),
        "{page}"
    );
    assert_eq!(
        console_get(server, &carol, &image).0,
        403,
        "pages are for reviewers"
    );
    let (_, _, body) = console_get(server, &carol, "/scans");
    assert!(!String::from_utf8(body).unwrap().contains("id=\"accept-"));
}

fn review(server: &TestApp, document: i64, decision: &str, reason: &str) -> u16 {
    http(
        "POST",
        &server.http_url(&format!("/api/v1/scans/documents/{document}/qc")),
        Some(&basic("rachel", &password_of("rachel"))),
        "application/json",
        format!(r#"{{"decision":"{decision}","reason":"{reason}"}}"#).as_bytes(),
    )
    .status
}

/// The documents of scan `id` once each is at one of `stages`.
fn documents_at(
    server: &TestApp,
    token: &str,
    id: i64,
    count: usize,
    stages: &[&str],
) -> Vec<serde_json::Value> {
    let v = wait_for(server, token, id, |v| {
        v["documents"].as_array().is_some_and(|d| {
            d.len() == count && d.iter().all(|x| stages.iter().any(|s| x["stage"] == *s))
        })
    });
    v["documents"].as_array().unwrap().clone()
}

both_backends!(
    documents_are_reviewed_sealed_deposited_and_sent_to_fhir,
    |backend| {
        let data = tempfile::tempdir().unwrap();
        write_ldif(&data.path().join("directory.ldif"), &users());
        let tsa_dir = tempfile::tempdir().unwrap();
        let tsa_url = tsa(tsa_dir.path());
        let ca = tsa_dir.path().join("ca.pem").display().to_string();
        let (fhir_url, received) = fhir_server();
        let deposit = tempfile::tempdir().unwrap();
        let deposit_dir = deposit.path().display().to_string();
        let identity = identity_service(false);
        let server = TestApp::builder(backend)
            .data_dir(data.path())
            .settings(|s| {
                archive_services(s, &identity, &tsa_url);
                s.archive.identity_system = "urn:oid:1.2.250.1.999.1.1".into();
                s.archive.qc_rate = 1.0;
                s.archive.qc_close_secs = 1;
                s.archive.tsa_ca_file = ca.clone().into();
                s.archive.deposit_dir = deposit_dir.clone().into();
                s.archive.fhir_url = fhir_url.clone();
            })
            .start();
        let token = add_copier(&server, "records-copier");
        let sheet = |p: &str, c: &str| ScanPage::Cover(CoverSheet::new(p, "NDA-7", c).unwrap());
        let batch = [
            sheet("800001", "CRH"),
            ScanPage::Text(1),
            ScanPage::Text(2),
            sheet("800004", "BIO"),
            ScanPage::Text(3),
        ];
        let pdf = scanned_pdf(&batch, 300.0).unwrap();
        let id = upload_accepted(
            &server,
            &token,
            &pdf,
            &[("X-Folio-Metadata", r#"{"user":"nina"}"#)],
        );

        // The lot closes and every document is sampled (rate 1): they wait for the reviewer.
        let docs = wait_for(&server, &token, id, |v| {
            v["documents"]
                .as_array()
                .is_some_and(|d| d.len() == 2 && d.iter().all(|x| x["qc"]["sampled"] == true))
        })["documents"]
            .as_array()
            .unwrap()
            .clone();
        assert!(docs.iter().all(|d| d["stage"] == "qc"), "{docs:?}");
        let ids: Vec<i64> = docs.iter().map(|d| d["id"].as_i64().unwrap()).collect();
        assert_eq!(
            review(&server, ids[0], "reject", ""),
            400,
            "a rejection needs a reason"
        );
        assert_eq!(
            http(
                "POST",
                &server.http_url(&format!("/api/v1/scans/documents/{}/qc", ids[0])),
                Some(&basic("nina", &password_of("nina"))),
                "application/json",
                br#"{"decision":"accept"}"#,
            )
            .status,
            403
        );
        assert_eq!(
            http(
                "POST",
                &server.http_url(&format!("/api/v1/scans/documents/{}/qc", ids[0])),
                Some(&basic("carol", &password_of("carol"))),
                "application/json",
                br#"{"decision":"accept"}"#,
            )
            .status,
            403,
            "QC is the reviewers' decision, not IT's"
        );
        reviewer_sees_the_pages(&server, ids[0]);
        for d in &ids {
            assert_eq!(review(&server, *d, "accept", ""), 204);
        }

        // Sealed, deposited and delivered.
        let docs = documents_at(&server, &token, id, 2, &["done", "quarantined"]);
        for d in &docs {
            assert_eq!(d["stage"], "done", "{d}");
            assert!(d["seal"]["delivered_at"].is_string(), "{d}");
        }
        let manifests: Vec<std::path::PathBuf> = crate::common::files_under(deposit.path())
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        assert_eq!(manifests.len(), 2, "{manifests:?}");
        let work = tempfile::tempdir().unwrap();
        for m in &manifests {
            let manifest: serde_json::Value =
                serde_json::from_slice(&std::fs::read(m).unwrap()).unwrap();
            let pdf = std::fs::read(m.with_extension("pdf")).unwrap();
            let sha = hex_sha256(&pdf);
            assert_eq!(manifest["sealed"]["sha256"], sha);
            assert!(
                ["800001", "800004"].contains(&manifest["document"]["patient"].as_str().unwrap())
            );
            assert_eq!(manifest["document"]["device"], "records-copier");
            // The rendition carries its pages and the page map back to the master.
            let doc = lopdf::Document::load_mem(&pdf).unwrap();
            let pages = manifest["document"]["page_map"].as_array().unwrap().len();
            assert_eq!(doc.get_pages().len(), pages);
            // openssl agrees with the time stamp.
            let token_der = base64::engine::general_purpose::STANDARD
                .decode(manifest["sealed"]["tsa_token"].as_str().unwrap())
                .unwrap();
            std::fs::write(work.path().join("token.der"), &token_der).unwrap();
            std::fs::write(work.path().join("doc.pdf"), &pdf).unwrap();
            openssl(
                work.path(),
                &[
                    "ts",
                    "-verify",
                    "-data",
                    "doc.pdf",
                    "-in",
                    "token.der",
                    "-token_in",
                    "-CAfile",
                    &ca,
                ],
            );
            // The FHIR server got the same PDF, once.
            let id = manifest["document"]["document"].as_str().unwrap();
            let got = received.lock().unwrap().get(id).cloned().unwrap();
            assert_eq!((got.0, hex_sha256(&got.1)), (1, sha));
        }

        // `folio archive verify` re-hashes and verifies every time stamp; a changed rendition shows.
        let verify = folio_cli(
            &server.data_dir,
            server.db_url.as_deref(),
            &["archive", "verify", "--json", "--tsa-ca-file", &ca],
        );
        let report: serde_json::Value = serde_json::from_str(verify.stdout.trim())
            .unwrap_or_else(|e| panic!("{e}: {}{}", verify.stdout, verify.stderr));
        assert_eq!(verify.code, 0, "{report}");
        assert_eq!(report["renditions"], 2);
        assert_eq!(report["timestamps_checked"], true);

        // Another copier's lot: a rejected sample sends its documents to quarantine.
        let other = add_copier(&server, "ward-copier");
        let batch = scanned_pdf(&[sheet("800001", "SOI"), ScanPage::Text(9)], 300.0).unwrap();
        let second = upload(
            &server,
            &other,
            &batch,
            &[("X-Folio-Metadata", r#"{"user":"nina"}"#)],
        );
        let second = second.json()["id"].as_i64().unwrap();
        let sampled = wait_for(&server, &other, second, |v| {
            v["documents"][0]["qc"]["sampled"] == true
        });
        let doc = sampled["documents"][0]["id"].as_i64().unwrap();
        assert_eq!(review(&server, doc, "reject", "pages 2 and 3 cut off"), 204);
        let failed = documents_at(&server, &other, second, 1, &["quarantined"]);
        assert!(
            failed[0]["quarantine"]["reason"]
                .as_str()
                .unwrap()
                .contains("failed review"),
            "{failed:?}"
        );

        // Tamper with a rendition on disk: verify names it.
        let renditions = server.data_dir.join("captures/renditions");
        let victim = std::fs::read_dir(&renditions)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let mut bytes = std::fs::read(&victim).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&victim, bytes).unwrap();
        let broken = folio_cli(
            &server.data_dir,
            server.db_url.as_deref(),
            &["archive", "verify", "--tsa-ca-file", &ca],
        );
        assert_eq!(broken.code, 1, "{}", broken.stdout);
        assert!(
            broken.stdout.contains("scan-document:"),
            "{}",
            broken.stdout
        );
        let _ = scan(&server, &format!("Bearer {token}"), id);
        assert!(matches!(backend, Backend::Sqlite | Backend::Postgres));
    }
);

/// A transaction the FHIR server read and refused (422) will not pass by being sent again: the
/// document goes to quarantine at once, with the server's answer, instead of after every retry.
#[test]
fn a_bundle_the_fhir_server_refuses_goes_to_quarantine_at_once() {
    let data = tempfile::tempdir().unwrap();
    write_ldif(&data.path().join("directory.ldif"), &users());
    let tsa_dir = tempfile::tempdir().unwrap();
    let tsa_url = tsa(tsa_dir.path());
    let (fhir_url, posts) = refusing_fhir_server(422);
    let identity = identity_service(false);
    let server = TestApp::builder(Backend::Sqlite)
        .data_dir(data.path())
        .settings(|s| {
            archive_services(s, &identity, &tsa_url);
            s.archive.fhir_url = fhir_url.clone();
        })
        .start();
    let token = add_copier(&server, "records-copier");
    let batch = [
        ScanPage::Cover(CoverSheet::new("800001", "NDA-7", "CRH").unwrap()),
        ScanPage::Text(1),
    ];
    let pdf = scanned_pdf(&batch, 300.0).unwrap();
    let id = upload_accepted(
        &server,
        &token,
        &pdf,
        &[("X-Folio-Metadata", r#"{"user":"nina"}"#)],
    );
    let docs = documents_at(&server, &token, id, 1, &["quarantined", "done"]);
    assert_eq!(docs[0]["stage"], "quarantined", "{docs:?}");
    assert_eq!(docs[0]["quarantine"]["stage"], "deliver");
    let reason = docs[0]["quarantine"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("HTTP 422") && reason.contains("value set"),
        "{reason}"
    );
    assert_eq!(
        posts.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "sent once"
    );
    // Not drawn for QC review (rate 0): a reviewer does not see its pages.
    let rachel = crate::common::release::console_cookie(&server, "rachel");
    let doc = docs[0]["id"].as_i64().unwrap();
    let (status, _, _) = console_get(&server, &rachel, &format!("/scans/documents/{doc}/pages/1"));
    assert_eq!(status, 404, "reviewers see sampled documents only");
    let (status, _, body) = console_get(&server, &rachel, &format!("/scans/documents/{doc}"));
    assert_eq!(status, 404, "nor what they are filed as");
    assert!(!String::from_utf8_lossy(&body).contains("800001"));
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
