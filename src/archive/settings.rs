//! `[archive]`: where scanned documents are checked and filed.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[archive]` settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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
    /// Share of each QC lot (one copier, one day) drawn for review, 0 to 1; 0 = no QC.
    pub qc_rate: f64,
    /// Seconds without a new document after which a lot is closed and its sample drawn.
    pub qc_close_secs: u64,
    /// The RFC 3161 time-stamping authority (`http://…`); empty = documents wait in
    /// quarantine at sealing.
    pub tsa_url: String,
    /// PEM file of the CA certificates the TSA's certificate chains to (`folio archive verify`).
    pub tsa_ca_file: PathBuf,
    /// Where sealed documents are deposited (PDF + JSON manifest); empty = no deposit.
    pub deposit_dir: PathBuf,
    /// FHIR R4 server receiving a DocumentReference and its Binary per document; empty = none.
    pub fhir_url: String,
    /// A file holding a bearer token for the FHIR server.
    pub fhir_token_file: PathBuf,
}

impl Default for ArchiveSettings {
    fn default() -> Self {
        ArchiveSettings {
            identity_kind: String::new(),
            identity_url: String::new(),
            identity_system: String::new(),
            identity_token_file: PathBuf::new(),
            plan_file: PathBuf::new(),
            qc_rate: 0.05,
            qc_close_secs: 3600,
            tsa_url: String::new(),
            tsa_ca_file: PathBuf::new(),
            deposit_dir: PathBuf::new(),
            fhir_url: String::new(),
            fhir_token_file: PathBuf::new(),
        }
    }
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
        let token =
            crate::config::read_secret(&self.identity_token_file, "archive.identity_token_file")?;
        Ok(Some(IdentityService {
            kind,
            url: self.identity_url.trim().to_owned(),
            system: self.identity_system.trim().to_owned(),
            token,
        }))
    }
}
