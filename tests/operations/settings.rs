//! Settings at start: a `FOLIO_*` variable or a configuration key that names no setting stops
//! Folio with the nearest known name, before anything is opened (a misspelling would otherwise
//! leave the default in force unnoticed).

use crate::common::folio_command;

/// Runs `folio migrate` on `data` with `config` and one extra variable; (succeeded, stderr).
fn migrate(
    data: &std::path::Path,
    config: Option<&std::path::Path>,
    var: (&str, &str),
) -> (bool, String) {
    let mut cmd = folio_command();
    if let Some(config) = config {
        cmd.arg("--config").arg(config);
    }
    let out = cmd
        .arg("--data-dir")
        .arg(data)
        .arg("migrate")
        .env(var.0, var.1)
        .output()
        .expect("running folio migrate");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_misspelt_setting_stops_folio_with_the_nearest_name() {
    let data = tempfile::tempdir().unwrap();
    let (ok, err) = migrate(
        data.path(),
        None,
        ("FOLIO_DEVICES__ALLOWED_NETWORK", "10.0.0.0/8"),
    );
    assert!(!ok, "refused");
    assert!(
        err.contains("FOLIO_DEVICES__ALLOWED_NETWORK is not a Folio setting")
            && err.contains("did you mean `FOLIO_DEVICES__ALLOWED_NETWORKS`"),
        "{err}"
    );
    assert!(!data.path().join("folio.db").exists(), "nothing was opened");

    let config = data.path().join("folio.toml");
    std::fs::write(&config, "hold_hour = 3\n").unwrap();
    let (ok, err) = migrate(data.path(), Some(&config), ("RUST_LOG", "warn"));
    assert!(!ok, "refused");
    assert!(
        err.contains("`hold_hour`") && err.contains("did you mean `hold_hours`"),
        "{err}"
    );

    // The right names are taken.
    std::fs::write(&config, "hold_hours = 3\n").unwrap();
    let (ok, err) = migrate(
        data.path(),
        Some(&config),
        ("FOLIO_DEVICES__ALLOWED_NETWORKS", "10.0.0.0/8"),
    );
    assert!(ok, "{err}");
    assert!(data.path().join("folio.db").exists());
}
