//! `[archive]`: where scanned documents are checked and filed.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[archive]` settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ArchiveSettings {
    /// The patient identity service: `fhir`, `json`, or empty (documents then wait in
    /// quarantine for identity vigilance).
    pub identity_kind: String,
    /// Its base URL (FHIR base, or the JSON service's patient collection).
    pub identity_url: String,
    /// FHIR: the identifier system of the hospital's patient ids.
    pub identity_system: String,
    /// A file holding a bearer token for the identity service; empty = none.
    pub identity_token_file: PathBuf,
    /// The classification plan (TOML `[[category]]` code, label, retention); empty = the
    /// default plan of a French hospital medical record.
    pub plan_file: PathBuf,
}

impl ArchiveSettings {
    /// The identity service described, if any.
    pub fn identity(&self) -> anyhow::Result<Option<super::identity::IdentityService>> {
        use super::identity::{IdentityKind, IdentityService};
        let kind = match self.identity_kind.trim() {
            "" => return Ok(None),
            "fhir" => IdentityKind::Fhir,
            "json" => IdentityKind::Json,
            other => anyhow::bail!("archive.identity_kind `{other}` is not fhir or json"),
        };
        if self.identity_url.trim().is_empty() {
            anyhow::bail!("archive.identity_url is required with archive.identity_kind");
        }
        let token = if self.identity_token_file.as_os_str().is_empty() {
            None
        } else {
            let t = std::fs::read_to_string(&self.identity_token_file).map_err(|e| {
                anyhow::anyhow!(
                    "archive.identity_token_file {}: {e}",
                    self.identity_token_file.display()
                )
            })?;
            Some(t.lines().next().unwrap_or("").trim().to_owned())
        };
        Ok(Some(IdentityService {
            kind,
            url: self.identity_url.trim().to_owned(),
            system: self.identity_system.trim().to_owned(),
            token,
        }))
    }
}
