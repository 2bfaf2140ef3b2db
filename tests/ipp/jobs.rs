//! Jobs through the real binary: submission with ipptool as the client, the held state and the
//! enforced ticket, privacy between users, hold/release/cancel rules, expiry, restart.

use crate::common::{
    both_backends, op, parse_response, status, tag, IppResponse, RawIpp, TestApp, TestJob,
};
use sha2::{Digest, Sha256};

fn print_job(
    server: &TestApp,
    user: &str,
    job_name: &str,
    doc: &[u8],
    job_attrs: &[(&str, &str)],
) -> IppResponse {
    let job = TestJob::document(doc.to_vec())
        .format("application/pdf")
        .owner(user)
        .name(job_name);
    job_attrs
        .iter()
        .fold(job, |job, (name, value)| job.keyword(name, value))
        .submit(server)
}

fn job_request(server: &TestApp, operation: u16, user: &str, job_id: i32) -> IppResponse {
    let req = RawIpp::new(operation)
        .operation_prelude(&server.ipp_uri())
        .attr_i32(tag::INTEGER, "job-id", job_id)
        .attr_str(tag::NAME_WITHOUT_LANGUAGE, "requesting-user-name", user)
        .build();
    let (http, body) = server.post_ipp(&req);
    assert_eq!(http, 200);
    parse_response(&body).expect("a valid IPP response")
}

fn get_jobs(server: &TestApp, user: &str, my_jobs: bool, which: &str) -> IppResponse {
    let req = RawIpp::new(op::GET_JOBS)
        .operation_prelude(&server.ipp_uri())
        .attr_str(tag::NAME_WITHOUT_LANGUAGE, "requesting-user-name", user)
        .attr_bool("my-jobs", my_jobs)
        .attr_str(tag::KEYWORD, "which-jobs", which)
        .attr_str(tag::KEYWORD, "requested-attributes", "all")
        .build();
    let (_, body) = server.post_ipp(&req);
    parse_response(&body).expect("a valid IPP response")
}

both_backends!(a_printed_job_is_held_with_the_hospital_ticket, |backend| {
    let server = TestApp::start(backend);
    let pdf = testkit::sample_pdf(3);
    let resp = print_job(
        &server,
        "alice",
        "Compte rendu Dupont",
        &pdf,
        &[("sides", "one-sided"), ("print-color-mode", "color")],
    );
    assert_eq!(resp.status, status::SUCCESSFUL_OK);
    assert_eq!(resp.integer("job-state"), Some(4), "pending-held");
    assert_eq!(
        resp.text("job-state-reasons").as_deref(),
        Some("job-hold-until-specified")
    );
    let id = resp.integer("job-id").expect("a job id");

    let attrs = job_request(&server, op::GET_JOB_ATTRIBUTES, "alice", id);
    assert_eq!(attrs.status, status::SUCCESSFUL_OK);
    assert_eq!(attrs.integer("job-state"), Some(4));
    assert_eq!(attrs.text("job-hold-until").as_deref(), Some("indefinite"));
    // What the client asked for, and what will be printed.
    assert_eq!(attrs.text("sides").as_deref(), Some("one-sided"));
    assert_eq!(
        attrs.text("sides-actual").as_deref(),
        Some("two-sided-long-edge")
    );
    assert_eq!(attrs.text("print-color-mode").as_deref(), Some("color"));
    assert_eq!(
        attrs.text("print-color-mode-actual").as_deref(),
        Some("monochrome")
    );
    assert_eq!(attrs.integer("job-impressions"), Some(3));
    assert_eq!(
        attrs.integer("job-media-sheets"),
        Some(2),
        "3 pages duplex = 2 sheets"
    );
    assert_eq!(
        attrs.text("job-name").as_deref(),
        Some("Compte rendu Dupont")
    );
    // Names can name patients: they are sealed at rest, never stored in clear.
    match &server.db_url {
        Some(url) => {
            let names = crate::common::postgres_sql(url, "SELECT name FROM jobs");
            assert!(!names.contains("Dupont"), "{names}");
        }
        None => {
            for entry in std::fs::read_dir(&server.data_dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_file() {
                    let bytes = std::fs::read(&path).unwrap();
                    assert!(
                        !bytes.windows(6).any(|w| w == b"Dupont"),
                        "job name in clear in {}",
                        path.display()
                    );
                }
            }
        }
    }
});

