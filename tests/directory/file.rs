//! The embedded (LDIF file) directory end to end: authenticated printing in both modes,
//! badge normalisation, duplicates, self-registration and PINs, and the CLI.

use std::path::Path;

use crate::common::directory::{basic, http, password_of, write_ldif, TestUser};
use crate::common::{both_backends, op, parse_response, status, tag, RawIpp, TestApp, TestJob};

fn print_request(server: &TestApp, user: Option<&str>) -> Vec<u8> {
    let job = TestJob::pdf(1).name("ward round");
    match user {
        Some(u) => job.owner(u),
        None => job,
    }
    .request(server)
}

fn get_printer_attributes(server: &TestApp) -> Vec<u8> {
    RawIpp::new(op::GET_PRINTER_ATTRIBUTES)
        .operation_prelude(&server.ipp_uri())
        .build()
}

fn ipp(server: &TestApp, body: &[u8], auth: Option<&str>) -> crate::common::directory::HttpAnswer {
    http(
        "POST",
        &server.http_url("/ipp/print"),
        auth,
        "application/ipp",
        body,
    )
}

/// A data directory with a hand-written LDIF: two cards for dave, one card held by two people.
fn ward_directory() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut users = vec![
        TestUser::new("alice"),
        TestUser::new("bob"),
        TestUser::new("dave"),
        TestUser::new("dup1"),
        TestUser::new("dup2"),
    ];
    users[0].badges = vec!["04A1B2C3".into()];
    users[0].groups = vec!["doctors".into(), "color-printing".into()];
    users[2].badges = vec!["04D4E5F6".into(), "0000123456".into()];
    users[3].badges = vec!["0DDDDDDD".into()];
    users[4].badges = vec!["DDDDDDD".into()];
    write_ldif(&dir.path().join("directory.ldif"), &users);
    dir
}

fn folio(data_dir: &Path, db_url: Option<&str>, args: &[&str]) -> (i32, String) {
    let out = crate::common::folio_cli(data_dir, db_url, args);
    (out.code, out.stdout)
}

both_backends!(
    basic_auth_prints_as_the_directory_user_and_challenges_otherwise,
    |backend| {
        let server = TestApp::builder(backend)
            .settings(|s| {
                s.ipp.auth = folio::config::IppAuthMode::Basic;
            })
            .start();
        // Discovery needs nobody.
        let attrs = ipp(&server, &get_printer_attributes(&server), None);
        assert_eq!(attrs.status, 200);
        assert_eq!(
            parse_response(&attrs.body).unwrap().status,
            status::SUCCESSFUL_OK
        );

        // No credentials, wrong password, unknown user: HTTP 401 with a Basic challenge.
        for auth in [
            None,
            Some(basic("alice", "wrong")),
            Some(basic("nobody", "pw-nobody")),
        ] {
            let a = ipp(
                &server,
                &print_request(&server, Some("alice")),
                auth.as_deref(),
            );
            assert_eq!(a.status, 401, "auth {auth:?}");
            assert!(a
                .challenge
                .as_deref()
                .is_some_and(|c| c.starts_with("Basic realm=")));
            assert_eq!(
                parse_response(&a.body).unwrap().status,
                status::CLIENT_ERROR_NOT_AUTHENTICATED
            );
        }

        // Right password: the owner is the directory uid, whatever requesting-user-name says.
        let ok = ipp(
            &server,
            &print_request(&server, Some("mallory")),
            Some(&basic("ALICE", &password_of("alice"))),
        );
        assert_eq!(ok.status, 200);
        let resp = parse_response(&ok.body).unwrap();
        assert_eq!(resp.status, status::SUCCESSFUL_OK);
        let id = resp.integer("job-id").unwrap();
        let get = RawIpp::new(op::GET_JOB_ATTRIBUTES)
            .operation_prelude(&server.ipp_uri())
            .attr_i32(tag::INTEGER, "job-id", id)
            .build();
        let mine =
            parse_response(&ipp(&server, &get, Some(&basic("alice", &password_of("alice")))).body)
                .unwrap();
        assert_eq!(
            mine.text("job-originating-user-name").as_deref(),
            Some("alice")
        );
        assert_eq!(
            mine.text("job-name").as_deref(),
            Some("ward round"),
            "the owner sees the name"
        );
        let theirs =
            parse_response(&ipp(&server, &get, Some(&basic("bob", &password_of("bob")))).body)
                .unwrap();
        assert!(
            theirs.first("job-name").is_none(),
            "bob does not see alice's job name"
        );
    }
);

