//! IT's print rules over REST and at the print queue: who may read, change and simulate them
//! (every role and anonymous), a rule letting radiology print colour (one colour and one mono
//! ticket for the same request), a refusal shown to the user and nothing kept, a site
//! restriction at release.

use crate::common::directory::{basic, http, password_of, write_ldif, HttpAnswer, TestUser};
use crate::common::release::print_colour;
use crate::common::{both_backends, op, parse_response, status, tag, RawIpp, TestApp};
use serde_json::json;

fn users() -> Vec<TestUser> {
    let mut users: Vec<TestUser> = ["carol", "harry", "audrey", "rita", "nina"]
        .into_iter()
        .map(TestUser::new)
        .collect();
    users[0].groups = vec!["folio-admins".into()];
    users[1].groups = vec!["folio-helpdesk".into()];
    users[2].groups = vec!["folio-auditors".into()];
    users[3].groups = vec!["radiology".into()];
    users[3].badges = vec!["04AA0001".into()];
    users[4].groups = vec!["nurses".into()];
    users
}

fn api(server: &TestApp, who: Option<&str>, method: &str, path: &str, body: &str) -> HttpAnswer {
    let auth = who.map(|u| basic(u, &password_of(u)));
    http(
        method,
        &server.http_url(path),
        auth.as_deref(),
        "application/json",
        body.as_bytes(),
    )
}

fn actual_colour(server: &TestApp, user: &str, job: i32) -> String {
    let req = RawIpp::new(op::GET_JOB_ATTRIBUTES)
        .operation_prelude(&server.ipp_uri())
        .attr_i32(tag::INTEGER, "job-id", job)
        .attr_str(tag::NAME_WITHOUT_LANGUAGE, "requesting-user-name", user)
        .build();
    parse_response(&server.post_ipp(&req).1)
        .unwrap()
        .text("print-color-mode-actual")
        .unwrap_or_default()
}

