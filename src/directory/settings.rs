//! The `[directory]` and `[ipp]` sections of the configuration: where people come from, how
//! their entries map to Folio's user, how badge numbers are normalised, and how IPP clients
//! prove who they are.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Which directory backs Folio.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DirectoryKind {
    /// An LDIF file read by Folio itself (the default: works with nothing else installed).
    File,
    /// An LDAP server: OpenLDAP, Active Directory, 389-ds…
    Ldap,
}

/// `[directory]`: the hospital directory and how its entries map to users.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DirectorySettings {
    pub kind: DirectoryKind,
    /// The LDIF file of the embedded directory; empty means `DATA_DIR/directory.ldif`.
    pub file: PathBuf,
    /// `ldap://host:389` or `ldaps://host:636`.
    pub url: String,
    /// Upgrade `ldap://` with StartTLS (refused, never downgraded, when the server cannot).
    pub starttls: bool,
    /// PEM file of the CA that signed the LDAP server's certificate; empty = system roots.
    pub ca_file: PathBuf,
    /// Service account used for searches; empty = anonymous searches.
    pub bind_dn: String,
    /// File holding the service account's password (never the password itself).
    pub bind_password_file: PathBuf,
    /// Where users are searched.
    pub base_dn: String,
    /// LDAP filter selecting user entries.
    pub user_filter: String,
    /// Attribute holding the login name: `uid` (OpenLDAP) or `sAMAccountName` (AD).
    pub uid_attribute: String,
    /// Attributes holding card numbers; each may hold several values (several cards).
    pub badge_attributes: Vec<String>,
    /// Attribute on the user listing its groups (`memberOf`); empty = search groups instead.
    pub group_attribute: String,
    /// Where groups are searched when `group_attribute` is empty; empty = `base_dn`.
    pub group_base_dn: String,
    /// Filter selecting group entries when groups are searched.
    pub group_filter: String,
    /// Attribute of a group entry listing member DNs, for group searches.
    pub group_member_attribute: String,
    /// Attribute naming a group (its short name in rules).
    pub group_name_attribute: String,
    pub display_name_attribute: String,
    pub mail_attribute: String,
    pub department_attribute: String,
    pub cost_centre_attribute: String,
    /// Seconds a user seen in the directory is trusted without asking it again.
    pub cache_ttl: u64,
    /// Seconds to open a connection to the directory.
    pub connect_timeout: u64,
    /// Seconds for one directory operation (search or bind).
    pub timeout: u64,
    /// Entries per page in paged searches (below the server's size limit).
    pub page_size: u32,
    /// Seconds the directory is left alone after a failure (answers come from the cache).
    pub retry_after: u64,
    /// Require the user's PIN after every badge, for everyone (users may set a PIN anyway).
    pub badge_requires_pin: bool,
    /// Badge number normalisation.
    pub badge: BadgeSettings,
}

impl Default for DirectorySettings {
    fn default() -> Self {
        DirectorySettings {
            kind: DirectoryKind::File,
            file: PathBuf::new(),
            url: String::new(),
            starttls: false,
            ca_file: PathBuf::new(),
            bind_dn: String::new(),
            bind_password_file: PathBuf::new(),
            base_dn: String::new(),
            user_filter: "(objectClass=inetOrgPerson)".into(),
            uid_attribute: "uid".into(),
            badge_attributes: vec!["employeeNumber".into()],
            group_attribute: "memberOf".into(),
            group_base_dn: String::new(),
            group_filter: "(objectClass=groupOfNames)".into(),
            group_member_attribute: "member".into(),
            group_name_attribute: "cn".into(),
            display_name_attribute: "cn".into(),
            mail_attribute: "mail".into(),
            department_attribute: "departmentNumber".into(),
            cost_centre_attribute: "businessCategory".into(),
            cache_ttl: 3600,
            connect_timeout: 3,
            timeout: 5,
            page_size: 500,
            retry_after: 30,
            // A card number is not a secret (printed, photocopied, read by any reader): with a
            // PIN, a number someone found or guessed opens nobody's session.
            badge_requires_pin: true,
            badge: BadgeSettings::default(),
        }
    }
}

/// How the directory stores card numbers.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BadgeFormat {
    /// Hexadecimal card UID (`04A1B2C3`).
    Hex,
    /// Decimal card number (`77706947`).
    Decimal,
    /// Opaque text, compared as is (after prefix/suffix and case).
    Text,
}

