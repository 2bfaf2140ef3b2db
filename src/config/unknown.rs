//! Refuses what Folio would otherwise silently ignore: a top-level key of the configuration
//! file or a `FOLIO_*` variable that names no setting. A misspelt name would leave the default
//! in force (a site believing it changed a limit it did not); the error names the nearest
//! known one. Keys inside sections are refused by the sections themselves (serde's
//! `deny_unknown_fields`).
//!
//! The known names are not listed here: they are read off the settings themselves (the
//! serialised defaults, and the variables [`Settings::apply_env`] asks for), so a new setting
//! is known the moment it exists.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::Path;

use super::{ConfigError, Settings};

/// The top-level keys of a configuration file: every field of [`Settings`].
pub fn known_keys() -> BTreeSet<String> {
    toml::Table::try_from(Settings::default())
        .map(|table| table.keys().cloned().collect())
        .unwrap_or_default()
}

/// Every `FOLIO_*` variable a setting is read from.
pub fn known_variables() -> BTreeSet<String> {
    let asked = RefCell::new(BTreeSet::new());
    // With nothing set, applying the environment asks for every variable it knows.
    let _ = Settings::default().apply_env(|name| {
        asked.borrow_mut().insert(name.to_owned());
        None
    });
    asked.into_inner()
}

/// Refuses a top-level key of the file at `path` that is no setting.
pub fn check_file_keys(table: &toml::Table, path: &Path) -> Result<(), ConfigError> {
    let known = known_keys();
    match table.keys().find(|key| !known.contains(key.as_str())) {
        Some(key) => Err(ConfigError::Unknown {
            what: format!("key `{key}` in {}", path.display()),
            hint: hint(key, &known),
        }),
        None => Ok(()),
    }
}

/// Refuses a `FOLIO_*` name among `names` (the process environment's) that no setting reads.
pub fn check_variables<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<(), ConfigError> {
    let known = known_variables();
    let mut unknown = names
        .into_iter()
        .filter(|name| name.starts_with("FOLIO_") && !known.contains(*name));
    match unknown.next() {
        Some(name) => Err(ConfigError::Unknown {
            what: format!("environment variable {name}"),
            hint: hint(name, &known),
        }),
        None => Ok(()),
    }
}

/// " (did you mean `X`?)" for the known name nearest to `name`, when one is near enough to be
/// a misspelling.
fn hint(name: &str, known: &BTreeSet<String>) -> String {
    let lower = name.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (strsim::levenshtein(&lower, &k.to_ascii_lowercase()), k))
        .min()
        .filter(|(distance, _)| *distance <= (name.len() / 3).max(2))
        .map(|(_, k)| format!(" (did you mean `{k}`?)"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_known_names_come_from_the_settings() {
        let keys = known_keys();
        assert!(
            keys.contains("hold_hours") && keys.contains("directory"),
            "{keys:?}"
        );
        let vars = known_variables();
        for v in [
            "FOLIO_HOLD_HOURS",
            "FOLIO_DATABASE_URL_FILE",
            "FOLIO_DIRECTORY__URL",
            "FOLIO_DIRECTORY__BADGE__STRIP_LEADING_ZEROS",
            "FOLIO_DEVICES__ALLOWED_NETWORKS",
        ] {
            assert!(vars.contains(v), "{v} missing from {vars:?}");
        }
    }

    #[test]
    fn a_misspelt_variable_is_refused_with_the_nearest_name() {
        assert!(check_variables(["PATH", "FOLIO_HOLD_HOURS"]).is_ok());
        let err = check_variables(["FOLIO_DIRECTORY__BIND_DNN"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("FOLIO_DIRECTORY__BIND_DNN"), "{err}");
        assert!(
            err.contains("did you mean `FOLIO_DIRECTORY__BIND_DN`"),
            "{err}"
        );
        let err = check_variables(["FOLIO_SOMETHING_ELSE_ENTIRELY"])
            .unwrap_err()
            .to_string();
        assert!(!err.contains("did you mean"), "{err}");
    }
}
