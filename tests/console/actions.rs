//! What IT does in the console besides looking, with each role (and without a session or a
//! CSRF token): devices added, edited (live state from an ippeveprinter copier), their token
//! rotated and removed; a held job released at a copier for its owner, another canceled; a
//! user looked up, a badge linked and unlinked for them; rules edited, moved and turned off.

use std::time::Duration;

use crate::common::copier::IppEvePrinter;
use crate::common::directory::{basic, http, password_of, write_ldif, TestUser};
use crate::common::release::{console_cookie, job_state, print_as, terminal, wait_state};
use crate::common::{both_backends, TestApp};

fn users() -> Vec<TestUser> {
    let mut users: Vec<TestUser> = ["carol", "harry", "audrey", "nina"]
        .into_iter()
        .map(TestUser::new)
        .collect();
    users[0].groups = vec!["folio-admins".into()];
    users[1].groups = vec!["folio-helpdesk".into()];
    users[2].groups = vec!["folio-auditors".into()];
    users[3].groups = vec!["nurses".into()];
    users
}

/// A signed-in console user.
struct Console<'a> {
    server: &'a TestApp,
    cookie: String,
    csrf: String,
}

/// (status, Location, body)
type Answer = (u16, String, String);

fn call(server: &TestApp, method: &str, path: &str, cookie: &str, form: &str) -> Answer {
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let req = agent
        .request(method, &server.http_url(path))
        .set("Cookie", cookie)
        .set("Content-Type", "application/x-www-form-urlencoded");
    let r = if method == "GET" {
        req.call()
    } else {
        req.send_string(form)
    };
    let r = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {path}: {e}"),
    };
    let status = r.status();
    let location = r.header("location").unwrap_or_default().to_owned();
    (status, location, r.into_string().unwrap_or_default())
}

