//! Hostile insiders cannot read what is not theirs or guess their way in (issue 17,
//! `docs/security.md`): passwords are throttled before any check on every channel, documents
//! go only to the copier networks IT allows, names are believed only from trusted networks or
//! through a trusted proxy, card numbers cannot be probed and a found one needs its PIN,
//! cross-site forms cannot write, delegates cannot discard, and the audit trail keeps no typed
//! secrets.

use std::time::Duration;

use crate::common::directory::{basic, http, password_of, TestUser};
use crate::common::release::{add_device, badge_in, print_as, release_one, terminal, wait_state};
use crate::common::{
    both_backends, folio_cli, op, parse_response, tag, Backend, RawIpp, Settings, TestApp,
};

fn users() -> Vec<TestUser> {
    let mut alice = TestUser::new("alice");
    alice.badges = vec!["04A1B2C3".into()];
    let mut carol = TestUser::new("carol");
    carol.groups = vec!["folio-admins".into()];
    let mut harry = TestUser::new("harry");
    harry.groups = vec!["folio-helpdesk".into()];
    vec![
        alice,
        TestUser::new("bob"),
        carol,
        harry,
        TestUser::new("dave"),
    ]
}

fn start(backend: Backend, change: impl FnOnce(&mut Settings)) -> TestApp {
    TestApp::builder(backend)
        .directory(&users())
        .settings(change)
        .start()
}

