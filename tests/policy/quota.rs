//! Monthly page budgets end to end: set by an administrator, a soft department budget that
//! warns at the copier, a hard user budget that refuses at submission (the print dialog reads
//! why) and at release, pages counted when jobs complete, each user's standing.

use std::time::Duration;

use crate::common::copier::SocketSink;
use crate::common::directory::{basic, http, password_of, write_ldif, HttpAnswer, TestUser};
use crate::common::release::{console_cookie, release_one, wait_state};
use crate::common::{both_backends, folio_cli, status, TestApp, TestJob};

fn api(server: &TestApp, who: &str, method: &str, path: &str, body: &str) -> HttpAnswer {
    http(
        method,
        &server.http_url(path),
        Some(&basic(who, &password_of(who))),
        "application/json",
        body.as_bytes(),
    )
}

/// A two-page job; the IPP status and the job id (0 when refused) and the status message.
fn print(server: &TestApp, user: &str) -> (u16, i32, String) {
    let r = TestJob::pdf(2).owner(user).submit(server);
    (
        r.status,
        r.integer("job-id").unwrap_or(0),
        r.text("status-message").unwrap_or_default(),
    )
}

/// Badges `badge` at the device and releases `job`; the result of that job.
fn release(server: &TestApp, token: &str, badge: &str, job: i32) -> serde_json::Value {
    release_one(server, token, badge, job).1
}

both_backends!(budgets_warn_refuse_and_count_what_printed, |backend| {
    let data = tempfile::tempdir().unwrap();
    let mut users: Vec<TestUser> = ["carol", "alice", "bob", "nina"]
        .into_iter()
        .map(TestUser::new)
        .collect();
    users[0].groups = vec!["folio-admins".into()];
    users[1].badges = vec!["04A1B2C3".into()];
    users[2].badges = vec!["04B2C3D4".into()];
    write_ldif(&data.path().join("directory.ldif"), &users);
    let server = TestApp::builder(backend).data_dir(data.path()).start();
    let sink = SocketSink::start();
    let out = folio_cli(
        data.path(),
        server.db_url.as_deref(),
        &[
            "device",
            "add",
            "--json",
            "--name",
            "ward-3",
            "--uri",
            &format!("socket://127.0.0.1:{}", sink.port),
            "--driver",
            "generic-pjl-pdf",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let token = serde_json::from_str::<serde_json::Value>(&out.stdout).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();

    // Only administrators set budgets.
    let alice_budget =
        r#"{"scope":"user","name":"alice","color":false,"monthly_pages":5,"hard":true}"#;
    assert_eq!(
        api(&server, "nina", "POST", "/api/v1/quotas", alice_budget).status,
        403
    );
    assert_eq!(
        api(&server, "carol", "POST", "/api/v1/quotas", alice_budget).status,
        201
    );
    let department = r#"{"scope":"department","name":"Cardiology","color":false,"monthly_pages":4,"hard":false}"#;
    assert_eq!(
        api(&server, "carol", "POST", "/api/v1/quotas", department).status,
        201
    );
    let bad = api(
        &server,
        "carol",
        "POST",
        "/api/v1/quotas",
        r#"{"scope":"ward","name":"x","color":true,"monthly_pages":1,"hard":true}"#,
    );
    assert_eq!(bad.status, 400);
    std::thread::sleep(Duration::from_millis(2100)); // intake reads budgets every 2 s

    // Within every budget: printed and counted (2 pages each).
    let (_, a1, _) = print(&server, "alice");
    assert_eq!(
        release(&server, &token, "04A1B2C3", a1)["result"],
        "releasing"
    );
    wait_state(&server, "alice", a1, 9);
    let (_, b1, _) = print(&server, "bob");
    assert_eq!(
        release(&server, &token, "04B2C3D4", b1)["result"],
        "releasing"
    );
    wait_state(&server, "bob", b1, 9);

    // The department's soft budget (4) is spent: alice's next job prints, with a warning.
    let (st, a2, _) = print(&server, "alice");
    assert_eq!(st, status::SUCCESSFUL_OK);
    let r = release(&server, &token, "04A1B2C3", a2);
    assert_eq!(r["result"], "releasing", "{r}");
    let warning = r["warning"].as_str().unwrap_or_default().to_lowercase();
    assert!(warning.contains("cardiology department"), "{r}");
    wait_state(&server, "alice", a2, 9);

    // Her own hard budget (5): 4 used, 2 more would pass it: refused at submission.
    let (st, _, message) = print(&server, "alice");
    assert_eq!(st, status::CLIENT_ERROR_NOT_POSSIBLE);
    assert!(
        message.contains("monthly budget") && message.contains("4 of 5"),
        "{message}"
    );

    // Her standing, as she sees it.
    let mine = api(&server, "alice", "GET", "/api/v1/me/quota", "").json();
    let used: Vec<u64> = mine["budgets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["used"].as_u64().unwrap())
        .collect();
    assert!(used.contains(&4) && used.contains(&6), "{mine}");

    // Accepted under a larger budget, then the budget is lowered: refused at release, held.
    let raise = r#"{"scope":"user","name":"alice","color":false,"monthly_pages":8,"hard":true}"#;
    assert_eq!(
        api(&server, "carol", "POST", "/api/v1/quotas", raise).status,
        201
    );
    std::thread::sleep(Duration::from_millis(2100));
    let (st, a3, _) = print(&server, "alice");
    assert_eq!(st, status::SUCCESSFUL_OK);
    assert_eq!(
        api(&server, "carol", "POST", "/api/v1/quotas", alice_budget).status,
        201
    );
    let r = release(&server, &token, "04A1B2C3", a3);
    assert_eq!(r["result"], "over-quota", "{r}");
    // (The terminal's reachability checks are connections too: count documents.)
    let printed = sink
        .jobs(4, Duration::from_millis(500))
        .iter()
        .filter(|j| j.windows(5).any(|w| w == b"%PDF-"))
        .count();
    assert_eq!(printed, 3, "three jobs printed");

    // The reports count what printed: three two-page jobs, all black & white, two-sided.
    let cookie = console_cookie(&server, "carol");
    let get = |path: &str| {
        ureq::get(&server.http_url(path))
            .set("Cookie", &cookie)
            .call()
            .unwrap()
            .into_string()
            .unwrap()
    };
    let page = get("/reports?days=7");
    assert!(page.contains(r#"id="pages-mono">6<"#), "six pages counted");
    assert!(page.contains(r#"id="jobs-printed">3<"#));
    assert!(page.contains("<svg") && page.contains("id=\"chart-days\""));
    let summary = get("/reports.csv?days=7&table=summary");
    assert!(summary.contains("jobs printed,3\r\n"), "{summary}");
    assert!(
        summary.contains("sheets saved by two-sided,3\r\n"),
        "{summary}"
    );
    let users = get("/reports.csv?days=7&table=users");
    assert!(
        users.contains("alice,4\r\n") && users.contains("bob,2\r\n"),
        "{users}"
    );
});