both_backends!(a_stricter_request_is_kept, |backend| {
    let server = TestApp::start(backend);
    let resp = print_job(
        &server,
        "alice",
        "x",
        &testkit::sample_pdf(1),
        &[
            ("sides", "two-sided-short-edge"),
            ("print-color-mode", "bi-level"),
        ],
    );
    let id = resp.integer("job-id").unwrap();
    let attrs = job_request(&server, op::GET_JOB_ATTRIBUTES, "alice", id);
    assert_eq!(
        attrs.text("sides-actual").as_deref(),
        Some("two-sided-short-edge")
    );
    assert_eq!(
        attrs.text("print-color-mode-actual").as_deref(),
        Some("bi-level")
    );
});

both_backends!(other_users_never_see_names_nor_touch_jobs, |backend| {
    let server = TestApp::start(backend);
    let resp = print_job(
        &server,
        "alice",
        "Patient Martin - IRM",
        &testkit::sample_pdf(1),
        &[],
    );
    let id = resp.integer("job-id").unwrap();

    let seen_by_bob = job_request(&server, op::GET_JOB_ATTRIBUTES, "bob", id);
    assert_eq!(seen_by_bob.status, status::SUCCESSFUL_OK);
    assert!(
        seen_by_bob.first("job-name").is_none(),
        "job-name is private"
    );
    assert!(seen_by_bob.first("document-name-supplied").is_none());
    assert_eq!(seen_by_bob.integer("job-state"), Some(4));

    let bobs = get_jobs(&server, "bob", true, "all");
    assert!(bobs.first("job-id").is_none(), "bob has no jobs");
    let everyone = get_jobs(&server, "bob", false, "all");
    assert_eq!(everyone.integer("job-id"), Some(id));
    assert!(
        everyone.first("job-name").is_none(),
        "names hidden in listings too"
    );
    let alices = get_jobs(&server, "alice", true, "not-completed");
    assert_eq!(
        alices.text("job-name").as_deref(),
        Some("Patient Martin - IRM")
    );

    for operation in [op::CANCEL_JOB, op::HOLD_JOB, op::RELEASE_JOB] {
        let r = job_request(&server, operation, "bob", id);
        assert_eq!(
            r.status,
            status::CLIENT_ERROR_NOT_AUTHORIZED,
            "operation {operation:#x}"
        );
    }
    assert_eq!(
        job_request(&server, op::GET_JOB_ATTRIBUTES, "alice", id).integer("job-state"),
        Some(4)
    );
});

both_backends!(
    hold_changes_nothing_release_points_to_the_copier_cancel_is_final,
    |backend| {
        let server = TestApp::start(backend);
        let id = print_job(&server, "alice", "x", &testkit::sample_pdf(1), &[])
            .integer("job-id")
            .unwrap();

        let hold = job_request(&server, op::HOLD_JOB, "alice", id);
        assert_eq!(hold.status, status::SUCCESSFUL_OK);
        assert_eq!(
            job_request(&server, op::GET_JOB_ATTRIBUTES, "alice", id).integer("job-state"),
            Some(4)
        );

        let release = job_request(&server, op::RELEASE_JOB, "alice", id);
        assert_eq!(release.status, status::CLIENT_ERROR_NOT_POSSIBLE);
        assert!(release.text("status-message").unwrap().contains("copier"));

        let cancel = job_request(&server, op::CANCEL_JOB, "alice", id);
        assert_eq!(cancel.status, status::SUCCESSFUL_OK);
        let after = job_request(&server, op::GET_JOB_ATTRIBUTES, "alice", id);
        assert_eq!(after.integer("job-state"), Some(7), "canceled");
        assert_eq!(
            after.text("job-state-reasons").as_deref(),
            Some("job-canceled-by-user")
        );
        let again = job_request(&server, op::CANCEL_JOB, "alice", id);
        assert_eq!(again.status, status::CLIENT_ERROR_NOT_POSSIBLE);
        let completed = get_jobs(&server, "alice", true, "completed");
        assert_eq!(completed.integer("job-id"), Some(id));
        // The document and its key are gone.
        let spool = std::fs::read_dir(server.data_dir.join("spool")).unwrap();
        assert_eq!(
            spool
                .filter_map(Result::ok)
                .filter(|e| e.path().is_file())
                .count(),
            0
        );

        let missing = job_request(&server, op::GET_JOB_ATTRIBUTES, "alice", 999_999);
        assert_eq!(missing.status, status::CLIENT_ERROR_NOT_FOUND);
    }
);

