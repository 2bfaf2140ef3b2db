//! Who people are: the hospital directory behind a small [`Directory`] trait, with two
//! implementations — [`ldap::LdapDirectory`] (OpenLDAP, Active Directory) and
//! [`file::FileDirectory`] (an LDIF file, the default) — and [`DirectoryService`], which adds
//! what Folio needs on top: badge normalisation, a database cache with a degraded mode when
//! the directory is down, self-registered badges and PINs, and a password-check cache.
//!
//! Nothing here knows about IPP or HTTP; the IPP and web rooms call the service.

pub mod badge;
pub mod demo;
pub mod file;
pub mod filter;
pub mod ldap;
pub mod ldif;
pub mod password;
mod service;
pub mod settings;
pub mod throttle;

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use service::{
    BadgeError, BadgeMatch, DirectoryService, Login, LookupError, PinError, RegisterError,
    Registration, UserLookup, Via,
};
use settings::{DirectoryKind, DirectorySettings};

/// A person as the directory describes them, mapped by the configured attributes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryUser {
    /// Login name, as the directory spells it (the owner of their jobs).
    pub uid: String,
    pub dn: String,
    pub display_name: String,
    pub mail: String,
    pub department: String,
    pub cost_centre: String,
    /// Short group names (the `cn` of each group).
    pub groups: Vec<String>,
    /// Card numbers as stored in the directory (not normalised).
    pub badges: Vec<String>,
}

impl DirectoryUser {
    /// The case-insensitive key of a login name (directories compare uids ignoring case).
    pub fn key_of(uid: &str) -> String {
        uid.trim().to_lowercase()
    }

    pub fn key(&self) -> String {
        DirectoryUser::key_of(&self.uid)
    }
}

/// Why the directory could not answer. Never "no such user": that is `Ok(None)`.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DirectoryError {
    /// Cannot connect, TLS refused, timed out, connection lost.
    #[error("directory unavailable: {0}")]
    Unavailable(String),
    /// The configuration or the server's answer is wrong (bad filter, bind refused).
    #[error("directory misconfigured: {0}")]
    Config(String),
}

/// What `folio directory check` reports.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub kind: &'static str,
    /// Where the directory is (URL or file).
    pub location: String,
    /// What was checked, in order, each with its outcome.
    pub steps: Vec<CheckStep>,
    /// A few users as mapped.
    pub sample: Vec<DirectoryUser>,
}

/// One step of a check.
#[derive(Debug, Clone, Serialize)]
pub struct CheckStep {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

/// The questions Folio asks a directory.
#[async_trait]
pub trait Directory: Send + Sync {
    /// `"ldap"` or `"file"`.
    fn kind(&self) -> &'static str;

    /// The user whose login name is `uid` (any case), with their groups.
    async fn user_by_uid(&self, uid: &str) -> Result<Option<DirectoryUser>, DirectoryError>;

    /// Users holding a card number among `values` (raw values to compare, as the directory
    /// stores them). The caller normalises and filters the answer.
    async fn users_by_badge(&self, values: &[String])
        -> Result<Vec<DirectoryUser>, DirectoryError>;

    /// The short names of the groups of the user with `dn`.
    async fn groups_of(&self, dn: &str) -> Result<Vec<String>, DirectoryError>;

    /// Checks `uid` + `password`; `Ok(None)` for a wrong password or an unknown user.
    async fn authenticate(
        &self,
        uid: &str,
        password: &str,
    ) -> Result<Option<DirectoryUser>, DirectoryError>;

    /// Up to `limit` users, for listings and checks.
    async fn list_users(&self, limit: usize) -> Result<Vec<DirectoryUser>, DirectoryError>;

    /// Connection, bind and mapping checks with a sample of users.
    async fn check(&self) -> CheckReport;
}

/// Opens the configured directory. `file` is the effective LDIF path for `kind = "file"`.
pub fn open(
    settings: &DirectorySettings,
    file: &std::path::Path,
) -> anyhow::Result<Arc<dyn Directory>> {
    Ok(match settings.kind {
        DirectoryKind::File => Arc::new(file::FileDirectory::open(file, settings.clone())?),
        DirectoryKind::Ldap => Arc::new(ldap::LdapDirectory::new(settings.clone())?),
    })
}

/// The short name of a group from its DN (`cn=nurses,ou=groups,…` → `nurses`).
pub fn group_name_of(dn: &str) -> String {
    let first = dn.split(',').next().unwrap_or(dn);
    match first.split_once('=') {
        Some((_, value)) => value.trim().to_owned(),
        None => dn.trim().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names_come_from_the_first_rdn() {
        assert_eq!(group_name_of("cn=nurses,ou=groups,dc=h"), "nurses");
        assert_eq!(
            group_name_of("CN=Print Users,OU=Groups,DC=chu,DC=fr"),
            "Print Users"
        );
        assert_eq!(group_name_of("plain"), "plain");
    }
}
