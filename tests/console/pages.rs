//! The IT console in headless Chromium against a real Folio: an administrator signs in with the
//! directory, adds the rule "radiology may print colour" with the form, the same colour request
//! from a radiologist and from a nurse gives one colour and one mono ticket in the jobs page;
//! the simulation names the rule; helpdesk cannot open policies; a form without its CSRF token
//! is refused. Every page is saved under `target/screenshots/`.

use std::time::Duration;

use crate::common::browser::{Browser, BrowserOptions};
use crate::common::directory::{password_of, write_ldif, TestUser};
use crate::common::{Backend, TestApp, TestJob};
use fantoccini::Locator;

fn print_colour(server: &TestApp, user: &str, name: &str) -> i32 {
    TestJob::pdf(1)
        .owner(user)
        .name(name)
        .colour()
        .sides("one-sided")
        .held(server)
}

async fn sign_in(b: &Browser, server: &TestApp, who: &str) {
    b.client.goto(&server.http_url("/login")).await.unwrap();
    b.wait_for("login", Duration::from_secs(10)).await;
    b.type_into("login", who).await;
    b.type_into("password", &format!("{}\n", password_of(who)))
        .await;
    b.wait_for("who", Duration::from_secs(10)).await;
    assert_eq!(b.text("who").await, who);
}

/// Submits, from the page itself, a form to `path` without the CSRF token (what a forged
/// form would do with the session cookie); the page that answers.
async fn post_without_csrf(b: &Browser, path: &str) -> String {
    let script = format!(
        "var f = document.createElement('form'); f.method = 'post'; f.action = '{path}'; \
         [['name', 'sneaky'], ['color', 'allow']].forEach(function (p) {{ \
           var i = document.createElement('input'); i.type = 'hidden'; i.name = p[0]; \
           i.value = p[1]; f.appendChild(i); }}); \
         document.body.appendChild(f); f.submit(); return true;"
    );
    b.client.execute(&script, Vec::new()).await.unwrap();
    b.wait_for("heading", Duration::from_secs(10)).await;
    b.text("heading").await
}