#[test]
fn ipptool_authenticates_after_the_challenge() {
    let server = TestApp::builder(crate::common::Backend::Sqlite)
        .settings(|s| {
            s.ipp.auth = folio::config::IppAuthMode::Basic;
        })
        .start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("doc.pdf"), testkit::sample_pdf(1)).unwrap();
    std::fs::write(dir.path().join("print.test"), PRINT_TEST).unwrap();
    let uri = format!(
        "ipp://bob:{}@127.0.0.1:{}/ipp/print",
        password_of("bob"),
        server.port
    );
    let out = crate::common::ipptool(&["-t", "-f", "doc.pdf", &uri, "print.test"], dir.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("[PASS]"), "{text}");
    let wrong = format!("ipp://bob:nope@127.0.0.1:{}/ipp/print", server.port);
    let out = crate::common::ipptool(&["-t", "-f", "doc.pdf", &wrong, "print.test"], dir.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("[FAIL]") && !text.contains("[PASS]"),
        "{text}"
    );
}

const PRINT_TEST: &str = r#"{
	NAME "Print-Job with a password"
	OPERATION Print-Job
	GROUP operation-attributes-tag
	ATTR charset attributes-charset utf-8
	ATTR language attributes-natural-language en
	ATTR uri printer-uri $uri
	ATTR name requesting-user-name $user
	ATTR mimeMediaType document-format application/pdf
	FILE $filename
	STATUS successful-ok
	EXPECT job-id
}
"#;

both_backends!(
    requesting_user_name_is_believed_only_from_trusted_networks,
    |backend| {
        let server = TestApp::start(backend);
        // Trusted (loopback by default): the directory's spelling becomes the owner.
        let ok =
            parse_response(&server.post_ipp(&print_request(&server, Some("ALICE"))).1).unwrap();
        assert_eq!(ok.status, status::SUCCESSFUL_OK);
        let id = ok.integer("job-id").unwrap();
        let get = RawIpp::new(op::GET_JOB_ATTRIBUTES)
            .operation_prelude(&server.ipp_uri())
            .attr_i32(tag::INTEGER, "job-id", id)
            .attr_str(tag::NAME_WITHOUT_LANGUAGE, "requesting-user-name", "alice")
            .build();
        let attrs = parse_response(&server.post_ipp(&get).1).unwrap();
        assert_eq!(
            attrs.text("job-originating-user-name").as_deref(),
            Some("alice")
        );

        // A name the directory does not know is refused.
        let unknown =
            parse_response(&server.post_ipp(&print_request(&server, Some("eve"))).1).unwrap();
        assert_eq!(unknown.status, status::CLIENT_ERROR_NOT_AUTHORIZED);
        assert!(unknown.text("status-message").unwrap().contains("eve"));
        drop(server);

        // From a network that is not trusted, a known name is refused too, but a password works.
        let server = TestApp::builder(backend)
            .settings(|s| {
                s.ipp.trusted_networks = vec!["10.0.0.0/8".into()];
            })
            .start();
        let (http_status, body) = server.post_ipp(&print_request(&server, Some("alice")));
        assert_eq!(http_status, 401, "the client is asked to log in");
        let refused = parse_response(&body).unwrap();
        assert_eq!(refused.status, status::CLIENT_ERROR_NOT_AUTHENTICATED);
        assert!(refused
            .text("status-message")
            .unwrap()
            .contains("not trusted"));
        let with_password = ipp(
            &server,
            &print_request(&server, None),
            Some(&basic("bob", &password_of("bob"))),
        );
        assert_eq!(
            parse_response(&with_password.body).unwrap().status,
            status::SUCCESSFUL_OK
        );
    }
);

