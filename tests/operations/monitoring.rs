//! What IT runs Folio with: the audit trail (events with device and outcome, copied to syslog,
//! exported, its chain verified and tampering found), Prometheus metrics checked by
//! `promtool`, `/readyz`, the headers of every answer, and logs in JSON without a secret.

use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::copier::IppEvePrinter;
use crate::common::directory::{basic, http, write_ldif, TestUser};
use crate::common::release::{add_device, console_cookie, print_as, release_one, wait_state};
use crate::common::{both_backends, folio_cli, Backend, TestApp};
use diesel::RunQueryDsl;

fn users() -> Vec<TestUser> {
    let mut nina = TestUser::new("nina");
    nina.badges = vec!["0A1B2C3D".into()];
    let mut carol = TestUser::new("carol");
    carol.groups = vec!["folio-admins".into()];
    vec![nina, carol]
}

/// Signs in with a wrong password at the console (an audited failure).
fn failed_console_login(server: &TestApp, user: &str, password: &str) -> u16 {
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let login = agent.get(&server.http_url("/login")).call().unwrap();
    let csrf = login
        .all("set-cookie")
        .iter()
        .find_map(|c| c.strip_prefix("folio_login_csrf="))
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_owned();
    match agent
        .post(&server.http_url("/login"))
        .set("Cookie", &format!("folio_login_csrf={csrf}"))
        .set("Content-Type", "application/x-www-form-urlencoded")
        .send_string(&format!("csrf={csrf}&login={user}&password={password}"))
    {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(s, _)) => s,
        Err(e) => panic!("{e}"),
    }
}

/// Syslog messages received within `wait`, until one contains `until`.
fn syslog_until(socket: &UdpSocket, until: &str, wait: Duration) -> Vec<String> {
    let deadline = Instant::now() + wait;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        if let Ok(n) = socket.recv(&mut buf) {
            let m = String::from_utf8_lossy(&buf[..n]).into_owned();
            let done = m.contains(until);
            got.push(m);
            if done {
                return got;
            }
        }
    }
    panic!(
        "no syslog message with {until} in {wait:?}; got:\n{}",
        got.join("\n")
    );
}

fn sql(db: &folio::db::Db, statement: &str) -> Result<usize, String> {
    diesel::sql_query(statement)
        .execute(&mut *db.get().unwrap())
        .map_err(|e| e.to_string())
}

fn verify(server: &TestApp, extra: &[&str]) -> (i32, String) {
    let mut args = vec!["audit", "verify"];
    args.extend_from_slice(extra);
    let out = folio_cli(&server.data_dir, server.db_url.as_deref(), &args);
    (out.code, format!("{}{}", out.stdout, out.stderr))
}