both_backends!(
    create_job_then_send_document_then_cancel_my_jobs,
    |backend| {
        let server = TestApp::start(backend);
        let create = RawIpp::new(op::CREATE_JOB)
            .operation_prelude(&server.ipp_uri())
            .attr_str(tag::NAME_WITHOUT_LANGUAGE, "requesting-user-name", "carol")
            .attr_str(tag::NAME_WITHOUT_LANGUAGE, "job-name", "two steps")
            .build();
        let created = parse_response(&server.post_ipp(&create).1).unwrap();
        assert_eq!(created.status, status::SUCCESSFUL_OK);
        assert_eq!(
            created.text("job-state-reasons").as_deref(),
            Some("job-incoming")
        );
        let id = created.integer("job-id").unwrap();

        let send = RawIpp::new(op::SEND_DOCUMENT)
            .operation_prelude(&server.ipp_uri())
            .attr_i32(tag::INTEGER, "job-id", id)
            .attr_str(tag::NAME_WITHOUT_LANGUAGE, "requesting-user-name", "carol")
            .attr_bool("last-document", true)
            .attr_str(
                tag::MIME_MEDIA_TYPE,
                "document-format",
                "application/octet-stream",
            )
            .document(&testkit::sample_pdf(4))
            .build();
        let sent = parse_response(&server.post_ipp(&send).1).unwrap();
        assert_eq!(sent.status, status::SUCCESSFUL_OK);
        assert_eq!(
            sent.text("job-state-reasons").as_deref(),
            Some("job-hold-until-specified")
        );
        let attrs = job_request(&server, op::GET_JOB_ATTRIBUTES, "carol", id);
        assert_eq!(attrs.integer("job-impressions"), Some(4));
        assert_eq!(
            attrs.text("document-format").as_deref(),
            Some("application/pdf"),
            "detected"
        );

        let second = parse_response(&server.post_ipp(&send).1).unwrap();
        assert_eq!(
            second.status,
            status::CLIENT_ERROR_NOT_POSSIBLE,
            "the job is closed"
        );

        let cancel_mine = RawIpp::new(op::CANCEL_MY_JOBS)
            .operation_prelude(&server.ipp_uri())
            .attr_str(tag::NAME_WITHOUT_LANGUAGE, "requesting-user-name", "carol")
            .build();
        assert_eq!(
            parse_response(&server.post_ipp(&cancel_mine).1)
                .unwrap()
                .status,
            status::SUCCESSFUL_OK
        );
        assert_eq!(
            job_request(&server, op::GET_JOB_ATTRIBUTES, "carol", id).integer("job-state"),
            Some(7)
        );
    }
);

both_backends!(ipptool_prints_creates_lists_and_cancels, |backend| {
    let server = TestApp::start(backend);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("doc.pdf"), testkit::sample_pdf(2)).unwrap();
    std::fs::write(dir.path().join("flow.test"), IPPTOOL_FLOW).unwrap();
    let out = crate::common::ipptool(
        &["-t", "-T", "30", &server.ipp_uri(), "flow.test"],
        dir.path(),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Summary: 7 tests, 7 passed"), "{text}");
});

