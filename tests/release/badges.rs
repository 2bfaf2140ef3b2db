//! Badge release end to end: a Folio server, a directory with badges, an ippeveprinter copier
//! added as a device, jobs printed over IPP, a terminal's REST calls with the device token.

use std::time::{Duration, Instant};

use crate::common::copier::IppEvePrinter;
use crate::common::directory::{basic, http, password_of, write_ldif, TestUser};
use crate::common::release::{add_device, job_state, print_as, terminal, wait_state};
use crate::common::{both_backends, TestApp};

both_backends!(
    a_badge_releases_the_holders_jobs_at_that_copier_exactly_once,
    |backend| {
        let data = tempfile::tempdir().unwrap();
        let mut users = vec![TestUser::new("alice"), TestUser::new("bob")];
        users[0].badges = vec!["04A1B2C3".into()];
        users[1].badges = vec!["04B2C3D4".into()];
        write_ldif(&data.path().join("directory.ldif"), &users);
        let server = TestApp::builder(backend).data_dir(data.path()).start();
        let copier = IppEvePrinter::start("Ward Copier", true, true);
        let token = add_device(
            data.path(),
            server.db_url.as_deref(),
            "ward-3",
            &copier.uri(),
        );

        let a1 = print_as(&server, "alice", "Compte rendu Dupont");
        let a2 = print_as(&server, "alice", "Ordonnance");
        let b1 = print_as(&server, "bob", "Planning");

        // The terminal: no token, a wrong token.
        let no_token = http(
            "POST",
            &server.http_url("/api/v1/release/sessions"),
            None,
            "application/json",
            br#"{"badge":"04A1B2C3"}"#,
        );
        assert_eq!(no_token.status, 401);
        assert_eq!(
            terminal(
                &server,
                "fdt_wrong",
                "POST",
                "/api/v1/release/sessions",
                r#"{"badge":"04A1B2C3"}"#
            )
            .status,
            401
        );

        // Alice badges (a reader that pads with zeros): her jobs only, and the copier is ready.
        let started = Instant::now();
        let s = terminal(
            &server,
            &token,
            "POST",
            "/api/v1/release/sessions",
            r#"{"badge":"0004A1B2C3"}"#,
        );
        assert_eq!(s.status, 201, "{}", String::from_utf8_lossy(&s.body));
        assert!(started.elapsed() < Duration::from_secs(3));
        let session = s.json();
        assert_eq!(session["user"], "alice");
        assert_eq!(session["device_status"]["ready"], true, "{session}");
        let ids: Vec<i64> = session["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["id"].as_i64().unwrap())
            .collect();
        assert_eq!(
            ids,
            [a1 as i64, a2 as i64],
            "alice sees her jobs, not bob's"
        );
        assert_eq!(session["jobs"][0]["name"], "Compte rendu Dupont");
        assert_eq!(session["jobs"][0]["pages"], 2);
        assert_eq!(session["jobs"][0]["duplex"], true);
        let sid = session["session"].as_str().unwrap().to_owned();

        // Bob's job cannot be released from alice's session.
        let r = terminal(
            &server,
            &token,
            "POST",
            &format!("/api/v1/release/sessions/{sid}/release"),
            &format!(r#"{{"jobs":[{b1}]}}"#),
        );
        assert_eq!(r.json()["results"][0]["result"], "not-found");

        let r = terminal(
            &server,
            &token,
            "POST",
            &format!("/api/v1/release/sessions/{sid}/release"),
            r#"{"jobs":"all"}"#,
        );
        assert_eq!(r.status, 200);
        let results = r.json()["results"].as_array().unwrap().clone();
        assert_eq!(results.len(), 2);
        assert!(
            results.iter().all(|x| x["result"] == "releasing"),
            "{results:?}"
        );

        let files = copier.received(2, Duration::from_secs(30));
        assert_eq!(files.len(), 2, "both at the copier");
        for id in [a1, a2] {
            let message = wait_state(&server, "alice", id, 9);
            assert!(message.contains("printed at ward-3"), "{message}");
        }
        // Exactly once: released jobs are gone from the next session, and nothing more arrives.
        let again = terminal(
            &server,
            &token,
            "GET",
            &format!("/api/v1/release/sessions/{sid}"),
            "",
        );
        assert_eq!(again.json()["jobs"].as_array().unwrap().len(), 0);
        std::thread::sleep(Duration::from_secs(1));
        assert_eq!(copier.received(3, Duration::from_millis(100)).len(), 2);
        assert_eq!(
            job_state(&server, "bob", b1).0,
            4,
            "bob's job is still held"
        );

        assert_eq!(
            terminal(
                &server,
                &token,
                "DELETE",
                &format!("/api/v1/release/sessions/{sid}"),
                ""
            )
            .status,
            204
        );
        assert_eq!(
            terminal(
                &server,
                &token,
                "GET",
                &format!("/api/v1/release/sessions/{sid}"),
                ""
            )
            .status,
            404
        );
    }
);

#[test]
fn a_copier_that_is_down_holds_the_job_again_and_badges_lock_out() {
    let data = tempfile::tempdir().unwrap();
    let mut users = vec![TestUser::new("alice")];
    users[0].badges = vec!["04A1B2C3".into()];
    write_ldif(&data.path().join("directory.ldif"), &users);
    let server = TestApp::builder(crate::common::Backend::Sqlite)
        .data_dir(data.path())
        .start();
    let dead = format!("ipp://127.0.0.1:{}/ipp/print", crate::common::free_port());
    let token = add_device(data.path(), None, "dead", &dead);
    let job = print_as(&server, "alice", "Lettre");

    let started = Instant::now();
    let s = terminal(
        &server,
        &token,
        "POST",
        "/api/v1/release/sessions",
        r#"{"badge":"04A1B2C3"}"#,
    );
    assert_eq!(s.status, 201);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the state is told within 2 s"
    );
    assert_eq!(s.json()["device_status"]["ready"], false);
    let sid = s.json()["session"].as_str().unwrap().to_owned();
    terminal(
        &server,
        &token,
        "POST",
        &format!("/api/v1/release/sessions/{sid}/release"),
        r#"{"jobs":"all"}"#,
    );
    let message = wait_state(&server, "alice", job, 4);
    assert!(message.contains("not printed at dead"), "{message}");
    // The next session shows it again, with the reason.
    let s = terminal(
        &server,
        &token,
        "GET",
        &format!("/api/v1/release/sessions/{sid}"),
        "",
    );
    assert!(s.json()["jobs"][0]["message"]
        .as_str()
        .unwrap()
        .contains("not printed"));

    // A PIN set on the self-service API is asked; a wrong one is refused.
    let pin = http(
        "PUT",
        &server.http_url("/api/v1/me/pin"),
        Some(&basic("alice", &password_of("alice"))),
        "application/json",
        br#"{"pin":"2468"}"#,
    );
    assert_eq!(pin.status, 204);
    let r = terminal(
        &server,
        &token,
        "POST",
        "/api/v1/release/sessions",
        r#"{"badge":"04A1B2C3"}"#,
    );
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (401, "pin_required".into())
    );
    let r = terminal(
        &server,
        &token,
        "POST",
        "/api/v1/release/sessions",
        r#"{"badge":"04A1B2C3","pin":"1111"}"#,
    );
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (401, "wrong_pin".into())
    );
    let r = terminal(
        &server,
        &token,
        "POST",
        "/api/v1/release/sessions",
        r#"{"badge":"04A1B2C3","pin":"2468"}"#,
    );
    assert_eq!(r.status, 201);

    // Unknown badges: 404 with the way to register; after five failures, locked.
    let r = terminal(
        &server,
        &token,
        "POST",
        "/api/v1/release/sessions",
        r#"{"badge":"99990001"}"#,
    );
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"], "unknown_badge");
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .contains("/api/v1/me/badges"));
    for n in 2..=4 {
        let r = terminal(
            &server,
            &token,
            "POST",
            "/api/v1/release/sessions",
            &format!(r#"{{"badge":"9999000{n}"}}"#),
        );
        assert_eq!(r.status, 404);
    }
    let r = terminal(
        &server,
        &token,
        "POST",
        "/api/v1/release/sessions",
        r#"{"badge":"04A1B2C3","pin":"2468"}"#,
    );
    assert_eq!(
        r.status, 429,
        "the device is locked after five failures (one wrong PIN, four unknown badges)"
    );
}