/// `[directory.badge]`: normalisation rules so that one card matches whatever reader read it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct BadgeSettings {
    /// How card numbers are written in the directory.
    pub format: BadgeFormat,
    /// Also accept the other base from readers (decimal read for a hex directory and the
    /// reverse), converting it.
    pub convert_base: bool,
    /// Leading zeros are padding, not part of the number.
    pub strip_leading_zeros: bool,
    /// Characters some readers add before the number (e.g. `;` or `%` of track 2).
    pub reader_prefixes: Vec<String>,
    /// Characters some readers add after the number (e.g. `?`).
    pub reader_suffixes: Vec<String>,
    /// How many leading zeros stored values may carry (searched for in LDAP, where values
    /// cannot be normalised server-side).
    pub max_stored_leading_zeros: usize,
}

impl Default for BadgeSettings {
    fn default() -> Self {
        BadgeSettings {
            format: BadgeFormat::Hex,
            convert_base: true,
            strip_leading_zeros: true,
            reader_prefixes: vec![";".into(), "%".into()],
            reader_suffixes: vec!["?".into()],
            max_stored_leading_zeros: 4,
        }
    }
}

/// How IPP clients prove who they are.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum IppAuthMode {
    /// Trust the `requesting-user-name` the client sends, from trusted networks only.
    #[serde(rename = "requesting-user-name")]
    RequestingUserName,
    /// HTTP Basic on every job operation, checked against the directory.
    #[serde(rename = "basic")]
    Basic,
}

/// `[ipp]`: authentication of the virtual queue.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct IppSettings {
    pub auth: IppAuthMode,
    /// Networks (CIDR) whose `requesting-user-name` is believed.
    pub trusted_networks: Vec<String>,
    /// Seconds a successful password check is remembered (clients send it with every request).
    pub auth_cache_secs: u64,
}

impl Default for IppSettings {
    fn default() -> Self {
        IppSettings {
            auth: IppAuthMode::RequestingUserName,
            // Nobody by default: behind a reverse proxy on the same host, "loopback" would be
            // every client (see limits.trusted_proxies).
            trusted_networks: Vec::new(),
            auth_cache_secs: 300,
        }
    }
}

impl IppSettings {
    /// The trusted networks, parsed; the error names the bad entry.
    pub fn parsed_networks(&self) -> Result<Vec<ipnet::IpNet>, String> {
        crate::config::parse_networks(&self.trusted_networks)
    }
}

/// `[roles]`: which directory groups give which Folio role.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RolesSettings {
    /// Everything: devices, policies, settings.
    pub admin: Vec<String>,
    /// Jobs and devices, release or cancel on someone's behalf; no policy edits.
    pub helpdesk: Vec<String>,
    /// Read-only reports and audit.
    pub auditor: Vec<String>,
    /// QC reviewers of scanned records (medical records staff): they see the sampled pages
    /// and accept or reject them; nothing else.
    pub reviewer: Vec<String>,
}

impl Default for RolesSettings {
    fn default() -> Self {
        RolesSettings {
            admin: vec!["folio-admins".into()],
            helpdesk: vec!["folio-helpdesk".into()],
            auditor: vec!["folio-auditors".into()],
            reviewer: vec!["folio-qc-reviewers".into()],
        }
    }
}

/// A Folio role, from the directory groups of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Helpdesk,
    Auditor,
    Reviewer,
}

impl RolesSettings {
    /// True when one of `groups` (a user's) is an admin group (names compared ignoring case).
    pub fn is_admin(&self, groups: &[String]) -> bool {
        Self::any(&self.admin, groups)
    }

    /// True when one of `groups` is a QC reviewer group.
    pub fn is_reviewer(&self, groups: &[String]) -> bool {
        Self::any(&self.reviewer, groups)
    }

    fn any(role_groups: &[String], groups: &[String]) -> bool {
        groups
            .iter()
            .any(|g| role_groups.iter().any(|a| a.eq_ignore_ascii_case(g)))
    }

    /// The roles `groups` give (a user may have several).
    pub fn roles_of(&self, groups: &[String]) -> Vec<Role> {
        let mut out = Vec::new();
        if Self::any(&self.admin, groups) {
            out.push(Role::Admin);
        }
        if Self::any(&self.helpdesk, groups) {
            out.push(Role::Helpdesk);
        }
        if Self::any(&self.auditor, groups) {
            out.push(Role::Auditor);
        }
        if Self::any(&self.reviewer, groups) {
            out.push(Role::Reviewer);
        }
        out
    }
}