both_backends!(
    the_audit_trail_is_complete_copied_exported_and_tamper_evident,
    |backend| {
        let data = tempfile::tempdir().unwrap();
        write_ldif(&data.path().join("directory.ldif"), &users());
        let collector = UdpSocket::bind("127.0.0.1:0").unwrap();
        collector
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let syslog = format!("udp://{}", collector.local_addr().unwrap());
        let mut server = TestApp::builder(backend)
            .data_dir(data.path())
            .settings(|s| {
                s.audit.syslog = syslog.clone();
            })
            .start();
        let copier = IppEvePrinter::start("Ward Copier", true, false);
        let token = add_device(
            data.path(),
            server.db_url.as_deref(),
            "ward-copier",
            &copier.uri(),
        );

        // A job printed and released, a wrong password at the console, an unknown card.
        let job = print_as(&server, "nina", "discharge letter");
        let (_, result) = release_one(&server, &token, "0A1B2C3D", job);
        assert_eq!(result["result"], "releasing", "{result}");
        wait_state(&server, "nina", job, 9);
        assert_eq!(
            failed_console_login(&server, "carol", "not-her-password"),
            401
        );
        let unknown = crate::common::release::terminal(
            &server,
            &token,
            "POST",
            "/api/v1/release/sessions",
            r#"{"badge":"FFFF0001"}"#,
        );
        assert_eq!(unknown.status, 404);

        // Every event reaches syslog as RFC 5424, failures as warnings (authpriv.warning = 84).
        let messages = syslog_until(&collector, "user:carol", Duration::from_secs(15));
        let completed = messages
            .iter()
            .find(|m| m.contains("action=\"job.state\"") && m.contains("completed"))
            .unwrap_or_else(|| panic!("no completed job.state in {messages:#?}"));
        assert!(completed.starts_with("<85>1 "), "{completed}");
        assert!(completed.contains("device=\"ward-copier\""), "{completed}");
        let login = messages.iter().find(|m| m.contains("user:carol")).unwrap();
        assert!(login.starts_with("<84>1 "), "{login}");
        assert!(login.contains("outcome=\"failure\""), "{login}");
        server.kill9();

        // The chain verifies; the export carries every event with its device and outcome.
        let (code, out) = verify(&server, &[]);
        assert_eq!(code, 0, "{out}");
        let head = out
            .split("newest ")
            .nth(1)
            .map(str::trim)
            .unwrap_or_else(|| panic!("{out}"))
            .to_owned();
        let export = folio_cli(
            &server.data_dir,
            server.db_url.as_deref(),
            &["audit", "export", "--format", "json"],
        );
        assert_eq!(export.code, 0, "{}", export.stderr);
        let events: Vec<serde_json::Value> = serde_json::from_str(&export.stdout).unwrap();
        let find = |pred: &dyn Fn(&serde_json::Value) -> bool| {
            events
                .iter()
                .find(|e| pred(e))
                .cloned()
                .unwrap_or_else(|| panic!("missing event in {events:#?}"))
        };
        find(&|e| e["action"] == "job.submitted" && e["actor"] == "nina");
        let release = find(&|e| e["action"] == "job.state" && e["detail"]["to"] == "processing");
        assert_eq!(release["device"], "ward-copier");
        assert_eq!(release["detail"]["owner"], "nina");
        find(&|e| e["action"] == "release.session" && e["outcome"] == "success");
        find(&|e| e["action"] == "release.session" && e["outcome"] == "failure");
        find(&|e| e["action"] == "console.login" && e["outcome"] == "failure");
        assert!(!export.stdout.contains("FFFF0001"), "card numbers stay out");
        let csv = folio_cli(
            &server.data_dir,
            server.db_url.as_deref(),
            &["audit", "export", "--format", "csv"],
        );
        assert_eq!(
            csv.stdout.lines().count(),
            events.len() + 1,
            "{}",
            csv.stdout
        );

        // The database refuses changes; an operator who removes that protection is caught.
        let url = server
            .db_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", data.path().join("folio.db").display()));
        let db = folio::db::Db::connect(&url, 1).unwrap();
        let refused = sql(
            &db,
            "UPDATE audit_events SET actor = 'mallory' WHERE seq = 2",
        );
        assert!(refused.unwrap_err().contains("append-only"));
        match backend {
            Backend::Sqlite => {
                sql(&db, "DROP TRIGGER audit_events_no_update").unwrap();
                sql(&db, "DROP TRIGGER audit_events_no_delete").unwrap();
            }
            Backend::Postgres => {
                sql(&db, "DROP TRIGGER audit_events_no_change ON audit_events").unwrap();
            }
        }
        let actor = events[1]["actor"].as_str().unwrap().to_owned();

        // An edited event.
        sql(
            &db,
            "UPDATE audit_events SET actor = 'mallory' WHERE seq = 2",
        )
        .unwrap();
        let (code, out) = verify(&server, &[]);
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("event 2") && out.contains("modified"), "{out}");
        sql(
            &db,
            &format!("UPDATE audit_events SET actor = '{actor}' WHERE seq = 2"),
        )
        .unwrap();
        assert_eq!(verify(&server, &[]).0, 0);

        // Two events swapped.
        sql(&db, "UPDATE audit_events SET seq = -3 WHERE seq = 3").unwrap();
        sql(&db, "UPDATE audit_events SET seq = 3 WHERE seq = 2").unwrap();
        sql(&db, "UPDATE audit_events SET seq = 2 WHERE seq = -3").unwrap();
        let (code, out) = verify(&server, &[]);
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("event 2"), "{out}");
        sql(&db, "UPDATE audit_events SET seq = -3 WHERE seq = 3").unwrap();
        sql(&db, "UPDATE audit_events SET seq = 3 WHERE seq = 2").unwrap();
        sql(&db, "UPDATE audit_events SET seq = 2 WHERE seq = -3").unwrap();
        assert_eq!(verify(&server, &[]).0, 0);

        // The newest event removed: the chain alone still holds together, the anchor does not.
        let last = events.len();
        sql(&db, &format!("DELETE FROM audit_events WHERE seq = {last}")).unwrap();
        assert_eq!(verify(&server, &[]).0, 0);
        let (code, out) = verify(&server, &["--anchor", &head]);
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("no longer there"), "{out}");

        // An event removed from the middle.
        sql(&db, "DELETE FROM audit_events WHERE seq = 3").unwrap();
        let (code, out) = verify(&server, &[]);
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("event 4") && out.contains("deleted"), "{out}");
    }
);

