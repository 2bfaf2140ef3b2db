//! Fault injection: a restart with a spool file missing its row and a row missing its file.
//! Start-up succeeds; the stray file is moved aside, the job without its document is set aside
//! (never offered for release, visible to IT), each is logged and audited, nothing is deleted;
//! once the file is back, the job is held for release again.

use crate::common::release::{add_device, print_as, terminal};
use crate::common::{both_backends, folio_cli, op, parse_response, tag, RawIpp, TestApp};

/// The job's state, its reasons and message, as its owner sees them over IPP.
fn job(server: &TestApp, id: i32) -> (i32, Vec<String>, String) {
    let req = RawIpp::new(op::GET_JOB_ATTRIBUTES)
        .operation_prelude(&server.ipp_uri())
        .attr_i32(tag::INTEGER, "job-id", id)
        .attr_str(tag::NAME_WITHOUT_LANGUAGE, "requesting-user-name", "alice")
        .build();
    let r = parse_response(&server.post_ipp(&req).1).unwrap();
    let reasons = r
        .all("job-state-reasons")
        .iter()
        .map(|v| String::from_utf8_lossy(&v.value).into_owned())
        .collect();
    (
        r.integer("job-state").unwrap_or(0),
        reasons,
        r.text("job-state-message").unwrap_or_default(),
    )
}

/// The ids of the jobs a badge session at the copier offers to alice.
fn offered(server: &TestApp, token: &str) -> Vec<i64> {
    let s = terminal(
        server,
        token,
        "POST",
        "/api/v1/release/sessions",
        r#"{"badge":"04A1B2C3"}"#,
    );
    assert_eq!(s.status, 201, "{}", String::from_utf8_lossy(&s.body));
    s.json()["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_i64().unwrap())
        .collect()
}

both_backends!(
    a_spool_file_without_its_row_and_a_row_without_its_file_are_set_aside,
    |backend| {
        let data = tempfile::tempdir().unwrap();
        let mut alice = crate::common::directory::TestUser::new("alice");
        alice.badges = vec!["04A1B2C3".into()];
        crate::common::directory::write_ldif(&data.path().join("directory.ldif"), &[alice]);
        let mut server = TestApp::builder(backend).data_dir(data.path()).start();
        let token = add_device(
            data.path(),
            server.db_url.as_deref(),
            "ward-3",
            "ipp://127.0.0.1:9/ipp/print",
        );
        let ids: Vec<i32> = ["Compte rendu", "Ordonnance", "Courrier"]
            .iter()
            .map(|name| print_as(&server, "alice", name))
            .collect();
        let verify = folio_cli(
            data.path(),
            server.db_url.as_deref(),
            &["spool", "verify", "--json"],
        );
        let docs: serde_json::Value = serde_json::from_str(&verify.stdout).unwrap();
        let lost_file = docs
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["job_id"] == ids[1])
            .map(|d| d["file_name"].as_str().unwrap().to_owned())
            .unwrap();

        // The crash: job 2's file goes away (a restore from an older backup, a slip of the
        // hand), and a file no row knows turns up.
        server.kill9();
        let spool = data.path().join("spool");
        let aside = data.path().join("kept-by-the-operator.fdoc");
        std::fs::rename(spool.join(&lost_file), &aside).unwrap();
        let stray = "0123456789abcdef0123456789abcdef.fdoc";
        std::fs::write(spool.join(stray), b"not a row's document").unwrap();

        server.restart();
        let (state, reasons, message) = job(&server, ids[1]);
        assert_eq!(state, 4, "set aside, not deleted: {reasons:?} {message}");
        assert!(
            reasons.iter().any(|r| r == "document-access-error"),
            "{reasons:?}"
        );
        assert!(message.contains("missing from the spool"), "{message}");
        assert_eq!(
            offered(&server, &token),
            [ids[0] as i64, ids[2] as i64],
            "a job without its document is never offered for release"
        );
        assert!(
            !spool.join(stray).exists() && spool.join("orphans").join(stray).exists(),
            "the stray file is moved to spool/orphans, not deleted"
        );
        let log = server.server_log();
        assert!(
            log.contains("document file is missing") && log.contains("spool/orphans"),
            "both findings are logged"
        );
        let (_, metrics) = crate::common::http_get(server.port, "/metrics");
        assert!(
            metrics.contains("folio_spool_documents_missing 1"),
            "{metrics}"
        );
        let export = folio_cli(
            data.path(),
            server.db_url.as_deref(),
            &["audit", "export", "--format", "json"],
        );
        assert!(export.stdout.contains("spool.orphan_files"));
        assert!(export.stdout.contains("document-access-error"));
        let audit = folio_cli(data.path(), server.db_url.as_deref(), &["audit", "verify"]);
        assert_eq!(audit.code, 0, "{}", audit.stdout);

        // The operator puts the file back: at the next start the job is held for release again.
        std::fs::rename(&aside, spool.join(&lost_file)).unwrap();
        server.restart();
        let (state, reasons, message) = job(&server, ids[1]);
        assert_eq!(state, 4);
        assert!(
            reasons.iter().any(|r| r == "job-hold-until-specified"),
            "{reasons:?}"
        );
        assert!(message.contains("back in the spool"), "{message}");
        assert_eq!(offered(&server, &token).len(), 3);
        for (id, _, ok) in crate::common::verify_spool(&server) {
            assert!(ok, "job {id} does not verify");
        }
        server.kill9();
    }
);