const IPPTOOL_FLOW: &str = r#"
{
	NAME "Print-Job"
	OPERATION Print-Job
	GROUP operation-attributes-tag
	ATTR charset attributes-charset utf-8
	ATTR naturalLanguage attributes-natural-language en
	ATTR uri printer-uri $uri
	ATTR name requesting-user-name dave
	ATTR name job-name "ipptool job"
	ATTR mimeMediaType document-format application/pdf
	FILE doc.pdf
	STATUS successful-ok
	EXPECT job-id OF-TYPE integer WITH-VALUE >0
	EXPECT job-state OF-TYPE enum WITH-VALUE 4
}
{
	NAME "Create-Job"
	OPERATION Create-Job
	GROUP operation-attributes-tag
	ATTR charset attributes-charset utf-8
	ATTR naturalLanguage attributes-natural-language en
	ATTR uri printer-uri $uri
	ATTR name requesting-user-name dave
	STATUS successful-ok
	EXPECT job-id
}
{
	NAME "Send-Document"
	OPERATION Send-Document
	GROUP operation-attributes-tag
	ATTR charset attributes-charset utf-8
	ATTR naturalLanguage attributes-natural-language en
	ATTR uri printer-uri $uri
	ATTR integer job-id $job-id
	ATTR name requesting-user-name dave
	ATTR boolean last-document true
	ATTR mimeMediaType document-format application/pdf
	FILE doc.pdf
	STATUS successful-ok
}
{
	NAME "Get-Jobs (mine)"
	OPERATION Get-Jobs
	GROUP operation-attributes-tag
	ATTR charset attributes-charset utf-8
	ATTR naturalLanguage attributes-natural-language en
	ATTR uri printer-uri $uri
	ATTR name requesting-user-name dave
	ATTR boolean my-jobs true
	ATTR keyword requested-attributes job-id,job-name,job-state
	STATUS successful-ok
	EXPECT job-id COUNT 1 WITH-VALUE >0
	EXPECT job-name WITH-VALUE "ipptool job"
}
{
	NAME "Cancel-Job"
	OPERATION Cancel-Job
	GROUP operation-attributes-tag
	ATTR charset attributes-charset utf-8
	ATTR naturalLanguage attributes-natural-language en
	ATTR uri printer-uri $uri
	ATTR integer job-id $job-id
	ATTR name requesting-user-name dave
	STATUS successful-ok
}
{
	NAME "Another user's view"
	OPERATION Get-Jobs
	GROUP operation-attributes-tag
	ATTR charset attributes-charset utf-8
	ATTR naturalLanguage attributes-natural-language en
	ATTR uri printer-uri $uri
	ATTR name requesting-user-name eve
	ATTR keyword which-jobs all
	ATTR keyword requested-attributes job-id,job-name,job-originating-user-name
	STATUS successful-ok
	EXPECT job-id
	EXPECT !job-name
	EXPECT !job-originating-user-name
}
{
	NAME "An anonymous view"
	OPERATION Get-Jobs
	GROUP operation-attributes-tag
	ATTR charset attributes-charset utf-8
	ATTR naturalLanguage attributes-natural-language en
	ATTR uri printer-uri $uri
	ATTR keyword which-jobs all
	ATTR keyword requested-attributes job-id,job-name,job-originating-user-name,job-state-message
	STATUS successful-ok
	EXPECT job-id
	EXPECT !job-name
	EXPECT !job-originating-user-name
	EXPECT !job-state-message WITH-VALUE "/dave/"
}
"#;