#[test]
fn an_administrator_adds_a_colour_rule_and_sees_its_effect() {
    let data = tempfile::tempdir().unwrap();
    let mut users: Vec<TestUser> = ["carol", "harry", "rita", "nina"]
        .into_iter()
        .map(TestUser::new)
        .collect();
    users[0].groups = vec!["folio-admins".into()];
    users[1].groups = vec!["folio-helpdesk".into()];
    users[2].groups = vec!["radiology".into()];
    users[3].groups = vec!["nurses".into()];
    write_ldif(&data.path().join("directory.ldif"), &users);
    let server = TestApp::builder(Backend::Sqlite)
        .data_dir(data.path())
        .start();

    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let b = Browser::start(BrowserOptions::default()).await;
            // Not signed in: every page leads to the sign-in.
            b.client.goto(&server.http_url("/policies")).await.unwrap();
            b.wait_for("login", Duration::from_secs(10)).await;
            b.save_screenshot("console-login").await;
            // A wrong password is said.
            b.type_into("login", "carol").await;
            b.type_into("password", "wrong\n").await;
            b.wait_for("error", Duration::from_secs(10)).await;
            assert!(b.text("error").await.contains("Wrong login or password"));

            sign_in(&b, &server, "carol").await;
            b.save_screenshot("console-dashboard").await;
            b.client.goto(&server.http_url("/policies")).await.unwrap();
            b.wait_for("add-rule", Duration::from_secs(10)).await;
            b.save_screenshot("console-policies-empty").await;
            b.type_into("name", "radiology may print colour").await;
            b.type_into("groups", "radiology").await;
            b.element(Locator::Css("#color option[value=allow]"))
                .await
                .click()
                .await
                .unwrap();
            b.click("#save-rule").await;
            b.wait_for("notice", Duration::from_secs(10)).await;
            let rules = b.text("rules").await;
            assert!(rules.contains("radiology may print colour"), "{rules}");
            assert!(rules.contains("groups: radiology"), "{rules}");

            // The same colour request from a radiologist and from a nurse.
            let rita = print_colour(&server, "rita", "IRM genou Dupont");
            let nina = print_colour(&server, "nina", "Planning");
            b.client.goto(&server.http_url("/jobs")).await.unwrap();
            b.wait_for("jobs", Duration::from_secs(10)).await;
            b.save_screenshot("console-jobs").await;
            let rita_row = b.text(&format!("job-{rita}")).await;
            let nina_row = b.text(&format!("job-{nina}")).await;
            assert!(
                rita_row.contains("rita") && rita_row.contains("colour"),
                "{rita_row}"
            );
            assert!(
                nina_row.contains("nina") && nina_row.contains("mono"),
                "{nina_row}"
            );
            let page = b.source().await;
            assert!(
                !page.contains("IRM genou Dupont"),
                "document names stay private"
            );

            // The simulation names the rule.
            b.client.goto(&server.http_url("/policies")).await.unwrap();
            b.wait_for("simulate", Duration::from_secs(10)).await;
            b.type_into("sim-user", "rita").await;
            b.click("#run-simulation").await;
            b.wait_for("simulation", Duration::from_secs(10)).await;
            let sim = b.text("simulation").await;
            assert!(
                sim.contains("color") && sim.contains("radiology may print colour"),
                "{sim}"
            );
            b.save_screenshot("console-policies-simulation").await;
            // The rule's edit form, filled.
            b.click("a[id^=edit-]").await;
            b.wait_for("edit-rule", Duration::from_secs(10)).await;
            b.save_screenshot("console-rule-edit").await;

            // A device added from the console: its token shown once, then listed with its
            // live state (nothing answers at that address: offline).
            b.client.goto(&server.http_url("/devices")).await.unwrap();
            b.wait_for("add-device", Duration::from_secs(10)).await;
            b.type_into("dev-name", "ward-copier").await;
            b.type_into("dev-uri", "ipp://127.0.0.1:9/ipp/print").await;
            b.type_into("dev-site", "Nord").await;
            b.click("#save-device").await;
            b.wait_for("device-token", Duration::from_secs(20)).await;
            assert!(b.text("device-token").await.len() > 20);
            b.save_screenshot("console-device-token").await;
            b.client.goto(&server.http_url("/devices")).await.unwrap();
            b.wait_for("devices", Duration::from_secs(10)).await;
            let devices = b.text("devices").await;
            assert!(
                devices.contains("ward-copier") && devices.contains("offline"),
                "{devices}"
            );
            b.save_screenshot("console-devices").await;
            b.click("a[id^=edit-device-]").await;
            b.wait_for("edit-device", Duration::from_secs(10)).await;
            b.save_screenshot("console-device-edit").await;
            b.client.goto(&server.http_url("/")).await.unwrap();
            b.wait_for("devices-in-error", Duration::from_secs(10))
                .await;
            assert_eq!(b.text("devices-in-error").await, "1");
            b.save_screenshot("console-dashboard-device-down").await;

            // The audit log: the sign-in and the new rule are there, the chain checks out, and
            // the export is a CSV of the same events.
            b.client
                .goto(&server.http_url("/audit?action=policy."))
                .await
                .unwrap();
            b.wait_for("events", Duration::from_secs(10)).await;
            let events = b.text("events").await;
            assert!(events.contains("policy.rule_created"), "{events}");
            assert!(!events.contains("console.login"), "filtered by action");
            b.client
                .goto(&server.http_url("/audit?verify=1"))
                .await
                .unwrap();
            b.wait_for("verdict", Duration::from_secs(10)).await;
            assert!(b.text("verdict").await.contains("intact"));
            assert!(b.text("events").await.contains("console.login"));
            b.save_screenshot("console-audit").await;
            b.client.goto(&server.http_url("/scans")).await.unwrap();
            b.wait_for("overview", Duration::from_secs(10)).await;
            assert!(b.has("no-quarantine").await);
            b.save_screenshot("console-scans").await;
            let session = b.client.get_named_cookie("folio_console").await.unwrap();
            let csv = ureq::get(&server.http_url("/audit.csv?action=policy."))
                .set("Cookie", &format!("folio_console={}", session.value()))
                .call()
                .unwrap();
            assert_eq!(csv.content_type(), "text/csv");
            let body = csv.into_string().unwrap();
            assert!(
                body.starts_with(
                    "seq,at,actor,action,object,device,outcome,detail,prev_hash,hash\r\n"
                ),
                "{body}"
            );
            assert!(body.contains(",carol,policy.rule_created,"), "{body}");
            let json = ureq::get(&server.http_url("/audit.json?action=policy."))
                .set("Cookie", &format!("folio_console={}", session.value()))
                .call()
                .unwrap()
                .into_string()
                .unwrap();
            let events: serde_json::Value = serde_json::from_str(&json).unwrap();
            assert_eq!(events[0]["actor"], "carol", "{json}");
            let no_session = ureq::get(&server.http_url("/audit.csv")).call();
            assert!(
                matches!(&no_session, Ok(r) if r.get_url().ends_with("/login")),
                "without a session: sent to the sign-in"
            );

            // A form without its CSRF token is refused, even for an administrator.
            assert_eq!(
                post_without_csrf(&b, "/policies").await,
                "This form has expired"
            );
            b.client.goto(&server.http_url("/policies")).await.unwrap();
            b.wait_for("rules", Duration::from_secs(10)).await;
            assert!(!b.text("rules").await.contains("sneaky"));

            b.click("#logout").await;
            b.wait_for("login", Duration::from_secs(10)).await;

            // Helpdesk: jobs yes, policies no (no menu entry, and the page refuses).
            sign_in(&b, &server, "harry").await;
            assert!(!b.has("nav-policies").await);
            b.client.goto(&server.http_url("/policies")).await.unwrap();
            b.wait_for("heading", Duration::from_secs(10)).await;
            assert_eq!(b.text("heading").await, "Not for your role");
            b.save_screenshot("console-forbidden").await;
            // The helpdesk looks a user up.
            b.client
                .goto(&server.http_url("/users?q=nin"))
                .await
                .unwrap();
            b.wait_for("users", Duration::from_secs(10)).await;
            b.save_screenshot("console-users").await;
            b.client
                .goto(&server.http_url("/users/nina"))
                .await
                .unwrap();
            b.wait_for("facts", Duration::from_secs(10)).await;
            assert!(b.text("facts").await.contains("nurses"));
            b.save_screenshot("console-user").await;
            b.client
                .goto(&server.http_url("/jobs?state=all"))
                .await
                .unwrap();
            b.wait_for("jobs", Duration::from_secs(10)).await;
            assert!(
                !b.has("nav-audit").await,
                "helpdesk does not read the audit log"
            );
            b.client.goto(&server.http_url("/audit")).await.unwrap();
            b.wait_for("heading", Duration::from_secs(10)).await;
            assert_eq!(b.text("heading").await, "Not for your role");
            b.close().await;
        });

    // A sign-in post without the CSRF cookie (another site's form) is refused.
    let r = crate::common::directory::http(
        "POST",
        &server.http_url("/login"),
        None,
        "application/x-www-form-urlencoded",
        b"login=nina&password=x",
    );
    assert_eq!(
        r.status, 403,
        "no CSRF cookie: refused before the password is even checked"
    );
}