/// `promtool check metrics` on `text`; panics with its findings.
fn promtool(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("promtool not found ({e}): install Debian's prometheus package (scripts/test.sh does)")
        });
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The value of the sample `name{labels}` (labels as rendered, sorted by name).
fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {series} in\n{metrics}"))
}

#[test]
fn metrics_readiness_and_headers_tell_it_what_is_going_on() {
    let data = tempfile::tempdir().unwrap();
    write_ldif(&data.path().join("directory.ldif"), &users());
    let secrets = tempfile::tempdir().unwrap();
    let token_file = secrets.path().join("metrics-token");
    std::fs::write(&token_file, "scrape-me-7f3a\n").unwrap();
    let token_path = token_file.display().to_string();
    let mut server = TestApp::builder(Backend::Sqlite)
        .data_dir(data.path())
        .settings(|s| {
            s.monitoring.metrics_token_file = token_path.clone().into();
            s.monitoring.device_poll_secs = 1;
        })
        .start();
    let copier = IppEvePrinter::start("Ward Copier", true, false);
    let token = add_device(data.path(), None, "ward-copier", &copier.uri());
    let job = print_as(&server, "nina", "ward round");
    release_one(&server, &token, "0A1B2C3D", job);
    wait_state(&server, "nina", job, 9);

    // /metrics wants the bearer token; promtool accepts what it gets.
    let url = server.http_url("/metrics");
    assert_eq!(http("GET", &url, None, "", b"").status, 401);
    assert_eq!(http("GET", &url, Some("Bearer wrong"), "", b"").status, 401);
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        let got = http("GET", &url, Some("Bearer scrape-me-7f3a"), "", b"");
        assert_eq!(got.status, 200);
        let text = String::from_utf8(got.body).unwrap();
        if text.contains("folio_device_up{device=\"ward-copier\"} 1") || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    promtool(&text);
    // Two pages, two-sided by default: one sheet, for nina's department.
    let labels = "{color=\"monochrome\",department=\"Cardiology\",sides=\"two-sided-long-edge\"}";
    assert_eq!(
        sample(&text, &format!("folio_pages_printed_total{labels}")),
        2.0
    );
    assert_eq!(
        sample(&text, &format!("folio_sheets_printed_total{labels}")),
        1.0
    );
    assert_eq!(
        sample(
            &text,
            "folio_release_duration_seconds_count{outcome=\"completed\"}"
        ),
        1.0
    );
    assert_eq!(
        sample(&text, "folio_device_up{device=\"ward-copier\"}"),
        1.0
    );
    assert!(sample(&text, "folio_db_pool_wait_seconds_count") > 0.0);
    assert!(
        sample(
            &text,
            "folio_ipp_requests_total{operation=\"Print-Job\",status=\"successful-ok\"}"
        ) >= 1.0
    );
    assert!(text.contains("folio_job_transitions_total{from=\"processing\",to=\"completed\"} 1"));

    // Ready; a node whose master key file vanished is degraded, still serving.
    let ready = http("GET", &server.http_url("/readyz"), None, "", b"");
    assert_eq!(ready.status, 200);
    assert_eq!(ready.json()["status"], "ready", "{}", ready.json());
    std::fs::rename(
        data.path().join("master.key"),
        data.path().join("master.key.away"),
    )
    .unwrap();
    let degraded = http("GET", &server.http_url("/readyz"), None, "", b"").json();
    assert_eq!(degraded["status"], "degraded", "{degraded}");
    assert_eq!(degraded["master_key"]["status"], "degraded");
    std::fs::rename(
        data.path().join("master.key.away"),
        data.path().join("master.key"),
    )
    .unwrap();

    // Not ready when the spool's disk is below the floor.
    server.restart_with(|s| s.monitoring.spool_min_free_mb = 1_000_000_000);
    let full = http("GET", &server.http_url("/readyz"), None, "", b"");
    assert_eq!(full.status, 503);
    assert_eq!(full.json()["spool"]["status"], "failed", "{}", full.json());
    assert_eq!(
        http("GET", &server.http_url("/healthz"), None, "", b"").status,
        200
    );

    // Console pages carry the security headers; every answer has a request id.
    let page = ureq::get(&server.http_url("/login")).call().unwrap();
    for (name, want) in [
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
        ("cache-control", "no-store"),
    ] {
        assert_eq!(page.header(name), Some(want), "{name}");
    }
    assert!(page
        .header("content-security-policy")
        .is_some_and(|c| c.contains("default-src 'none'") && c.contains("frame-ancestors 'none'")));
    assert_eq!(page.header("x-request-id").map(str::len), Some(16));
}