#[test]
fn badges_normalise_and_duplicates_are_refused() {
    let dir = ward_directory();
    let d = dir.path();
    let lookup = |badge: &str| {
        folio(
            d,
            None,
            &["directory", "lookup", "--json", "--badge", badge],
        )
    };
    for read in [
        "04A1B2C3",
        "4a1b2c3",
        "0004A1B2C3",
        ";04A1B2C3?",
        "77705923",
        "0077705923",
    ] {
        let (code, out) = lookup(read);
        assert_eq!(code, 0, "{read}: {out}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["user"]["uid"], "alice", "{read}");
        assert_eq!(v["badge"], "4A1B2C3");
    }
    let (_, out) = lookup("77705923");
    assert!(out.contains("decimal-to-hex"), "the rule is shown: {out}");
    // Several cards per person.
    for card in ["04D4E5F6", "123456"] {
        let (code, out) = lookup(card);
        assert_eq!(code, 0);
        assert!(out.contains("\"dave\""), "{out}");
    }
    // One card, two people: refused and reported, never resolved to either.
    let (code, out) = lookup("0DDDDDDD");
    assert_eq!(code, 2);
    assert!(
        out.contains("badge_conflict") && out.contains("dup1") && out.contains("dup2"),
        "{out}"
    );
    let (code, out) = lookup("99999999");
    assert_eq!(code, 2);
    assert!(out.contains("unknown_badge"), "{out}");
    let (code, out) = folio(d, None, &["audit", "verify"]);
    assert_eq!(code, 0, "{out}");
    // The user lookup shows groups and department.
    let (code, out) = folio(d, None, &["directory", "lookup", "--user", "alice"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("color-printing, doctors") && out.contains("Cardiology"),
        "{out}"
    );
    let (code, out) = folio(d, None, &["directory", "list", "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["users"].as_array().unwrap().len(), 5);
}

both_backends!(staff_register_unknown_badges_and_set_a_pin, |backend| {
    let dir = ward_directory();
    let mut server = TestApp::builder(backend).data_dir(dir.path()).start();
    let url = |p: &str| server.http_url(p);
    let bob = basic("bob", &password_of("bob"));
    let json = "application/json";

    assert_eq!(http("GET", &url("/api/v1/me"), None, json, b"").status, 401);
    let me = http("GET", &url("/api/v1/me"), Some(&bob), json, b"");
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["uid"], "bob");

    // A form post (not JSON) is refused: no cross-site registration.
    let form = http(
        "POST",
        &url("/api/v1/me/badges"),
        Some(&bob),
        "application/x-www-form-urlencoded",
        b"badge=1",
    );
    assert_eq!(form.status, 415);
    // Alice's card cannot be taken.
    let taken = http(
        "POST",
        &url("/api/v1/me/badges"),
        Some(&bob),
        json,
        br#"{"badge":"0004A1B2C3"}"#,
    );
    assert_eq!(taken.status, 409);
    assert_eq!(taken.json()["error"], "badge_not_linked");
    let created = http(
        "POST",
        &url("/api/v1/me/badges"),
        Some(&bob),
        json,
        br#"{"badge":";00B0B0B0B0?"}"#,
    );
    assert_eq!(
        created.status,
        201,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    let reg_id = created.json()["id"].as_i64().unwrap();
    assert_eq!(created.json()["badge"], "B0B0B0B0");
    let again = http(
        "POST",
        &url("/api/v1/me/badges"),
        Some(&bob),
        json,
        br#"{"badge":"B0B0B0B0"}"#,
    );
    assert_eq!(again.json()["error"], "already_yours");

    let (code, out) = folio(
        dir.path(),
        server.db_url.as_deref(),
        &["directory", "lookup", "--json", "--badge", "0B0B0B0B0"],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("\"registration\"") && out.contains("\"bob\""),
        "{out}"
    );
    let (_, listed) = folio(
        dir.path(),
        server.db_url.as_deref(),
        &["badge", "list", "--json"],
    );
    assert!(listed.contains("B0B0B0B0"), "{listed}");

    // PINs: 4 to 8 digits.
    let bad = http(
        "PUT",
        &url("/api/v1/me/pin"),
        Some(&bob),
        json,
        br#"{"pin":"12"}"#,
    );
    assert_eq!(bad.status, 400);
    let set = http(
        "PUT",
        &url("/api/v1/me/pin"),
        Some(&bob),
        json,
        br#"{"pin":"2468"}"#,
    );
    assert_eq!(set.status, 204);

    // Someone else cannot revoke bob's card; bob can.
    let alice = basic("alice", &password_of("alice"));
    let path = format!("/api/v1/me/badges/{reg_id}");
    assert_eq!(
        http("DELETE", &url(&path), Some(&alice), json, b"").status,
        404
    );
    assert_eq!(
        http("DELETE", &url(&path), Some(&bob), json, b"").status,
        204
    );
    let (code, _) = folio(
        dir.path(),
        server.db_url.as_deref(),
        &["directory", "lookup", "--badge", "B0B0B0B0"],
    );
    assert_eq!(code, 2, "a revoked card is unknown again");
    let (code, out) = folio(dir.path(), server.db_url.as_deref(), &["audit", "verify"]);
    assert_eq!(code, 0, "{out}");
    server.kill9();
});

#[test]
fn pins_are_asked_and_checked_with_the_file_directory() {
    use folio::directory::BadgeError;
    let dir = ward_directory();
    let ldif = dir.path().join("directory.ldif");
    let db_url = format!("sqlite://{}", dir.path().join("folio.db").display());
    let service = |requires_pin: bool| {
        let settings = folio::config::DirectorySettings {
            badge_requires_pin: requires_pin,
            ..Default::default()
        };
        let db = folio::db::Db::connect(&db_url, 2).unwrap();
        let d = folio::directory::open(&settings, &ldif).unwrap();
        folio::directory::DirectoryService::new(d, db, &settings, 300)
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let svc = service(false);
        assert_eq!(
            svc.resolve_badge("04A1B2C3", None).await.unwrap().user.uid,
            "alice"
        );
        svc.set_pin("alice", Some("8642"), "alice").await.unwrap();
        assert_eq!(
            svc.resolve_badge("04A1B2C3", None).await.unwrap_err(),
            BadgeError::PinRequired
        );
        assert_eq!(
            svc.resolve_badge("04A1B2C3", Some("1111"))
                .await
                .unwrap_err(),
            BadgeError::WrongPin
        );
        assert_eq!(
            svc.resolve_badge("04A1B2C3", Some("8642"))
                .await
                .unwrap()
                .user
                .uid,
            "alice"
        );
        assert!(matches!(
            svc.resolve_badge("0DDDDDDD", Some("8642")).await,
            Err(BadgeError::Ambiguous(_))
        ));
        let strict = service(true);
        assert_eq!(
            strict.resolve_badge("04D4E5F6", None).await.unwrap_err(),
            BadgeError::PinRequired
        );
        assert_eq!(
            strict
                .resolve_badge("04D4E5F6", Some("1234"))
                .await
                .unwrap_err(),
            BadgeError::PinNotSet
        );
        assert!(strict
            .authenticate("dave", &password_of("dave"))
            .await
            .unwrap()
            .is_some());
        assert!(strict.authenticate("dave", "nope").await.unwrap().is_none());
        // A client looping on a wrong password stops reaching the directory (no AD lockout):
        // after five failures even the right password waits for the window to pass.
        for _ in 0..5 {
            assert!(strict.authenticate("bob", "wrong").await.unwrap().is_none());
        }
        assert!(strict
            .authenticate("bob", &password_of("bob"))
            .await
            .unwrap()
            .is_none());
    });
}