/// The audit trail as JSON lines, through the CLI.
fn audit(server: &TestApp) -> Vec<serde_json::Value> {
    let out = folio_cli(
        &server.data_dir,
        server.db_url.as_deref(),
        &["audit", "export", "--format", "json"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    v.as_array().cloned().unwrap_or_default()
}

fn api(server: &TestApp, user: &str, password: &str) -> u16 {
    http(
        "GET",
        &server.http_url("/api/v1/me"),
        Some(&basic(user, password)),
        "",
        b"",
    )
    .status
}

fn ipp_basic(server: &TestApp, user: &str, password: &str) -> (u16, u16) {
    let req = RawIpp::new(op::PRINT_JOB)
        .operation_prelude(&server.ipp_uri())
        .attr_str(tag::MIME_MEDIA_TYPE, "document-format", "application/pdf")
        .document(&testkit::sample_pdf(1))
        .build();
    let a = http(
        "POST",
        &server.http_url("/ipp/print"),
        Some(&basic(user, password)),
        "application/ipp",
        &req,
    );
    let status = parse_response(&a.body).map(|r| r.status).unwrap_or(0);
    (a.status, status)
}

both_backends!(
    guessing_is_throttled_on_every_channel_before_any_password_is_compared,
    |backend| {
        let server = start(backend, |_| {});
        // Bob signs in once: his password is remembered (the shortcut the throttle once came after).
        assert_eq!(api(&server, "bob", &password_of("bob")), 200);
        // Twenty wrong passwords from this address over three channels: the REST API, IPP Basic and
        // the console, for several logins (password spraying). Bob's own address keeps him out of
        // his login's lock; dave's login locks after five, elsewhere too.
        for i in 0..9 {
            assert_eq!(api(&server, "bob", &format!("guess-{i}")), 401);
        }
        for i in 0..5 {
            assert_eq!(ipp_basic(&server, "dave", &format!("guess-{i}")).0, 401);
        }
        let console = |login: &str, password: &str| {
            let agent = ureq::AgentBuilder::new().redirects(0).build();
            let page = agent.get(&server.http_url("/login")).call().unwrap();
            let cookie = page
                .header("set-cookie")
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .to_owned();
            let csrf = cookie.split('=').nth(1).unwrap().to_owned();
            let form = format!("csrf={csrf}&login={login}&password={password}");
            match agent
                .post(&server.http_url("/login"))
                .set("Cookie", &cookie)
                .set("Content-Type", "application/x-www-form-urlencoded")
                .send_string(&form)
            {
                Ok(r) => r.status(),
                Err(ureq::Error::Status(s, _)) => s,
                Err(e) => panic!("{e}"),
            }
        };
        // A password typed in the login field, as people do.
        assert_eq!(console("Hiver2026!", "x"), 401);
        for i in 0..5 {
            assert_eq!(console("carol", &format!("guess-{i}")), 401);
        }
        // The address is locked out: the right password is not even compared, on any channel.
        assert_eq!(api(&server, "bob", &password_of("bob")), 429);
        assert_eq!(
            ipp_basic(&server, "dave", &password_of("dave")),
            (200, 0x0502)
        );
        assert_eq!(console("carol", &password_of("carol")), 429);

        // Audited in aggregate: far fewer events than guesses, each with its count, none with a
        // typed secret; the login as typed only when it names someone.
        let events = audit(&server);
        let failed: Vec<&serde_json::Value> = events
            .iter()
            .filter(|e| {
                e["outcome"] == "failure"
                    && e["action"].as_str().is_some_and(|a| a.ends_with(".login"))
            })
            .collect();
        assert!(!failed.is_empty() && failed.len() <= 8, "{failed:#?}");
        for action in ["api.login", "ipp.login", "console.login"] {
            assert!(
                failed.iter().any(|e| e["action"] == action),
                "{action}: {failed:#?}"
            );
        }
        let text = serde_json::to_string(&events).unwrap();
        assert!(
            !text.contains("Hiver2026"),
            "a typed password reached the audit trail"
        );
        assert!(!text.contains("guess-"));
        assert!(text.contains("(unknown login)"));
        assert!(text.contains("\"locked\":true"), "the lock is audited");
    }
);

#[test]
fn documents_go_only_to_the_copier_networks_it_allows() {
    let sink = crate::common::copier::SocketSink::start();
    let uri = format!("socket://127.0.0.1:{}", sink.port);
    // IT allows its copier network only: loopback is not a copier.
    let server = start(Backend::Sqlite, |s| {
        s.devices.allowed_networks = vec!["10.0.0.0/8".into()];
        s.devices.allowed_ports = vec!["631".into(), "9100".into()];
    });
    let admin = basic("carol", &password_of("carol"));
    let refused = http(
        "POST",
        &server.http_url("/api/v1/devices"),
        Some(&admin),
        "application/json",
        format!(r#"{{"name":"listener","uri":"{uri}","driver":"generic-pjl-pdf"}}"#).as_bytes(),
    );
    assert_eq!(
        refused.status,
        400,
        "{}",
        String::from_utf8_lossy(&refused.body)
    );
    assert!(String::from_utf8_lossy(&refused.body).contains("allowed_networks"));

    // A device row pointing there anyway (written before the allow-list, by another tool):
    // releasing to it sends nothing, and the job waits for its owner again.
    let before = tempfile::tempdir().unwrap();
    let config = crate::common::write_config(before.path(), &crate::common::test_settings());
    let out = crate::common::folio_command()
        .arg("--config")
        .arg(&config)
        .args([
            "device", "add", "--json", "--name", "listener", "--uri", &uri,
        ])
        .args(["--driver", "generic-pjl-pdf", "--data-dir"])
        .arg(&server.data_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let job = print_as(&server, "alice", "compte rendu DUPONT");
    release_one(&server, &token, "04A1B2C3", job);
    let message = wait_state(&server, "alice", job, 4);
    assert!(message.contains("copier network"), "{message}");
    assert!(
        sink.jobs(1, Duration::from_secs(3)).is_empty(),
        "the document left"
    );
}

#[test]
fn names_are_believed_only_from_trusted_networks_or_through_a_trusted_proxy() {
    let print = |server: &TestApp, forwarded: Option<&str>| {
        let req = RawIpp::new(op::PRINT_JOB)
            .operation_prelude(&server.ipp_uri())
            .attr_str(tag::NAME_WITHOUT_LANGUAGE, "requesting-user-name", "alice")
            .attr_str(tag::MIME_MEDIA_TYPE, "document-format", "application/pdf")
            .document(&testkit::sample_pdf(1))
            .build();
        let mut r =
            ureq::post(&server.http_url("/ipp/print")).set("Content-Type", "application/ipp");
        if let Some(f) = forwarded {
            r = r.set("X-Forwarded-For", f);
        }
        match r.send_bytes(&req) {
            Ok(a) => a.status(),
            Err(ureq::Error::Status(s, _)) => s,
            Err(e) => panic!("{e}"),
        }
    };
    // The default: no network names its users, loopback included.
    let server = start(Backend::Sqlite, |s| s.ipp.trusted_networks.clear());
    assert_eq!(print(&server, None), 401);
    assert_eq!(
        print(&server, Some("10.20.1.2")),
        401,
        "a client's own header is not believed"
    );
    drop(server);
    // Behind a reverse proxy on this host: the address it forwards is what is checked.
    let server = start(Backend::Sqlite, |s| {
        s.ipp.trusted_networks = vec!["10.20.0.0/16".into()];
        s.limits.trusted_proxies = vec!["127.0.0.1/32".into()];
    });
    assert_eq!(print(&server, Some("10.20.1.2")), 200);
    assert_eq!(print(&server, Some("192.0.2.1")), 401);
    assert_eq!(print(&server, None), 401, "the proxy itself is nobody");
}

both_backends!(
    card_numbers_cannot_be_probed_and_a_found_number_needs_its_pin,
    |backend| {
        // The default for hospitals: a PIN after the badge.
        let server = start(backend, |s| s.directory.badge_requires_pin = true);
        let bob = basic("bob", &password_of("bob"));
        let register = |badge: &str| {
            http(
                "POST",
                &server.http_url("/api/v1/me/badges"),
                Some(&bob),
                "application/json",
                format!(r#"{{"badge":"{badge}"}}"#).as_bytes(),
            )
        };
        // Alice's card, in two spellings, and a free one: the refusal says nothing of whose it is.
        let taken = register("04A1B2C3");
        assert_eq!(taken.status, 409);
        assert_eq!(taken.json()["error"], "badge_not_linked");
        assert!(!String::from_utf8_lossy(&taken.body).contains("belongs"));
        assert_eq!(
            register("0004a1b2c3").json()["message"],
            taken.json()["message"]
        );
        assert_eq!(register("0B0B0B0B").status, 201);
        // A few attempts an hour: probing stops there.
        assert_eq!(register("0C0C0C0C").status, 201);
        assert_eq!(register("0D0D0D0D").status, 201);
        let stopped = register("0E0E0E0E");
        assert_eq!(
            stopped.status,
            429,
            "{}",
            String::from_utf8_lossy(&stopped.body)
        );

        // Typed at a terminal, alice's number alone opens nothing: her PIN is asked.
        let token = add_device(
            &server.data_dir,
            server.db_url.as_deref(),
            "ward-1",
            "ipp://127.0.0.1:9/ipp/print",
        );
        let s = badge_in(&server, &token, "04A1B2C3");
        assert_eq!(s.status, 401, "{}", String::from_utf8_lossy(&s.body));
        assert!(s.json()["session"].is_null());

        // The trail knows which card, never its number.
        let text = serde_json::to_string(&audit(&server)).unwrap();
        assert!(text.contains("badge.register_refused"));
        for number in ["04A1B2C3", "0B0B0B0B", "B0B0B0B"] {
            assert!(
                !text.to_uppercase().contains(number),
                "{number} in the trail"
            );
        }
        assert!(text.contains("\"card\":\"card:"));
    }
);

#[test]
fn a_cross_site_form_cannot_write_and_a_delegate_cannot_discard() {
    let server = start(Backend::Sqlite, |_| {});
    let admin = basic("carol", &password_of("carol"));
    let token = add_device(
        &server.data_dir,
        None,
        "ward-1",
        "ipp://127.0.0.1:9/ipp/print",
    );
    let list = http(
        "GET",
        &server.http_url("/api/v1/devices"),
        Some(&admin),
        "",
        b"",
    )
    .json();
    let id = list["devices"][0]["id"]
        .as_i64()
        .unwrap_or_else(|| list[0]["id"].as_i64().unwrap());
    let path = server.http_url(&format!("/api/v1/devices/{id}/token"));
    // What another site's form sends with the browser's saved password: refused.
    let form = ureq::post(&path)
        .set("Authorization", &admin)
        .set("Content-Type", "application/x-www-form-urlencoded")
        .send_string("");
    assert!(matches!(form, Err(ureq::Error::Status(415, _))), "{form:?}");
    let bare = ureq::post(&path).set("Authorization", &admin).call();
    assert!(matches!(bare, Err(ureq::Error::Status(415, _))), "{bare:?}");
    // A script marks its body-less write.
    let rotated = ureq::post(&path)
        .set("Authorization", &admin)
        .set("X-Folio-Request", "1")
        .call()
        .unwrap();
    assert_eq!(rotated.status(), 200);
    let answer: serde_json::Value = serde_json::from_reader(rotated.into_reader()).unwrap();
    assert_ne!(answer["token"].as_str().unwrap(), token);
    let token = answer["token"].as_str().unwrap().to_owned();

    // Alice lets bob release her jobs; bob cannot delete them.
    let alice = basic("alice", &password_of("alice"));
    let given = http(
        "POST",
        &server.http_url("/api/v1/me/delegations"),
        Some(&alice),
        "application/json",
        br#"{"to_user":"bob"}"#,
    );
    assert_eq!(
        given.status,
        201,
        "{}",
        String::from_utf8_lossy(&given.body)
    );
    let job = print_as(&server, "alice", "ordonnance");
    let out = folio_cli(
        &server.data_dir,
        None,
        &["badge", "register", "--user", "bob", "--badge", "0B0B0001"],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let s = badge_in(&server, &token, "0B0B0001");
    assert_eq!(s.status, 201, "{}", String::from_utf8_lossy(&s.body));
    let sid = s.json()["session"].as_str().unwrap().to_owned();
    let r = terminal(
        &server,
        &token,
        "POST",
        &format!("/api/v1/release/sessions/{sid}/cancel"),
        &format!(r#"{{"jobs":[{job}]}}"#),
    );
    let result = &r.json()["results"][0];
    assert_eq!(result["result"], "not-found", "{result}");
    assert!(result["message"]
        .as_str()
        .unwrap()
        .contains("only its owner"));
    assert_eq!(
        crate::common::release::job_state(&server, "alice", job).0,
        4,
        "still held"
    );
}
