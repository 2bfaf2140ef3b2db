//! `[release]`: badge sessions at the copiers and how Folio talks to them.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[release]` settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ReleaseSettings {
    /// Seconds a badge session stays open without a call from the terminal.
    pub session_idle_secs: u64,
    /// Seconds the `/terminal` page waits untouched before it logs the user out.
    pub terminal_logout_secs: u64,
    /// CA certificates (PEM) trusted for `ipps://` copiers besides the system roots, for
    /// copiers whose certificates the hospital's CA signed. Empty = system roots only.
    pub copier_ca_file: PathBuf,
    /// Seconds Folio waits on a copier during a release: between two writes of the document
    /// and for each answer. A copier that stops reading or answering is given up after it (the
    /// job is held again, or awaits its owner's decision when it may have printed).
    pub copier_timeout_secs: u64,
}

impl Default for ReleaseSettings {
    fn default() -> Self {
        ReleaseSettings {
            session_idle_secs: 120,
            terminal_logout_secs: 60,
            copier_ca_file: PathBuf::new(),
            copier_timeout_secs: 30,
        }
    }
}