both_backends!(
    rules_are_read_changed_and_simulated_by_the_right_roles,
    |backend| {
        let data = tempfile::tempdir().unwrap();
        write_ldif(&data.path().join("directory.ldif"), &users());
        let server = TestApp::builder(backend).data_dir(data.path()).start();
        let rule = r#"{"name":"radiology may print colour","when":{"groups":["radiology"]},"then":{"color":"allow"}}"#;
        let simulation = r#"{"user":"rita","print-color-mode":"color","pages":4}"#;

        // Who may do what: anonymous never; staff without a role, no; helpdesk and auditors read;
        // only administrators change; administrators and helpdesk simulate.
        let table: &[(Option<&str>, &str, &str, &str, u16)] = &[
            (None, "GET", "/api/v1/policy/rules", "", 401),
            (Some("nina"), "GET", "/api/v1/policy/rules", "", 403),
            (Some("harry"), "GET", "/api/v1/policy/rules", "", 200),
            (Some("audrey"), "GET", "/api/v1/policy/rules", "", 200),
            (None, "POST", "/api/v1/policy/rules", rule, 401),
            (Some("nina"), "POST", "/api/v1/policy/rules", rule, 403),
            (Some("harry"), "POST", "/api/v1/policy/rules", rule, 403),
            (Some("audrey"), "POST", "/api/v1/policy/rules", rule, 403),
            (None, "POST", "/api/v1/policy/simulate", simulation, 401),
            (
                Some("nina"),
                "POST",
                "/api/v1/policy/simulate",
                simulation,
                403,
            ),
            (
                Some("audrey"),
                "POST",
                "/api/v1/policy/simulate",
                simulation,
                403,
            ),
            (
                Some("harry"),
                "POST",
                "/api/v1/policy/simulate",
                simulation,
                200,
            ),
        ];
        for (who, method, path, body, expected) in table {
            let r = api(&server, *who, method, path, body);
            assert_eq!(
                r.status,
                *expected,
                "{who:?} {method} {path}: {}",
                String::from_utf8_lossy(&r.body)
            );
        }

        // An invalid rule is refused with its problems named.
        let bad = api(
            &server,
            Some("carol"),
            "POST",
            "/api/v1/policy/rules",
            r#"{"name":"nights","when":{"hours":"20h-7h"},"then":{"color":"allow"}}"#,
        );
        assert_eq!(bad.status, 400);
        assert!(
            bad.json()["message"].as_str().unwrap().contains("hours"),
            "{}",
            bad.json()
        );
        let unknown_key = api(
            &server,
            Some("carol"),
            "POST",
            "/api/v1/policy/rules",
            r#"{"name":"x","when":{"group":["radiology"]},"then":{"color":"allow"}}"#,
        );
        assert_eq!(unknown_key.status, 400);

        // The administrator adds the colour rule; simulation explains both users' tickets.
        let created = api(&server, Some("carol"), "POST", "/api/v1/policy/rules", rule);
        assert_eq!(
            created.status,
            201,
            "{}",
            String::from_utf8_lossy(&created.body)
        );
        let id = created.json()["id"].as_i64().unwrap();
        let rita = api(
            &server,
            Some("harry"),
            "POST",
            "/api/v1/policy/simulate",
            simulation,
        )
        .json();
        assert_eq!(rita["decision"]["color_mode"], "color", "{rita}");
        assert_eq!(rita["decision"]["decided_by"]["color"]["rule_id"], id);
        assert_eq!(rita["decision"]["sides"], "two-sided-long-edge");
        assert_eq!(rita["sheets"], 2);
        let nina = api(
            &server,
            Some("harry"),
            "POST",
            "/api/v1/policy/simulate",
            r#"{"user":"nina","print-color-mode":"color"}"#,
        )
        .json();
        assert_eq!(nina["decision"]["color_mode"], "monochrome");
        assert_eq!(
            nina["decision"]["decided_by"]["color"]["rule"],
            "hospital default"
        );

        // The same request at the queue: colour for the radiologist, black & white for the nurse.
        let r = print_colour(&server, "rita", "IRM genou");
        assert_eq!(r.status, status::SUCCESSFUL_OK);
        assert_eq!(
            actual_colour(&server, "rita", r.integer("job-id").unwrap()),
            "color"
        );
        let n = print_colour(&server, "nina", "Planning");
        assert_eq!(n.status, status::SUCCESSFUL_OK);
        assert_eq!(
            actual_colour(&server, "nina", n.integer("job-id").unwrap()),
            "monochrome"
        );

        // A refusal: the user reads the rule's message; nothing is kept.
        let refuse = api(
            &server,
            Some("carol"),
            "POST",
            "/api/v1/policy/rules",
            r#"{"name":"posters","position":1,"when":{"document_names":["*poster*"]},"then":{"refuse":"Posters go to reprography (ext. 4242)"}}"#,
        );
        assert_eq!(refuse.status, 201);
        let listed = api(&server, Some("audrey"), "GET", "/api/v1/policy/rules", "").json();
        let names: Vec<&str> = listed["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["posters", "radiology may print colour"],
            "the new rule is first"
        );
        let docs_before = std::fs::read_dir(data.path().join("spool"))
            .map(|d| d.count())
            .unwrap_or(0);
        let p = print_colour(&server, "rita", "Poster congrès");
        assert_eq!(p.status, status::CLIENT_ERROR_NOT_POSSIBLE);
        assert!(p
            .text("status-message")
            .unwrap_or_default()
            .contains("reprography"));
        let docs_after = std::fs::read_dir(data.path().join("spool"))
            .map(|d| d.count())
            .unwrap_or(0);
        assert_eq!(docs_before, docs_after, "the refused document is not kept");

        // Edit and delete, by administrators only.
        let edited = api(
            &server,
            Some("carol"),
            "PUT",
            &format!("/api/v1/policy/rules/{id}"),
            &json!({"name": "radiology may print colour", "enabled": false,
                "when": {"groups": ["radiology"]}, "then": {"color": "allow"}})
            .to_string(),
        );
        assert_eq!(edited.status, 200);
        assert_eq!(edited.json()["enabled"], false);
        let r = print_colour(&server, "rita", "IRM épaule");
        assert_eq!(
            actual_colour(&server, "rita", r.integer("job-id").unwrap()),
            "monochrome"
        );
        assert_eq!(
            api(
                &server,
                Some("harry"),
                "DELETE",
                &format!("/api/v1/policy/rules/{id}"),
                ""
            )
            .status,
            403
        );
        assert_eq!(
            api(
                &server,
                Some("carol"),
                "DELETE",
                &format!("/api/v1/policy/rules/{id}"),
                ""
            )
            .status,
            204
        );
        assert_eq!(
            api(
                &server,
                Some("carol"),
                "GET",
                &format!("/api/v1/policy/rules/{id}"),
                ""
            )
            .status,
            404
        );
    }
);

#[test]
fn a_rule_keeps_a_document_to_its_site_at_release() {
    let data = tempfile::tempdir().unwrap();
    write_ldif(&data.path().join("directory.ldif"), &users());
    let server = TestApp::builder(crate::common::Backend::Sqlite)
        .data_dir(data.path())
        .start();
    let token = crate::common::TestDevice::new("sud-1", "socket://127.0.0.1:9")
        .driver("generic-pjl-pdf")
        .site("Sud")
        .add_to(data.path(), None);
    let created = api(
        &server,
        Some("carol"),
        "POST",
        "/api/v1/policy/rules",
        r#"{"name":"radiology prints at Nord","when":{"groups":["radiology"]},"then":{"release_sites":["Nord"]}}"#,
    );
    assert_eq!(
        created.status,
        201,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    let job = print_colour(&server, "rita", "IRM")
        .integer("job-id")
        .unwrap();
    let bearer = format!("Bearer {token}");
    let s = http(
        "POST",
        &server.http_url("/api/v1/release/sessions"),
        Some(&bearer),
        "application/json",
        br#"{"badge":"04AA0001"}"#,
    );
    assert_eq!(s.status, 201);
    let sid = s.json()["session"].as_str().unwrap().to_owned();
    let r = http(
        "POST",
        &server.http_url(&format!("/api/v1/release/sessions/{sid}/release")),
        Some(&bearer),
        "application/json",
        format!(r#"{{"jobs":[{job}]}}"#).as_bytes(),
    );
    let result = &r.json()["results"][0];
    assert_eq!(result["result"], "not-here", "{result}");
    assert!(result["message"].as_str().unwrap().contains("Nord"));
}