#[test]
fn staff_manage_their_own_printing_on_their_page() {
    let data = tempfile::tempdir().unwrap();
    let users: Vec<TestUser> = ["nina", "rita"].into_iter().map(TestUser::new).collect();
    write_ldif(&data.path().join("directory.ldif"), &users);
    let server = TestApp::builder(Backend::Postgres)
        .data_dir(data.path())
        .start();
    let kept = print_colour(&server, "nina", "Planning de garde");
    let dropped = print_colour(&server, "nina", "Brouillon");
    print_colour(&server, "rita", "Compte rendu de rita");

    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let b = Browser::start(BrowserOptions::default()).await;
            sign_in(&b, &server, "nina").await;
            // No role: her own page, and no IT pages.
            b.wait_for("held", Duration::from_secs(10)).await;
            assert!(b
                .text(&format!("mine-{kept}"))
                .await
                .contains("Planning de garde"));
            assert!(!b.source().await.contains("Compte rendu de rita"));
            assert!(!b.has("nav-policies").await);
            b.save_screenshot("console-me").await;

            // Delete a document of hers.
            b.click(&format!("#cancel-{dropped}")).await;
            b.wait_for("notice", Duration::from_secs(10)).await;
            assert!(!b.has(&format!("mine-{dropped}")).await);
            assert!(b.has(&format!("mine-{kept}")).await);

            // A PIN, a badge, a delegation.
            b.type_into("pin", "2468").await;
            b.click("#set-pin").await;
            b.wait_for_text("notice", "PIN saved", Duration::from_secs(10))
                .await;
            assert!(b.has("remove-pin").await);
            b.type_into("badge", "04CC0001").await;
            b.click("#link-badge").await;
            b.wait_for_text("badges", "4CC0001", Duration::from_secs(10))
                .await;
            b.type_into("to_user", "rita").await;
            b.click("#delegate").await;
            b.wait_for_text("given", "rita", Duration::from_secs(10))
                .await;
            b.save_screenshot("console-me-after").await;

            // The IT pages refuse her; the dashboard sends her to her page.
            b.client.goto(&server.http_url("/jobs")).await.unwrap();
            b.wait_for("heading", Duration::from_secs(10)).await;
            assert_eq!(b.text("heading").await, "Not for your role");
            b.client.goto(&server.http_url("/")).await.unwrap();
            b.wait_for("held", Duration::from_secs(10)).await;
            b.close().await;
        });
}
