//! The LDAP directory against a real OpenLDAP `slapd` (started by the test, on loopback, with
//! TLS, AD-like attributes, the memberof overlay, AD-like paging limits and 600+ users).

use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::directory::{
    basic, http, password_of, staff_badge, staff_badge_decimal, Slapd, BIG_GROUPS, STAFF, SUFFIX,
};
use crate::common::{both_backends, op, parse_response, status, Backend, RawIpp, TestApp, TestJob};
use folio::config::{BadgeFormat, DirectorySettings};
use folio::db::Db;
use folio::directory::{BadgeError, DirectoryError, DirectoryService, Via};

fn db_url(backend: Backend, dir: &Path) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite://{}", dir.join("folio.db").display()),
        Backend::Postgres => crate::common::fresh_postgres_database(),
    }
}

fn service(settings: &DirectorySettings, url: &str) -> DirectoryService {
    let db = Db::connect(url, 4).unwrap();
    let dir = folio::directory::open(settings, Path::new("unused.ldif")).unwrap();
    DirectoryService::new(dir, db, settings, 300)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn users_groups_paging_and_passwords() {
    let slapd = Slapd::start();
    let tmp = tempfile::tempdir().unwrap();
    let settings = slapd.settings();
    let svc = service(&settings, &db_url(Backend::Sqlite, tmp.path()));
    runtime().block_on(async {
        let u = svc.user("STAFF0001").await.unwrap().unwrap().user;
        assert_eq!(u.uid, "staff0001");
        assert_eq!(u.department, "Radiology");
        assert_eq!(u.cost_centre, "CC-1001");
        assert_eq!(u.mail, "staff0001@hospital.test");
        assert_eq!(
            u.groups,
            ["color-printing", "print-users"],
            "memberOf from the overlay"
        );
        assert_eq!(u.badges, [staff_badge(1)]);

        // The server returns 10 entries without paging; Folio pages.
        let all = svc.directory().list_users(100_000).await.unwrap();
        assert!(all.len() > STAFF as usize, "{} users", all.len());

        // A user in 5,000 groups, through memberOf and through a paged group search.
        let big = svc.user("biggroups").await.unwrap().unwrap().user;
        assert_eq!(big.groups.len(), BIG_GROUPS as usize);
        let search_mode = DirectorySettings {
            group_attribute: String::new(),
            group_base_dn: format!("ou=biggroups,{SUFFIX}"),
            ..settings.clone()
        };
        let by_search = folio::directory::open(&search_mode, Path::new("x")).unwrap();
        let big2 = by_search.user_by_uid("biggroups").await.unwrap().unwrap();
        assert_eq!(big2.groups.len(), BIG_GROUPS as usize);
        assert!(big2.groups.contains(&"team04999".to_string()));

        // Entries missing attributes still map.
        let bare = svc.user("bare").await.unwrap().unwrap().user;
        assert!(bare.department.is_empty() && bare.badges.is_empty() && bare.groups.is_empty());

        // User input never widens a filter.
        for evil in ["*", "staff0001)(uid=*", "staff*", "\\2a"] {
            assert!(svc.user(evil).await.unwrap().is_none(), "{evil}");
        }
        assert!(svc.user("nobody").await.unwrap().is_none());

        // Passwords: an LDAP bind as the user, on its own connection.
        assert!(svc
            .authenticate("staff0002", &password_of("staff0002"))
            .await
            .unwrap()
            .is_some());
        assert!(svc
            .authenticate("staff0002", "wrong")
            .await
            .unwrap()
            .is_none());
        assert!(
            svc.authenticate("staff0002", "").await.unwrap().is_none(),
            "no unauthenticated bind"
        );
        assert!(svc.authenticate("nobody", "x").await.unwrap().is_none());
        assert!(svc
            .authenticate("*", &password_of("staff0002"))
            .await
            .unwrap()
            .is_none());

        let report = svc.directory().check().await;
        assert!(report.steps.iter().all(|s| s.ok), "{report:?}");
    });
}

both_backends!(
    badges_resolve_from_any_reader_and_conflicts_are_refused,
    |backend| {
        let slapd = Slapd::start();
        let tmp = tempfile::tempdir().unwrap();
        let url = db_url(backend, tmp.path());
        let svc = service(&slapd.settings(), &url);
        runtime().block_on(async {
            let expect = |r: Result<folio::directory::BadgeMatch, BadgeError>, uid: &str| {
                let m = r.unwrap_or_else(|e| panic!("expected {uid}: {e}"));
                assert_eq!(m.user.uid, uid);
                m
            };
            // Stored as 04A1000C: hex with and without the zero, padded, track sentinels, decimal.
            let hex = staff_badge(12);
            let m = expect(svc.resolve_badge(&hex, None).await, "staff0012");
            assert_eq!(m.via, Via::Directory);
            expect(
                svc.resolve_badge(hex.trim_start_matches('0'), None).await,
                "staff0012",
            );
            expect(
                svc.resolve_badge(&format!("000{hex}"), None).await,
                "staff0012",
            );
            expect(
                svc.resolve_badge(&format!(";{hex}?"), None).await,
                "staff0012",
            );
            let m = expect(
                svc.resolve_badge(&format!("{:012}", staff_badge_decimal(13)), None)
                    .await,
                "staff0013",
            );
            assert!(m.rules.contains(&"decimal-to-hex"), "{:?}", m.rules);
            // Seen once: the next tap is answered from the cache.
            assert_eq!(svc.resolve_badge(&hex, None).await.unwrap().via, Via::Cache);
            // Three cards, one person, in two attributes.
            expect(svc.resolve_badge("BADCAFE01", None).await, "twocards");
            expect(svc.resolve_badge("0BADCAFE02", None).await, "twocards");
            expect(svc.resolve_badge("00BADCAFE03", None).await, "twocards");
            // One card, two people: refused, both named.
            match svc.resolve_badge("DDDDDDD", None).await {
                Err(BadgeError::Ambiguous(uids)) => assert_eq!(uids, ["dup1", "dup2"]),
                other => panic!("{other:?}"),
            }
            assert_eq!(
                svc.resolve_badge("FFFF0000", None).await.unwrap_err(),
                BadgeError::Unknown
            );
            assert_eq!(
                svc.resolve_badge("not a badge!", None).await.unwrap_err(),
                BadgeError::Invalid
            );

            // A PIN, once set, is needed; a wrong one is refused.
            svc.set_pin("staff0012", Some("1357"), "staff0012")
                .await
                .unwrap();
            assert_eq!(
                svc.resolve_badge(&hex, None).await.unwrap_err(),
                BadgeError::PinRequired
            );
            assert_eq!(
                svc.resolve_badge(&hex, Some("0000")).await.unwrap_err(),
                BadgeError::WrongPin
            );
            expect(svc.resolve_badge(&hex, Some("1357")).await, "staff0012");
        });
        // When the site requires PINs, a user without one is told to set it.
        let strict = DirectorySettings {
            badge_requires_pin: true,
            ..slapd.settings()
        };
        let svc = service(&strict, &url);
        runtime().block_on(async {
            assert_eq!(
                svc.resolve_badge(&staff_badge(14), Some("1234"))
                    .await
                    .unwrap_err(),
                BadgeError::PinNotSet
            );
            assert_eq!(
                svc.resolve_badge(&staff_badge(14), None).await.unwrap_err(),
                BadgeError::PinRequired
            );
        });
    }
);

#[test]
fn active_directory_mapping() {
    let slapd = Slapd::start();
    let tmp = tempfile::tempdir().unwrap();
    let mut settings = slapd.settings();
    settings.uid_attribute = "sAMAccountName".into();
    settings.user_filter = "(objectClass=adCompatUser)".into();
    settings.badge_attributes = vec!["employeeID".into()];
    settings.badge.format = BadgeFormat::Decimal;
    let svc = service(&settings, &db_url(Backend::Sqlite, tmp.path()));
    runtime().block_on(async {
        let u = svc.user("Staff0020").await.unwrap().unwrap().user;
        assert_eq!(u.uid, "staff0020");
        assert_eq!(u.groups, ["print-users"]);
        // Stored as a zero-padded decimal; read in decimal, or in hex by another reader.
        let dec = staff_badge_decimal(21).to_string();
        assert_eq!(
            svc.resolve_badge(&dec, None).await.unwrap().user.uid,
            "staff0021"
        );
        let m = svc.resolve_badge(&staff_badge(22), None).await.unwrap();
        assert_eq!(m.user.uid, "staff0022");
        assert!(m.rules.contains(&"hex-to-decimal"));
        assert!(svc
            .authenticate("staff0023", &password_of("staff0023"))
            .await
            .unwrap()
            .is_some());
    });
}

#[test]
fn tls_is_verified_and_never_downgraded() {
    let slapd = Slapd::start();
    let tmp = tempfile::tempdir().unwrap();
    let url = db_url(Backend::Sqlite, tmp.path());
    let ldaps = DirectorySettings {
        url: slapd.ldaps_url(),
        starttls: false,
        ..slapd.settings()
    };
    runtime().block_on(async {
        let svc = service(&ldaps, &url);
        assert!(
            svc.user("staff0030").await.unwrap().is_some(),
            "LDAPS with the right CA"
        );
        for settings in [
            DirectorySettings {
                ca_file: slapd.other_ca_file(),
                ..ldaps.clone()
            },
            DirectorySettings {
                ca_file: slapd.other_ca_file(),
                ..slapd.settings()
            },
        ] {
            let d = folio::directory::open(&settings, Path::new("x")).unwrap();
            match d.user_by_uid("staff0030").await {
                Err(DirectoryError::Unavailable(e)) => {
                    assert!(
                        e.to_lowercase().contains("certificate") || e.contains("UnknownIssuer"),
                        "{e}"
                    )
                }
                other => panic!("an untrusted certificate must be refused: {other:?}"),
            }
        }
    });
}

both_backends!(ldap_down_known_badges_resolve_degraded, |backend| {
    let mut slapd = Slapd::start();
    let tmp = tempfile::tempdir().unwrap();
    let settings = DirectorySettings {
        cache_ttl: 1,
        retry_after: 1,
        ..slapd.settings()
    };
    let url = db_url(backend, tmp.path());
    let svc = service(&settings, &url);
    runtime().block_on(async {
        assert_eq!(
            svc.resolve_badge(&staff_badge(7), None)
                .await
                .unwrap()
                .user
                .uid,
            "staff0007"
        );
        assert!(svc.user("staff0009").await.unwrap().is_some());
        tokio::time::sleep(Duration::from_millis(1100)).await;
        slapd.stop();

        let m = svc.resolve_badge(&staff_badge(7), None).await.unwrap();
        assert_eq!(m.user.uid, "staff0007");
        assert!(m.degraded, "marked degraded");
        assert_eq!(m.via, Via::Cache);
        assert!(svc.is_degraded());
        match svc.resolve_badge(&staff_badge(8), None).await {
            Err(BadgeError::Unavailable(_)) => {}
            other => panic!("an unknown badge gets 'directory unavailable': {other:?}"),
        }
        let l = svc.user("staff0009").await.unwrap().unwrap();
        assert!(l.degraded);
        assert!(matches!(
            svc.user("staff0010").await,
            Err(folio::directory::LookupError::Unavailable(_))
        ));
        assert!(folio::metrics::METRICS
            .render()
            .contains("folio_directory_degraded 1"));

        // The server comes back: after retry_after, Folio reconnects on its own.
        slapd.restart();
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let m = svc.resolve_badge(&staff_badge(8), None).await.unwrap();
        assert_eq!(m.user.uid, "staff0008");
        assert!(!m.degraded && !svc.is_degraded());
    });
    let metrics = folio::metrics::METRICS.render();
    assert!(metrics.contains("folio_directory_degraded 0"), "{metrics}");
    let db = Db::connect(&url, 1).unwrap();
    let mut conn = db.get().unwrap();
    let events = folio::db::models::audit_events::list_after(&mut conn, 0, 100).unwrap();
    assert!(events.iter().any(|e| e.action == "directory.degraded"));
    assert!(events.iter().any(|e| e.action == "directory.recovered"));
    assert!(events
        .iter()
        .any(|e| e.action == "badge.resolved_degraded" && e.actor == "staff0007"));
    assert!(matches!(
        folio::audit::verify(&mut conn).unwrap(),
        folio::audit::Verdict::Intact { .. }
    ));
});

/// Accepts connections and never answers (a hung directory server).
fn black_hole() -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let mut held = Vec::new();
        listener.set_nonblocking(true).unwrap();
        let until = Instant::now() + Duration::from_secs(60);
        while Instant::now() < until {
            if let Ok((s, _)) = listener.accept() {
                held.push(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    (port, handle)
}

/// Prints one page as `user`: the IPP status and how long the answer took.
fn print(server: &TestApp, user: &str) -> (u16, Duration) {
    let started = Instant::now();
    let status = TestJob::document(testkit::sample_pdf(1))
        .owner(user)
        .submit(server)
        .status;
    (status, started.elapsed())
}

#[test]
fn a_hung_directory_never_stalls_printing_for_known_users() {
    let slapd = Slapd::start();
    let data = tempfile::tempdir().unwrap();
    let mut server = TestApp::builder(Backend::Sqlite)
        .data_dir(data.path())
        .settings(|s| s.directory = slapd.settings())
        .start();
    assert_eq!(print(&server, "staff0040").0, status::SUCCESSFUL_OK);

    // Same database, the directory now accepts connections and never answers.
    let (port, _hole) = black_hole();
    server.restart_with(|s| {
        s.directory.url = format!("ldap://127.0.0.1:{port}");
        s.directory.starttls = false;
        s.directory.timeout = 2;
    });
    let (st, took) = print(&server, "staff0040");
    assert_eq!(st, status::SUCCESSFUL_OK, "a known user prints");
    assert!(
        took < Duration::from_secs(1),
        "without waiting for the directory: {took:?}"
    );
    let (st, took) = print(&server, "staff0041");
    assert_eq!(
        st,
        status::SERVER_ERROR_SERVICE_UNAVAILABLE,
        "an unknown user is told to retry"
    );
    assert!(
        took < Duration::from_secs(8),
        "bounded by the timeout: {took:?}"
    );
    // After the failure the directory is left alone: answers come at once.
    let (st, took) = print(&server, "staff0042");
    assert_eq!(st, status::SERVER_ERROR_SERVICE_UNAVAILABLE);
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert_eq!(print(&server, "staff0040").0, status::SUCCESSFUL_OK);
}

/// A directory that answers, but 10 s late (behind a proxy holding back slapd's replies):
/// known users print at once from the cache, unknown ones are told to retry within the
/// timeout, and when the directory is prompt again Folio uses it again on its own.
#[test]
fn a_directory_answering_ten_seconds_late_never_stalls_printing_and_is_used_again() {
    let slapd = Slapd::start();
    let proxy = crate::common::proxy::LateProxy::start(slapd.port);
    let data = tempfile::tempdir().unwrap();
    let server = TestApp::builder(Backend::Sqlite)
        .data_dir(data.path())
        .settings(|s| {
            s.directory = slapd.settings();
            s.directory.url = format!("ldap://127.0.0.1:{}", proxy.port);
            s.directory.timeout = 2;
            s.directory.cache_ttl = 1;
            s.directory.retry_after = 2;
        })
        .start();
    assert_eq!(print(&server, "staff0050").0, status::SUCCESSFUL_OK);

    proxy.set_delay(Some(Duration::from_secs(10)));
    // The cached copy is stale (cache_ttl 1 s): it still answers at once, refreshed behind.
    std::thread::sleep(Duration::from_millis(1200));
    let (st, took) = print(&server, "staff0050");
    assert_eq!(st, status::SUCCESSFUL_OK, "a known user prints");
    assert!(took < Duration::from_secs(1), "{took:?}");
    let (st, took) = print(&server, "staff0051");
    assert_eq!(
        st,
        status::SERVER_ERROR_SERVICE_UNAVAILABLE,
        "an unknown user is told to retry"
    );
    assert!(
        took < Duration::from_secs(8),
        "bounded by the timeout, not the 10 s: {took:?}"
    );
    let (st, took) = print(&server, "staff0050");
    assert_eq!(st, status::SUCCESSFUL_OK);
    assert!(took < Duration::from_secs(1), "{took:?}");

    // Prompt again: after retry_after Folio asks it again, and late answers still in flight
    // on old connections are not mistaken for new ones.
    proxy.set_delay(None);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (st, _) = print(&server, "staff0051");
        if st == status::SUCCESSFUL_OK {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the directory is not used again: {st:#06x}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(print(&server, "staff0052").0, status::SUCCESSFUL_OK);
    let log = std::fs::read_to_string(server.data_dir.join(crate::common::SERVER_LOG)).unwrap();
    let (down, up) = (
        log.find("directory unreachable: degraded mode"),
        log.rfind("directory reachable again"),
    );
    assert!(
        matches!((down, up), (Some(d), Some(u)) if d < u),
        "the outage and its end are logged, in order"
    );
}

#[test]
fn ipp_basic_auth_binds_to_ldap_and_the_cli_checks_the_mapping() {
    let slapd = Slapd::start();
    let data = tempfile::tempdir().unwrap();
    let server = TestApp::builder(Backend::Sqlite)
        .data_dir(data.path())
        .settings(|s| {
            s.directory = slapd.settings();
            s.ipp.auth = folio::config::IppAuthMode::Basic;
        })
        .start();
    let req = RawIpp::new(op::PRINT_JOB)
        .operation_prelude(&server.ipp_uri())
        .document(&testkit::sample_pdf(1))
        .build();
    let url = server.http_url("/ipp/print");
    let ok = http(
        "POST",
        &url,
        Some(&basic("staff0003", &password_of("staff0003"))),
        "application/ipp",
        &req,
    );
    let resp = parse_response(&ok.body).unwrap();
    assert_eq!(resp.status, status::SUCCESSFUL_OK);
    let wrong = http(
        "POST",
        &url,
        Some(&basic("staff0003", "nope")),
        "application/ipp",
        &req,
    );
    assert_eq!(wrong.status, 401);

    // The command line reads the server's settings (its directory).
    let out = crate::common::folio_cli(data.path(), None, &["directory", "check", "--json"]);
    let text = out.stdout.clone();
    assert_eq!(out.code, 0, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["report"]["sample"].as_array().unwrap().len(), 5);
    // The service password never appears in what Folio prints or logs.
    let log = std::fs::read_to_string(data.path().join(crate::common::SERVER_LOG)).unwrap();
    assert!(
        !log.contains(crate::common::directory::SERVICE_PASSWORD)
            && !text.contains(crate::common::directory::SERVICE_PASSWORD)
    );
    assert!(!log.contains(&password_of("staff0003")));
}