#[test]
fn logs_are_json_with_request_ids_and_never_carry_a_secret() {
    let data = tempfile::tempdir().unwrap();
    write_ldif(&data.path().join("directory.ldif"), &users());
    let secrets = tempfile::tempdir().unwrap();
    let token_file = secrets.path().join("metrics-token");
    std::fs::write(&token_file, "scrape-secret-91c2\n").unwrap();
    let token_path = token_file.display().to_string();
    let server = TestApp::builder(Backend::Sqlite)
        .data_dir(data.path())
        .env(
            "RUST_LOG",
            "folio=trace,actix_web=debug,actix_server=debug,warn",
        )
        .settings(|s| {
            s.log_format = "json".into();
            s.ipp.auth = folio::config::IppAuthMode::Basic;
            s.monitoring.metrics_token_file = token_path.clone().into();
        })
        .start();
    // Passwords at the IPP queue (right and wrong), the console, the terminal API; the token.
    let req = crate::common::RawIpp::new(crate::common::op::PRINT_JOB)
        .operation_prelude(&server.ipp_uri())
        .attr_str(
            crate::common::tag::NAME_WITHOUT_LANGUAGE,
            "job-name",
            "night report",
        )
        .attr_str(
            crate::common::tag::MIME_MEDIA_TYPE,
            "document-format",
            "application/pdf",
        )
        .document(&testkit::sample_pdf(1))
        .build();
    let ipp = server.ipp_uri().replace("ipp://", "http://");
    let wrong = http(
        "POST",
        &ipp,
        Some(&basic("nina", "hunter2-wrong")),
        "application/ipp",
        &req,
    );
    assert_eq!(wrong.status, 401);
    let right = http(
        "POST",
        &ipp,
        Some(&basic("nina", "pw-nina")),
        "application/ipp",
        &req,
    );
    assert_eq!(right.status, 200);
    let job = crate::common::parse_response(&right.body).unwrap();
    assert_eq!(job.status, crate::common::status::SUCCESSFUL_OK);
    console_cookie(&server, "carol");
    failed_console_login(&server, "carol", "carols-wrong-pass");
    http(
        "GET",
        &server.http_url("/metrics"),
        Some("Bearer scrape-secret-91c2"),
        "",
        b"",
    );
    std::thread::sleep(Duration::from_millis(300));

    let log = server.server_log();
    let key = std::fs::read_to_string(data.path().join("master.key")).unwrap();
    for secret in [
        "pw-nina",
        "hunter2-wrong",
        "pw-carol",
        "carols-wrong-pass",
        "scrape-secret-91c2",
        key.trim(),
    ] {
        assert!(!log.contains(secret), "the log holds a secret: {secret}");
    }
    assert!(!log.contains("%PDF"), "document content in the log");
    // One JSON object per line (besides the harness's own lines); the job's lines carry the
    // request's id, the user and the job id.
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| !l.starts_with("=====") && !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let job_id = job.integer("job-id").unwrap().to_string();
    let held = lines
        .iter()
        .find(|l| l["fields"]["message"] == "job held")
        .unwrap_or_else(|| panic!("no `job held` line in\n{log}"));
    let request = &held["span"];
    let spans = held["spans"].to_string();
    assert!(spans.contains("\"request_id\""), "{held}");
    assert!(spans.contains("\"user\":\"nina\""), "{held}");
    assert!(
        spans.contains(&format!("\"job_id\":\"{job_id}\"")),
        "{held}"
    );
    assert!(!request.is_null(), "{held}");
}
