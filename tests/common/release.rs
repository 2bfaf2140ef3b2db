//! Helpers of the release tests: devices added with the CLI, jobs printed and followed over IPP.

#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

use super::{op, parse_response, status, tag, RawIpp, TestApp};

/// A copier with the IPP Everywhere profile, added with the command line; its token.
pub fn add_device(data: &Path, db_url: Option<&str>, name: &str, uri: &str) -> String {
    super::TestDevice::new(name, uri).add_to(data, db_url)
}

/// A held two-page PDF of `user` named `name`; its job id.
pub fn print_as(server: &TestApp, user: &str, name: &str) -> i32 {
    super::TestJob::pdf(2).owner(user).name(name).held(server)
}

pub fn job_state(server: &TestApp, user: &str, id: i32) -> (i32, String) {
    let req = RawIpp::new(op::GET_JOB_ATTRIBUTES)
        .operation_prelude(&server.ipp_uri())
        .attr_i32(tag::INTEGER, "job-id", id)
        .attr_str(tag::NAME_WITHOUT_LANGUAGE, "requesting-user-name", user)
        .build();
    let r = parse_response(&server.post_ipp(&req).1).unwrap();
    (
        r.integer("job-state").unwrap_or(0),
        r.text("job-state-message").unwrap_or_default(),
    )
}

pub fn wait_state(server: &TestApp, user: &str, id: i32, want: i32) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (state, message) = job_state(server, user, id);
        if state == want {
            return message;
        }
        assert!(
            Instant::now() < deadline,
            "job {id} stayed in state {state} ({message})"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A call of the release REST API with a device token.
pub fn terminal(
    server: &TestApp,
    token: &str,
    method: &str,
    path: &str,
    body: &str,
) -> super::directory::HttpAnswer {
    super::directory::http(
        method,
        &server.http_url(path),
        Some(&format!("Bearer {token}")),
        "application/json",
        body.as_bytes(),
    )
}

/// Badges `badge` at the device of `token`: the answer of the release API.
pub fn badge_in(server: &TestApp, token: &str, badge: &str) -> super::directory::HttpAnswer {
    terminal(
        server,
        token,
        "POST",
        "/api/v1/release/sessions",
        &format!(r#"{{"badge":"{badge}"}}"#),
    )
}

/// Badges `badge` at the device of `token` and releases `job`: the session and that job's
/// result, as JSON.
pub fn release_one(
    server: &TestApp,
    token: &str,
    badge: &str,
    job: i32,
) -> (serde_json::Value, serde_json::Value) {
    let s = badge_in(server, token, badge);
    assert_eq!(s.status, 201, "{}", String::from_utf8_lossy(&s.body));
    let session = s.json();
    let sid = session["session"].as_str().unwrap().to_owned();
    let r = terminal(
        server,
        token,
        "POST",
        &format!("/api/v1/release/sessions/{sid}/release"),
        &format!(r#"{{"jobs":[{job}]}}"#),
    );
    let result = r.json()["results"][0].clone();
    (session, result)
}

/// Prints a one-page PDF as `user` asking for colour and one-sided; the IPP answer.
pub fn print_colour(server: &TestApp, user: &str, name: &str) -> super::IppResponse {
    super::TestJob::pdf(1)
        .owner(user)
        .name(name)
        .colour()
        .sides("one-sided")
        .submit(server)
}

/// Signs `user` in to the console over plain HTTP (the sign-in form with its CSRF cookie);
/// the `Cookie` header value of the session.
pub fn console_cookie(server: &TestApp, user: &str) -> String {
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let login = agent.get(&server.http_url("/login")).call().unwrap();
    let csrf = login
        .all("set-cookie")
        .iter()
        .find_map(|c| c.strip_prefix("folio_login_csrf="))
        .and_then(|c| c.split(';').next())
        .expect("a sign-in CSRF cookie")
        .to_owned();
    let password = super::directory::password_of(user);
    let body = format!("csrf={csrf}&login={user}&password={password}");
    let r = agent
        .post(&server.http_url("/login"))
        .set("Cookie", &format!("folio_login_csrf={csrf}"))
        .set("Content-Type", "application/x-www-form-urlencoded")
        .send_string(&body)
        .unwrap();
    assert_eq!(r.status(), 303);
    let session = r
        .all("set-cookie")
        .iter()
        .find_map(|c| c.strip_prefix("folio_console="))
        .and_then(|c| c.split(';').next())
        .expect("a console session cookie")
        .to_owned();
    format!("folio_console={session}")
}