both_backends!(unreleased_jobs_expire_and_are_destroyed, |backend| {
    let server = TestApp::builder(backend)
        .settings(|s| {
            s.hold_hours = 0;
            s.expiry_interval_secs = 1;
        })
        .start();
    let id = print_job(&server, "alice", "x", &testkit::sample_pdf(1), &[])
        .integer("job-id")
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let attrs = job_request(&server, op::GET_JOB_ATTRIBUTES, "alice", id);
        if attrs.integer("job-state") == Some(8) {
            assert_eq!(
                attrs.text("job-state-reasons").as_deref(),
                Some("aborted-by-system")
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the job did not expire"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let files = std::fs::read_dir(server.data_dir.join("spool")).unwrap();
    assert_eq!(
        files
            .filter_map(Result::ok)
            .filter(|e| e.path().is_file())
            .count(),
        0
    );
});

both_backends!(held_jobs_survive_a_restart_byte_for_byte, |backend| {
    let mut server = TestApp::start(backend);
    let mut sent = Vec::new();
    for pages in 1..=3 {
        let pdf = testkit::sample_pdf(pages);
        let id = print_job(&server, "alice", "x", &pdf, &[])
            .integer("job-id")
            .unwrap();
        sent.push((id as i64, hex::encode(Sha256::digest(&pdf))));
    }
    server.restart();
    let listed = get_jobs(&server, "alice", true, "not-completed");
    assert_eq!(listed.all("job-id").len(), 3);
    let stored = crate::common::verify_spool(&server);
    for (id, hash) in &sent {
        assert!(
            stored.contains(&(*id, hash.clone(), true)),
            "job {id} changed: {stored:?}"
        );
    }
});

both_backends!(the_data_directory_and_master_key_are_private, |backend| {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let data = parent.path().join("folio-data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let server = TestApp::builder(backend).data_dir(&data).start();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&server.data_dir), 0o700);
    assert_eq!(mode(&server.data_dir.join("master.key")), 0o600);
    let doc = print_job(&server, "alice", "x", &testkit::sample_pdf(1), &[]);
    assert_eq!(doc.status, status::SUCCESSFUL_OK);
    for entry in std::fs::read_dir(server.data_dir.join("spool")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
    }
});

both_backends!(
    a_created_job_whose_document_never_comes_is_aborted,
    |backend| {
        let server = TestApp::builder(backend)
            .settings(|s| {
                s.incoming_timeout_secs = 1;
                s.expiry_interval_secs = 1;
            })
            .start();
        let create = RawIpp::new(op::CREATE_JOB)
            .operation_prelude(&server.ipp_uri())
            .attr_str(tag::NAME_WITHOUT_LANGUAGE, "requesting-user-name", "alice")
            .build();
        let id = parse_response(&server.post_ipp(&create).1)
            .unwrap()
            .integer("job-id")
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let attrs = job_request(&server, op::GET_JOB_ATTRIBUTES, "alice", id);
            if attrs.integer("job-state") == Some(8) {
                assert!(attrs
                    .text("job-state-message")
                    .unwrap()
                    .contains("never arrived"));
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the job was not aborted"
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }
);

both_backends!(anonymous_clients_cannot_print_and_see_no_names, |backend| {
    let server = TestApp::start(backend);
    let print_as = |user: Option<&str>| {
        let mut req = RawIpp::new(op::PRINT_JOB).operation_prelude(&server.ipp_uri());
        if let Some(user) = user {
            req = req.attr_str(tag::NAME_WITHOUT_LANGUAGE, "requesting-user-name", user);
        }
        let req = req
            .attr_str(tag::NAME_WITHOUT_LANGUAGE, "job-name", "Patient X")
            .document(&testkit::sample_pdf(1))
            .build();
        parse_response(&server.post_ipp(&req).1).unwrap()
    };
    let refused = print_as(None);
    assert_eq!(refused.status, status::CLIENT_ERROR_NOT_AUTHORIZED);
    assert!(
        refused
            .text("status-message")
            .unwrap_or_default()
            .contains("requesting-user-name"),
        "the refusal says what is missing"
    );
    let id = print_as(Some("alice")).integer("job-id").unwrap();
    let anonymous = |operation: u16| {
        let req = RawIpp::new(operation)
            .operation_prelude(&server.ipp_uri())
            .attr_i32(tag::INTEGER, "job-id", id)
            .build();
        parse_response(&server.post_ipp(&req).1).unwrap()
    };
    let attrs = anonymous(op::GET_JOB_ATTRIBUTES);
    assert_eq!(attrs.status, status::SUCCESSFUL_OK);
    assert!(
        attrs.first("job-name").is_none(),
        "no anonymous client sees the name"
    );
    assert_eq!(
        anonymous(op::CANCEL_JOB).status,
        status::CLIENT_ERROR_NOT_AUTHORIZED
    );
    let bad_name = RawIpp::new(op::GET_JOBS)
        .operation_prelude(&server.ipp_uri())
        .attr_str(tag::NAME_WITHOUT_LANGUAGE, "requesting-user-name", "  ")
        .build();
    let resp = parse_response(&server.post_ipp(&bad_name).1).unwrap();
    assert_eq!(resp.status, status::CLIENT_ERROR_BAD_REQUEST);
});
