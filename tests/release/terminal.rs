//! The release terminal page in headless Chromium (Debian `chromium` + `chromium-driver`): a
//! real Folio, a directory, an ippeveprinter copier linked to the screen, jobs printed over IPP,
//! and a person at the copier — badge typed by a keyboard-wedge reader (digits, Enter), PIN,
//! selection, release, delete, logout, first use of an unknown badge, automatic logout.

use std::time::{Duration, Instant};

use crate::common::browser::{Browser, BrowserOptions};
use crate::common::copier::IppEvePrinter;
use crate::common::directory::{basic, http, password_of, write_ldif, TestUser};
use crate::common::release::{add_device, print_as, wait_state};
use crate::common::{Backend, TestApp};
use fantoccini::Locator;

const COMPLETED: i32 = 9;
const CANCELED: i32 = 7;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn job_count(b: &Browser) -> usize {
    b.client
        .find_all(Locator::Css("li.job"))
        .await
        .map(|v| v.len())
        .unwrap_or(0)
}

/// Waits until the list shows `n` jobs.
async fn wait_jobs(b: &Browser, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while job_count(b).await != n {
        assert!(
            Instant::now() < deadline,
            "the list did not show {n} jobs:\n{}",
            b.source().await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Opens `/terminal` and links the screen to the device with `token`.
async fn link_screen(b: &Browser, server: &TestApp, token: &str) {
    b.client.goto(&server.http_url("/terminal")).await.unwrap();
    b.wait_for("token", Duration::from_secs(10)).await;
    b.type_into("token", &format!("{token}\n")).await;
    b.wait_for("badge", Duration::from_secs(10)).await;
}

#[test]
fn a_badge_at_the_terminal_releases_the_selected_job_in_chromium() {
    let data = tempfile::tempdir().unwrap();
    let mut users = vec![TestUser::new("alice"), TestUser::new("bob")];
    users[0].badges = vec!["04A1B2C3".into()];
    write_ldif(&data.path().join("directory.ldif"), &users);
    let server = TestApp::builder(Backend::Sqlite)
        .data_dir(data.path())
        .settings(|s| {
            s.release.terminal_logout_secs = 10;
        })
        .start();
    let copier = IppEvePrinter::start("Ward Copier", true, true);
    let token = add_device(data.path(), None, "ward-3", &copier.uri());
    // Alice protects her badge with a PIN.
    let pin = http(
        "PUT",
        &server.http_url("/api/v1/me/pin"),
        Some(&basic("alice", &password_of("alice"))),
        "application/json",
        br#"{"pin":"2468"}"#,
    );
    assert_eq!(pin.status, 204, "{}", String::from_utf8_lossy(&pin.body));
    let report = print_as(&server, "alice", "Compte rendu Dupont");
    let letter = print_as(&server, "alice", "Ordonnance");
    print_as(&server, "bob", "Planning de garde");

    runtime().block_on(async {
        let b = Browser::start(BrowserOptions::default()).await;
        link_screen(&b, &server, &token).await;
        // The device's token and the session are not readable by scripts.
        let cookies = b
            .client
            .execute("return document.cookie", Vec::new())
            .await
            .unwrap();
        assert!(!cookies.to_string().contains("folio_device"), "{cookies}");
        assert_eq!(b.text("device").await, "ward-3");

        // The reader types the card number and Enter; a wrong PIN, then the right one.
        b.type_into("badge", "04A1B2C3\n").await;
        b.wait_for("pin", Duration::from_secs(10)).await;
        b.screenshot("terminal-pin").await;
        b.type_into("pin", "1111\n").await;
        b.wait_for("error", Duration::from_secs(10)).await;
        assert!(b.text("error").await.contains("Wrong PIN"));
        b.type_into("pin", "2468\n").await;
        b.wait_for("hello", Duration::from_secs(10)).await;
        assert!(b.text("hello").await.contains("Test alice"));

        b.screenshot("terminal-session").await;
        // Her two jobs, with pages, colour and sides; never Bob's.
        assert_eq!(job_count(&b).await, 2);
        let page = b.source().await;
        assert!(page.contains("Compte rendu Dupont") && page.contains("Ordonnance"));
        assert!(
            !page.contains("Planning de garde"),
            "Bob's job is shown to Alice"
        );
        let first = b.text(&format!("job-{report}")).await;
        assert!(first.contains("2 pages"), "{first}");
        assert!(
            first.contains("black & white") && first.contains("two-sided"),
            "{first}"
        );

        // Select one, print it: confirmed on screen, printed once at the copier.
        b.click(&format!("#job-{report} input[type=checkbox]"))
            .await;
        b.click("#print-selected").await;
        wait_jobs(&b, 1).await;
        b.screenshot("terminal-released").await;
        assert!(
            b.source()
                .await
                .contains("Compte rendu Dupont — sent to the copier"),
            "{}",
            b.source().await
        );

        // Delete the other one, then log out (within the 10 s automatic logout).
        b.click(&format!("#job-{letter} input[type=checkbox]"))
            .await;
        b.click("#delete-selected").await;
        b.wait_for("no-jobs", Duration::from_secs(10)).await;
        b.click("#logout").await;
        b.wait_for("badge", Duration::from_secs(10)).await;
        assert_eq!(copier.received(1, Duration::from_secs(60)).len(), 1);
        wait_state(&server, "alice", report, COMPLETED);
        wait_state(&server, "alice", letter, CANCELED);

        // Bob's new card is unknown: he signs in once and it becomes his.
        b.type_into("badge", "04FFEE01\n").await;
        b.wait_for("login", Duration::from_secs(10)).await;
        assert!(b.text("error").await.contains("not known"));
        b.type_into("login", "bob").await;
        b.type_into("password", &format!("{}\n", password_of("bob")))
            .await;
        b.wait_for("hello", Duration::from_secs(10)).await;
        assert!(b.text("hello").await.contains("Test bob"));
        assert!(b.source().await.contains("Your badge is now linked to you"));
        assert_eq!(job_count(&b).await, 1);

        // Left alone, the screen logs Bob out by itself.
        let left = Instant::now();
        b.wait_for("badge", Duration::from_secs(30)).await;
        assert!(left.elapsed() >= Duration::from_secs(5));
        // His card now opens his session directly.
        b.type_into("badge", "04FFEE01\n").await;
        b.wait_for("hello", Duration::from_secs(10)).await;
        assert!(b.text("hello").await.contains("Test bob"));
        b.click("#logout").await;
        b.wait_for("badge", Duration::from_secs(10)).await;
        b.close().await;
    });

    // A form posted from elsewhere (no CSRF cookie and token) is refused.
    let forged = http(
        "POST",
        &server.http_url("/terminal/badge"),
        None,
        "application/x-www-form-urlencoded",
        b"badge=04A1B2C3&pin=2468",
    );
    assert_eq!(forged.status, 403);
}

#[test]
fn the_terminal_works_without_javascript_on_postgres_in_french() {
    let data = tempfile::tempdir().unwrap();
    let mut users = vec![TestUser::new("alice")];
    users[0].badges = vec!["04A1B2C3".into()];
    write_ldif(&data.path().join("directory.ldif"), &users);
    let server = TestApp::builder(Backend::Postgres)
        .data_dir(data.path())
        .start();
    let copier = IppEvePrinter::start("Mono Copier", false, false);
    let token = add_device(
        data.path(),
        server.db_url.as_deref(),
        "accueil-rdc",
        &copier.uri(),
    );
    let jobs = [
        print_as(&server, "alice", "Courrier"),
        print_as(&server, "alice", "Bilan"),
    ];

    runtime().block_on(async {
        let b = Browser::start(BrowserOptions {
            languages: "fr-FR,fr",
            javascript: false,
        })
        .await;
        link_screen(&b, &server, &token).await;
        assert!(b.source().await.contains("Passez votre badge"));
        b.type_into("badge", "04A1B2C3\n").await;
        b.wait_for("hello", Duration::from_secs(10)).await;
        assert!(b.text("hello").await.contains("Bonjour"));
        assert_eq!(job_count(&b).await, 2);
        assert!(b.text(&format!("job-{}", jobs[0])).await.contains("recto"));
        b.click("#print-all").await;
        b.wait_for("no-jobs", Duration::from_secs(10)).await;
        assert!(b.source().await.contains("envoyé au copieur"));
        b.click("#logout").await;
        b.wait_for("badge", Duration::from_secs(10)).await;
        b.close().await;
    });
    assert_eq!(copier.received(2, Duration::from_secs(60)).len(), 2);
    for id in jobs {
        wait_state(&server, "alice", id, COMPLETED);
    }
}
