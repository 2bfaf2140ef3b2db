//! `kill -9` while the archive pipeline works through 200 documents (10 batches of 20 patients):
//! after every restart the pipeline takes its interrupted work back, and in the end each
//! document is archived once (one deposit, one FHIR resource, its seal verifying), none lost,
//! none doubled, and the audit trail verifies.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::common::archive::{
    add_copier, archive_services, fhir_server, identity_service, scan, tsa, upload_accepted,
};
use crate::common::directory::{write_ldif, TestUser};
use crate::common::{folio_cli, Backend, TestApp};
use folio::archive::cover::CoverSheet;
use testkit::scan::{scanned_pdf, ScanPage};

const BATCHES: usize = 10;
const PER_BATCH: usize = 20;

#[test]
fn every_document_is_archived_exactly_once_across_kill_9() {
    let data = tempfile::tempdir().unwrap();
    write_ldif(
        &data.path().join("directory.ldif"),
        &[TestUser::new("nina")],
    );
    let tsa_dir = tempfile::tempdir().unwrap();
    let tsa_url = tsa(tsa_dir.path());
    let ca = tsa_dir.path().join("ca.pem").display().to_string();
    let (fhir_url, received) = fhir_server();
    let deposit = tempfile::tempdir().unwrap();
    let deposit_dir = deposit.path().display().to_string();
    let identity = identity_service(false);
    let mut server = TestApp::builder(Backend::Sqlite)
        .data_dir(data.path())
        .settings(|s| {
            archive_services(s, &identity, &tsa_url);
            s.archive.deposit_dir = deposit_dir.clone().into();
            s.archive.fhir_url = fhir_url.clone();
            s.scan.min_dpi = 72;
            s.scan.workers = 2;
            s.node_name = "crash-node".into();
            // Every start of a stage counts as an attempt, so that an item that stops Folio
            // each time is set aside (tests/security/hostile_documents.rs); these kills are not
            // the documents' doing, and up to sixteen can land on one long split.
            s.scan.max_attempts = 20;
        })
        .start();
    let token = add_copier(&server, "records-copier");

    // Ten batches of twenty patients (cover sheet + one page), scanned at 100 dpi.
    let mut captures = Vec::new();
    for b in 0..BATCHES {
        let mut pages = Vec::new();
        for d in 0..PER_BATCH {
            let patient = if d % 2 == 0 { "800001" } else { "800004" };
            pages.push(ScanPage::Cover(
                CoverSheet::new(patient, &format!("NDA-{b}-{d}"), "CRH").unwrap(),
            ));
            pages.push(ScanPage::Text((b * PER_BATCH + d) as u32));
        }
        let pdf = scanned_pdf(&pages, 100.0).unwrap();
        captures.push(upload_accepted(
            &server,
            &token,
            &pdf,
            &[("X-Folio-Metadata", r#"{"user":"nina"}"#)],
        ));
    }

    // Kill it at random moments while it works (each time after it has moved something on
    // since the last start), and start it again.
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut kills = 0;
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut last = progress(&server, &token, &captures).1;
    loop {
        let (done, at) = progress(&server, &token, &captures);
        if done == BATCHES * PER_BATCH || Instant::now() > deadline {
            assert_eq!(
                done,
                BATCHES * PER_BATCH,
                "not all documents done in time: {at:?}"
            );
            break;
        }
        if kills < 16 && at != last {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            std::thread::sleep(Duration::from_millis(20 + seed % 400));
            eprintln!("kill -9 #{kills} with documents at {at:?}");
            server.restart();
            kills += 1;
            last = progress(&server, &token, &captures).1;
        } else {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    assert!(
        kills >= 8,
        "the pipeline finished before it could be interrupted"
    );

    // Each document deposited once, sent to FHIR (same id each time), and verifiable.
    let files: Vec<String> = crate::common::files_under(deposit.path())
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        !files.iter().any(|f| f.ends_with(".partial")),
        "a half-written deposit stayed"
    );
    let manifests: BTreeSet<&str> = files
        .iter()
        .filter_map(|f| f.strip_suffix(".json"))
        .collect();
    let pdfs: BTreeSet<&str> = files
        .iter()
        .filter_map(|f| f.strip_suffix(".pdf"))
        .collect();
    assert_eq!(manifests.len(), BATCHES * PER_BATCH);
    assert_eq!(manifests, pdfs);
    let fhir: BTreeSet<String> = received.lock().unwrap().keys().cloned().collect();
    let deposited: BTreeSet<String> = manifests.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        fhir, deposited,
        "the FHIR server and the deposit hold the same documents"
    );
    server.kill9();
    let verify = folio_cli(
        &server.data_dir,
        None,
        &["archive", "verify", "--tsa-ca-file", &ca],
    );
    assert_eq!(verify.code, 0, "{}", verify.stdout);
    let audit = folio_cli(&server.data_dir, None, &["audit", "verify"]);
    assert_eq!(audit.code, 0, "{}", audit.stdout);
}

/// Documents done, and how many documents are at each stage.
fn progress(
    server: &TestApp,
    token: &str,
    captures: &[i64],
) -> (usize, std::collections::BTreeMap<String, usize>) {
    let mut at = std::collections::BTreeMap::new();
    for id in captures {
        let answer = scan(server, &format!("Bearer {token}"), *id);
        let v = answer.json();
        *at.entry(format!("capture:{}", v["stage"].as_str().unwrap_or("?")))
            .or_insert(0) += 1;
        for d in v["documents"].as_array().into_iter().flatten() {
            *at.entry(d["stage"].as_str().unwrap_or("?").to_owned())
                .or_insert(0) += 1;
            assert_ne!(d["stage"], "quarantined", "{d}");
        }
    }
    (at.get("done").copied().unwrap_or(0), at)
}
