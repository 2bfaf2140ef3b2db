//! Devices: added, listed, tokens rotated and removed from the CLI and the REST API, driver
//! profiles enforced, tokens never stored in clear.

use std::path::Path;

use crate::common::directory::{basic, http, password_of, write_ldif, TestUser};
use crate::common::{both_backends, Backend, TestApp};

fn folio(data_dir: &Path, db_url: Option<&str>, args: &[&str]) -> (i32, String, String) {
    let out = crate::common::folio_cli(data_dir, db_url, args);
    (out.code, out.stdout, out.stderr)
}

fn db_url(backend: Backend) -> Option<String> {
    match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(crate::common::fresh_postgres_database()),
    }
}

both_backends!(devices_are_managed_from_the_cli, |backend| {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let url = db_url(backend);
    let url = url.as_deref();
    let add = |name: &str, uri: &str, driver: &str| {
        folio(
            d,
            url,
            &[
                "device",
                "add",
                "--json",
                "--name",
                name,
                "--uri",
                uri,
                "--driver",
                driver,
                "--site",
                "CHU Nord",
                "--floor",
                "3",
                "--service",
                "Cardiologie",
            ],
        )
    };
    let (code, out, err) = add(
        "cardio-3",
        &format!("ipps://127.0.0.1:{}/ipp/print", crate::common::free_port()),
        "konica-minolta-bizhub",
    );
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let token = v["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("fdt_"));
    assert_eq!(v["device"]["location"]["service"], "Cardiologie");
    assert_eq!(v["device"]["capabilities"]["duplex"], true);

    // Refused with a reason: unknown profile, a protocol the profile does not speak, a name taken.
    let (code, _, err) = add("x", "ipp://h/ipp/print", "no-such-model");
    assert_eq!(code, 2);
    assert!(
        err.contains("ipp-everywhere"),
        "known profiles are listed: {err}"
    );
    let (code, _, err) = add("x", "socket://10.1.2.4:9100", "konica-minolta-bizhub");
    assert_eq!(code, 2);
    assert!(err.contains("does not speak socket"), "{err}");
    let (code, _, err) = add("x", "ipp:///ipp/print", "ipp-everywhere");
    assert_eq!(code, 2);
    assert!(err.contains("no host"), "{err}");
    let (code, _, err) = add("cardio-3", "socket://10.1.2.5:9100", "generic-pjl-pdf");
    assert_eq!(code, 2);
    assert!(err.contains("already exists"), "{err}");
    let (code, out, _) = add(
        "urgences-label",
        "socket://10.1.9.9:9100",
        "generic-pjl-pdf",
    );
    assert_eq!(code, 0, "{out}");

    let (_, out, _) = folio(d, url, &["device", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(!out.contains(&token), "tokens are never listed");

    let (code, out, _) = folio(
        d,
        url,
        &["device", "token", "cardio-3", "--rotate", "--json"],
    );
    assert_eq!(code, 0);
    let rotated: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_ne!(rotated["token"].as_str().unwrap(), token);

    let (code, out, _) = folio(d, url, &["device", "remove", "cardio-3"]);
    assert_eq!(code, 0, "{out}");
    let (code, _, _) = folio(d, url, &["device", "remove", "cardio-3"]);
    assert_eq!(code, 2);
    // The name is free again once the device is out of service.
    let (code, _, _) = add(
        "cardio-3",
        &format!("ipp://127.0.0.1:{}/ipp/print", crate::common::free_port()),
        "ipp-everywhere",
    );
    assert_eq!(code, 0);

    if backend == Backend::Sqlite {
        let db = std::fs::read(d.join("folio.db")).unwrap();
        let wal = std::fs::read(d.join("folio.db-wal")).unwrap_or_default();
        for bytes in [&db, &wal] {
            assert!(
                !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
                "token stored in clear"
            );
        }
    }
    let (code, out, _) = folio(d, url, &["audit", "verify"]);
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = folio(d, url, &["device", "drivers", "--json"]);
    assert_eq!(code, 0);
    let drivers: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(drivers.as_object().unwrap().len() >= 5);
});

#[test]
fn the_device_api_is_for_administrators() {
    let dir = tempfile::tempdir().unwrap();
    let mut users = vec![TestUser::new("carol"), TestUser::new("bob")];
    users[0].groups = vec!["folio-admins".into()];
    write_ldif(&dir.path().join("directory.ldif"), &users);
    let server = TestApp::builder(Backend::Sqlite)
        .data_dir(dir.path())
        .start();
    let url = server.http_url("/api/v1/devices");
    let carol = basic("carol", &password_of("carol"));
    let bob = basic("bob", &password_of("bob"));
    let json = "application/json";

    assert_eq!(http("GET", &url, None, json, b"").status, 401);
    assert_eq!(http("GET", &url, Some(&bob), json, b"").status, 403);
    let body = br#"{"name":"radio-1","uri":"ipp://127.0.0.1:9/ipp/print","driver":"ipp-everywhere","location":{"site":"CHU Sud","service":"Radiologie"}}"#;
    assert_eq!(http("POST", &url, Some(&bob), json, body).status, 403);
    let created = http("POST", &url, Some(&carol), json, body);
    assert_eq!(
        created.status,
        201,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    let id = created.json()["device"]["id"].as_i64().unwrap();
    assert!(created.json()["token"]
        .as_str()
        .unwrap()
        .starts_with("fdt_"));
    let bad = http(
        "POST",
        &url,
        Some(&carol),
        json,
        br#"{"name":"x","uri":"ftp://h","driver":"ipp-everywhere"}"#,
    );
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["error"], "invalid_device");
    let typo = http(
        "POST",
        &url,
        Some(&carol),
        json,
        br#"{"name":"x","uri":"ipp://h/","driver":"ipp-everywhere","colour":true}"#,
    );
    assert_eq!(typo.status, 400, "unknown fields are refused");

    let list = http("GET", &url, Some(&carol), json, b"");
    assert_eq!(list.json()["devices"].as_array().unwrap().len(), 1);
    let one = http("GET", &format!("{url}/{id}"), Some(&carol), json, b"");
    assert_eq!(one.json()["location"]["service"], "Radiologie");
    let rotated = http(
        "POST",
        &format!("{url}/{id}/token"),
        Some(&carol),
        json,
        b"",
    );
    assert_eq!(rotated.status, 200);
    assert_eq!(
        http("DELETE", &format!("{url}/{id}"), Some(&carol), json, b"").status,
        204
    );
    assert_eq!(
        http("GET", &format!("{url}/{id}"), Some(&carol), json, b"").status,
        404
    );
    let drivers = http(
        "GET",
        &server.http_url("/api/v1/drivers"),
        Some(&carol),
        json,
        b"",
    );
    assert!(drivers.json()["hp-laserjet-enterprise"]["pjl"]["mono"].is_array());
}

#[test]
fn an_ipp_device_is_asked_what_it_can_do() {
    let copier = crate::common::copier::IppEvePrinter::start("Mono Simplex", false, false);
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = folio(
        dir.path(),
        None,
        &[
            "device",
            "add",
            "--json",
            "--name",
            "mono",
            "--uri",
            &copier.uri(),
            "--driver",
            "ipp-everywhere",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    // The profile allows colour and duplex; this copier has neither: Folio believes the copier.
    assert_eq!(v["device"]["capabilities"]["color"], false, "{v}");
    assert_eq!(v["device"]["capabilities"]["duplex"], false, "{v}");
    assert!(!v["device"]["capabilities"]["media"]
        .as_array()
        .unwrap()
        .is_empty());
}