#[test]
fn a_secretary_releases_for_a_doctor() {
    let data = tempfile::tempdir().unwrap();
    let mut users = vec![
        TestUser::new("alice"),
        TestUser::new("bob"),
        TestUser::new("carol"),
    ];
    users[1].badges = vec!["0B0B0B0B".into()];
    users[2].badges = vec!["0C0C0C0C".into()];
    users[2].groups = vec!["Secretaries".into()];
    write_ldif(&data.path().join("directory.ldif"), &users);
    let server = TestApp::builder(crate::common::Backend::Sqlite)
        .data_dir(data.path())
        .start();
    let copier = IppEvePrinter::start("Secretariat", true, false);
    let token = add_device(data.path(), None, "secretariat", &copier.uri());
    let alice = basic("alice", &password_of("alice"));
    let url = server.http_url("/api/v1/me/delegations");
    let json = "application/json";

    let doctor_job = print_as(&server, "alice", "Courrier patient");
    let own_job = print_as(&server, "bob", "Planning");

    // Refused: unknown user, oneself, nothing named, a time in the past.
    for body in [
        r#"{"to_user":"eve"}"#,
        r#"{"to_user":"alice"}"#,
        r#"{}"#,
        r#"{"to_user":"bob","until":1}"#,
    ] {
        assert_eq!(
            http("POST", &url, Some(&alice), json, body.as_bytes()).status,
            400,
            "{body}"
        );
    }
    let d = http("POST", &url, Some(&alice), json, br#"{"to_user":"BOB"}"#);
    assert_eq!(d.status, 201, "{}", String::from_utf8_lossy(&d.body));
    let delegation_id = d.json()["id"].as_i64().unwrap();
    let g = http(
        "POST",
        &url,
        Some(&alice),
        json,
        br#"{"to_group":"secretaries"}"#,
    );
    assert_eq!(g.status, 201);
    let listed = http("GET", &url, Some(&alice), json, b"").json();
    assert_eq!(listed["given"].as_array().unwrap().len(), 2);

    // Bob's session: his job, and alice's marked as delegated.
    let s = terminal(
        &server,
        &token,
        "POST",
        "/api/v1/release/sessions",
        r#"{"badge":"0B0B0B0B"}"#,
    )
    .json();
    let jobs = s["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 2, "{s}");
    let theirs = jobs.iter().find(|j| j["id"] == doctor_job).unwrap();
    assert_eq!(theirs["delegated"], true);
    assert_eq!(theirs["owner"], "alice");
    assert_eq!(
        jobs.iter().find(|j| j["id"] == own_job).unwrap()["delegated"],
        false
    );
    // Carol, through her group, sees alice's job too.
    let c = terminal(
        &server,
        &token,
        "POST",
        "/api/v1/release/sessions",
        r#"{"badge":"0C0C0C0C"}"#,
    )
    .json();
    assert_eq!(c["jobs"][0]["id"], doctor_job);

    let sid = s["session"].as_str().unwrap();
    let r = terminal(
        &server,
        &token,
        "POST",
        &format!("/api/v1/release/sessions/{sid}/release"),
        &format!(r#"{{"jobs":[{doctor_job}]}}"#),
    );
    assert_eq!(r.json()["results"][0]["result"], "releasing");
    assert_eq!(copier.received(1, Duration::from_secs(30)).len(), 1);
    wait_state(&server, "alice", doctor_job, 9);

    // Audited "released by bob for alice", and the job stays alice's.
    let db = folio::db::Db::connect(
        &format!("sqlite://{}", data.path().join("folio.db").display()),
        1,
    )
    .unwrap();
    let events =
        folio::db::models::audit_events::list_after(&mut db.get().unwrap(), 0, 1000).unwrap();
    let release = events
        .iter()
        .find(|e| {
            e.action == "job.state"
                && e.object == format!("job:{doctor_job}")
                && e.detail.contains("\"to\":\"processing\"")
        })
        .expect("the release is audited");
    assert_eq!(release.actor, "bob");
    assert!(
        release.detail.contains("\"owner\":\"alice\"")
            && release
                .detail
                .contains("released by bob for alice at secretariat"),
        "{}",
        release.detail
    );

    // Revoked: bob no longer sees alice's jobs.
    let another = print_as(&server, "alice", "Second courrier");
    assert_eq!(
        http(
            "DELETE",
            &format!("{url}/{delegation_id}"),
            Some(&alice),
            json,
            b""
        )
        .status,
        204
    );
    let s = terminal(
        &server,
        &token,
        "POST",
        "/api/v1/release/sessions",
        r#"{"badge":"0B0B0B0B"}"#,
    )
    .json();
    assert!(
        s["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["id"] != another),
        "{s}"
    );
}