impl<'a> Console<'a> {
    fn sign_in(server: &'a TestApp, user: &str) -> Console<'a> {
        let cookie = console_cookie(server, user);
        let (_, _, page) = call(server, "GET", "/me", &cookie, "");
        let csrf = page
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("a CSRF token on the page")
            .to_owned();
        Console {
            server,
            cookie,
            csrf,
        }
    }

    fn get(&self, path: &str) -> Answer {
        call(self.server, "GET", path, &self.cookie, "")
    }

    /// Posts `fields` with the CSRF token.
    fn post(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("csrf", &self.csrf);
        for (k, v) in fields {
            form.append_pair(k, v);
        }
        call(self.server, "POST", path, &self.cookie, &form.finish())
    }
}

fn device_id(page: &str, name: &str) -> i64 {
    let row = page
        .split("<tr id=\"device-")
        .find(|r| r.contains(&format!("<td class=\"name\">{name}</td>")))
        .unwrap_or_else(|| panic!("{name} is not listed"));
    row.split('"').next().unwrap().parse().unwrap()
}

both_backends!(
    it_adds_edits_and_retires_devices_and_acts_on_jobs_and_users,
    |backend| {
        let data = tempfile::tempdir().unwrap();
        write_ldif(&data.path().join("directory.ldif"), &users());
        let server = TestApp::builder(backend).data_dir(data.path()).start();
        let copier = IppEvePrinter::start("Ward Copier", true, false);
        let (admin, helpdesk, auditor, nurse) = (
            Console::sign_in(&server, "carol"),
            Console::sign_in(&server, "harry"),
            Console::sign_in(&server, "audrey"),
            Console::sign_in(&server, "nina"),
        );
        let uri = copier.uri();
        let device = [
            ("name", "ward-copier"),
            ("uri", uri.as_str()),
            ("driver", "ipp-everywhere"),
            ("site", "Nord"),
        ];

        // Adding a device decides where documents may go: administrators only; not the
        // helpdesk, the auditor or staff, nobody without a session or the form's token.
        assert_eq!(helpdesk.post("/devices", &device).0, 403);
        assert_eq!(auditor.post("/devices", &device).0, 403);
        assert_eq!(nurse.post("/devices", &device).0, 403);
        assert_eq!(call(&server, "POST", "/devices", "", "name=x").1, "/login");
        let forged = call(
            &server,
            "POST",
            "/devices",
            &admin.cookie,
            "name=x&uri=ipp://h/",
        );
        assert_eq!(forged.0, 403, "a form without its CSRF token");
        let (status, _, page) = admin.post("/devices", &device);
        assert_eq!(status, 200, "{page}");
        let token = page
            .split("id=\"device-token\">")
            .nth(1)
            .and_then(|s| s.split('<').next())
            .unwrap()
            .to_owned();
        assert!(token.len() > 20, "{token}");
        // A device token opens the release API (no such session here, but not refused).
        let s = terminal(&server, &token, "GET", "/api/v1/release/sessions/none", "");
        assert_eq!(s.status, 404, "the shown token works");

        // Listed with its live state; an auditor sees the list without the buttons.
        let (_, _, list) = admin.get("/devices");
        assert!(list.contains("status ready"), "{list}");
        let id = device_id(&list, "ward-copier");
        let (_, _, seen) = auditor.get("/devices");
        assert!(seen.contains("ward-copier") && !seen.contains("/rotate"));

        // Edited by an administrator (not the helpdesk): new name and service; the address
        // must stay a device address.
        let path = format!("/devices/{id}");
        assert_eq!(helpdesk.get(&path).0, 403);
        assert_eq!(
            helpdesk
                .post(
                    &path,
                    &[
                        ("name", "x"),
                        ("uri", uri.as_str()),
                        ("driver", "ipp-everywhere")
                    ]
                )
                .0,
            403
        );
        let bad = admin.post(
            &path,
            &[
                ("name", "x"),
                ("uri", "nonsense"),
                ("driver", "ipp-everywhere"),
            ],
        );
        assert_eq!(bad.0, 400, "{}", bad.2);
        assert!(bad.2.contains("not a device URI"), "{}", bad.2);
        let edited = admin.post(
            &path,
            &[
                ("name", "cardio-3"),
                ("uri", uri.as_str()),
                ("driver", "ipp-everywhere"),
                ("site", "Nord"),
                ("service", "Cardiologie"),
            ],
        );
        assert_eq!(edited.0, 303, "{}", edited.2);
        let (_, _, list) = admin.get("/devices");
        assert!(list.contains("cardio-3") && list.contains("Cardiologie"));
        assert!(!list.contains("ward-copier"));

        // Released for its owner by the helpdesk (badge forgotten), printed once; another
        // canceled; the auditor can do neither.
        let job = print_as(&server, "nina", "ordonnance");
        let other = print_as(&server, "nina", "brouillon");
        let release_path = format!("/jobs/{job}/release");
        assert_eq!(
            auditor.post(&release_path, &[("device", "cardio-3")]).0,
            403
        );
        assert_eq!(nurse.post(&release_path, &[("device", "cardio-3")]).0, 403);
        let released = helpdesk.post(&release_path, &[("device", "cardio-3")]);
        assert_eq!(released.0, 303, "{}", released.2);
        let message = wait_state(&server, "nina", job, 9);
        assert!(message.contains("cardio-3"), "{message}");
        assert_eq!(copier.received(1, Duration::from_secs(20)).len(), 1);
        let (_, _, audit) = admin.get("/audit?actor=harry");
        assert!(
            audit.contains("released by harry (IT) for nina"),
            "the audit names both"
        );
        let cancel_path = format!("/jobs/{other}/cancel");
        assert_eq!(auditor.post(&cancel_path, &[]).0, 403);
        assert_eq!(helpdesk.post(&cancel_path, &[]).0, 303);
        assert_eq!(job_state(&server, "nina", other).0, 7);

        // The token rotated: the old one stops working. Then the device is retired.
        let (status, _, page) = helpdesk.post(&format!("/devices/{id}/rotate"), &[]);
        assert_eq!(status, 200);
        assert!(page.contains("New token for cardio-3"));
        let s = terminal(&server, &token, "GET", "/api/v1/release/sessions/none", "");
        assert_eq!(s.status, 401);
        assert_eq!(helpdesk.post(&format!("/devices/{id}/remove"), &[]).0, 303);
        let (_, _, list) = admin.get("/devices");
        assert!(!list.contains("<td class=\"name\">cardio-3</td>"), "{list}");

        // A user looked up by the helpdesk (not by the auditor), a badge linked and unlinked.
        assert_eq!(auditor.get("/users/nina").0, 403);
        let (status, location, _) = helpdesk.get("/users?q=nina");
        assert_eq!((status, location.as_str()), (303, "/users/nina"));
        let (status, _, page) = helpdesk.get("/users/nina");
        assert_eq!(status, 200);
        assert!(
            page.contains("Cardiology") && page.contains("nurses"),
            "{page}"
        );
        let linked = helpdesk.post("/users/nina/badges", &[("badge", "04CC0042")]);
        assert_eq!(linked.0, 303);
        let (_, _, page) = helpdesk.get(&linked.1);
        // Stored as the badge rules write it (leading zeros dropped).
        assert!(page.contains("Badge 4CC0042 linked"), "{page}");
        let badge_id: i64 = page
            .split("/users/nina/badges/")
            .nth(1)
            .and_then(|s| s.split('/').next())
            .unwrap()
            .parse()
            .unwrap();
        let unlinked = helpdesk.post(&format!("/users/nina/badges/{badge_id}/revoke"), &[]);
        let (_, _, page) = helpdesk.get(&unlinked.1);
        assert!(page.contains("Badge unlinked"), "{page}");
    }
);

#[test]
fn administrators_edit_move_and_turn_off_rules() {
    let data = tempfile::tempdir().unwrap();
    write_ldif(&data.path().join("directory.ldif"), &users());
    let server = TestApp::builder(crate::common::Backend::Sqlite)
        .data_dir(data.path())
        .start();
    let rules_api = |body: &str| {
        let r = http(
            "POST",
            &server.http_url("/api/v1/policy/rules"),
            Some(&basic("carol", &password_of("carol"))),
            "application/json",
            body.as_bytes(),
        );
        assert_eq!(r.status, 201);
        r.json()["id"].as_i64().unwrap()
    };
    let first = rules_api(r#"{"name":"first","then":{"sides":"allow"}}"#);
    let second =
        rules_api(r#"{"name":"second","when":{"groups":["radiology"]},"then":{"color":"allow"}}"#);
    let admin = Console::sign_in(&server, "carol");
    let helpdesk = Console::sign_in(&server, "harry");

    // The edit form comes filled with the rule.
    let (status, _, form) = admin.get(&format!("/policies/{second}"));
    assert_eq!(status, 200);
    assert!(form.contains("value=\"radiology\""), "{form}");
    assert_eq!(helpdesk.get(&format!("/policies/{second}")).0, 403);

    let edit = [
        ("name", "radiology colour, with a stamp"),
        ("enabled", "on"),
        ("groups", "radiology, imaging"),
        ("color_used", "yes"),
        ("color", "allow"),
        ("watermark", "{owner} {date}"),
        ("position", "2"),
    ];
    assert_eq!(helpdesk.post(&format!("/policies/{second}"), &edit).0, 403);
    let bad = admin.post(
        &format!("/policies/{second}"),
        &[("name", "x"), ("hours", "8h-18h"), ("color", "allow")],
    );
    assert_eq!(bad.0, 400);
    assert!(bad.2.contains("hours"), "{}", bad.2);
    assert_eq!(admin.post(&format!("/policies/{second}"), &edit).0, 303);
    // Moved first, then turned off.
    assert_eq!(
        admin
            .post(&format!("/policies/{second}/move"), &[("to", "1")])
            .0,
        303
    );
    assert_eq!(
        admin.post(&format!("/policies/{second}/toggle"), &[]).0,
        303
    );

    let listed = http(
        "GET",
        &server.http_url("/api/v1/policy/rules"),
        Some(&basic("carol", &password_of("carol"))),
        "application/json",
        b"",
    )
    .json();
    let rules = listed["rules"].as_array().unwrap();
    assert_eq!(rules[0]["id"], second, "{listed}");
    assert_eq!(rules[1]["id"], first);
    assert_eq!(rules[0]["name"], "radiology colour, with a stamp");
    assert_eq!(rules[0]["enabled"], false);
    assert_eq!(
        rules[0]["when"]["groups"],
        serde_json::json!(["radiology", "imaging"])
    );
    assert_eq!(rules[0]["when"]["color_used"], true);
    assert_eq!(rules[0]["then"]["watermark"], "{owner} {date}");
}
