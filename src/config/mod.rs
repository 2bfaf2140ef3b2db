//! Typed settings for bootstrap: defaults → TOML file → `FOLIO_*` environment → command-line
//! flags. Secrets can also come from files (`FOLIO_DATABASE_URL_FILE`, `master_key_file`).
//!
//! Only what is needed to start lives here; what IT edits day to day lives in the database.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use crate::archive::settings::ArchiveSettings;
pub use crate::capture::ScanSettings;
pub use crate::devices::DevicesSettings;
pub use crate::directory::settings::{
    BadgeFormat, BadgeSettings, DirectoryKind, DirectorySettings, IppAuthMode, IppSettings,
    RolesSettings,
};
pub use crate::release::settings::ReleaseSettings;
pub use crate::sandbox::SandboxSettings;
pub use operations::{
    parse_networks, read_secret, AuditSettings, LimitsSettings, MonitoringSettings, TlsSettings,
};

mod operations;
pub mod unknown;
pub use crate::reports::ReportsSettings;

/// Errors while loading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("invalid value for {key}: {message}")]
    Invalid { key: String, message: String },
    #[error("{what} is not a Folio setting{hint}")]
    Unknown { what: String, hint: String },
}

/// Every bootstrap setting of Folio.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Settings {
    /// Address of the one listener (IPP, console, API, metrics).
    pub listen: String,
    /// Data directory: SQLite database, spool, master key.
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://…`; empty means `DATA_DIR/folio.db`.
    pub database_url: String,
    /// Database connections in the pool.
    pub database_pool_size: u32,
    /// File holding the 32-byte master key (hex); empty means `DATA_DIR/master.key`,
    /// generated on first start.
    pub master_key_file: PathBuf,
    /// Hours an unreleased job waits before it expires and is purged.
    pub hold_hours: u64,
    /// Largest accepted document, in MB (after decompression).
    pub max_job_mb: u64,
    /// Free MB kept on the data directory's filesystem: below it new jobs are refused with
    /// server-error-busy (clients keep and retry them), so that held jobs still release and
    /// the database and audit trail keep room. 0 = no reserve.
    pub spool_reserve_mb: u64,
    /// How often the expiry task looks for expired jobs, in seconds.
    pub expiry_interval_secs: u64,
    /// Seconds a job made by Create-Job may wait for its document before it is aborted
    /// (IPP "multiple-operation-time-out").
    pub incoming_timeout_secs: u64,
    /// Name of the virtual queue shown to clients.
    pub printer_name: String,
    /// Location shown to clients.
    pub printer_location: String,
    /// Log format: `text` or `json`.
    pub log_format: String,
    /// Directory of site driver profiles (`*.toml`) added to the shipped ones; empty = none.
    pub drivers_dir: PathBuf,
    /// How IPP clients prove who they are.
    pub ipp: IppSettings,
    /// The hospital directory.
    pub directory: DirectorySettings,
    /// Directory groups giving Folio roles.
    pub roles: RolesSettings,
    /// This node's name, unique among the nodes sharing a database; empty = the host name.
    pub node_name: String,
    /// Badge sessions at the copiers.
    pub release: ReleaseSettings,
    /// Report estimates.
    pub reports: ReportsSettings,
    /// HTTPS and IPPS.
    pub tls: TlsSettings,
    /// What one client may hold.
    pub limits: LimitsSettings,
    /// Copies of the audit trail.
    pub audit: AuditSettings,
    /// Metrics, readiness, device checks.
    pub monitoring: MonitoringSettings,
    /// Scans from copiers.
    pub scan: ScanSettings,
    /// Checking and filing scanned documents.
    pub archive: ArchiveSettings,
    /// How untrusted documents are read (sandboxed worker processes).
    pub sandbox: SandboxSettings,
    /// Where copiers may be.
    pub devices: DevicesSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: "0.0.0.0:8631".into(),
            data_dir: PathBuf::from("folio-data"),
            database_url: String::new(),
            database_pool_size: 8,
            master_key_file: PathBuf::new(),
            hold_hours: 12,
            max_job_mb: 200,
            spool_reserve_mb: 128,
            expiry_interval_secs: 60,
            incoming_timeout_secs: 300,
            printer_name: "Folio".into(),
            printer_location: String::new(),
            log_format: "text".into(),
            drivers_dir: PathBuf::new(),
            ipp: IppSettings::default(),
            directory: DirectorySettings::default(),
            roles: RolesSettings::default(),
            node_name: String::new(),
            release: ReleaseSettings::default(),
            reports: ReportsSettings::default(),
            tls: TlsSettings::default(),
            limits: LimitsSettings::default(),
            audit: AuditSettings::default(),
            monitoring: MonitoringSettings::default(),
            scan: ScanSettings::default(),
            archive: ArchiveSettings::default(),
            sandbox: SandboxSettings::default(),
            devices: DevicesSettings::default(),
        }
    }
}

impl Settings {
    /// Loads defaults, then the TOML file if given, then the process's `FOLIO_*` variables,
    /// refusing a variable that names no setting (see [`unknown`]).
    pub fn load_from_process(file: Option<&Path>) -> Result<Settings, ConfigError> {
        let names: Vec<String> = std::env::vars_os()
            .filter_map(|(name, _)| name.into_string().ok())
            .collect();
        unknown::check_variables(names.iter().map(String::as_str))?;
        Settings::load(file, |k| std::env::var(k).ok())
    }

    /// Loads defaults, then the TOML file if given, then `FOLIO_*` variables from `env`;
    /// a top-level key of the file that is no setting is refused.
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigError> {
        let mut settings = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                let table: toml::Table =
                    toml::from_str(&text).map_err(|source| ConfigError::Parse {
                        path: path.to_owned(),
                        source,
                    })?;
                unknown::check_file_keys(&table, path)?;
                toml::from_str(&text).map_err(|source| ConfigError::Parse {
                    path: path.to_owned(),
                    source,
                })?
            }
            None => Settings::default(),
        };
        settings.apply_env(env)?;
        Ok(settings)
    }

    fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        fn number<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, ConfigError> {
            value.trim().parse().map_err(|_| ConfigError::Invalid {
                key: key.into(),
                message: format!("`{value}` is not a number"),
            })
        }
        if let Some(v) = env("FOLIO_LISTEN") {
            self.listen = v;
        }
        if let Some(v) = env("FOLIO_DATA_DIR") {
            self.data_dir = v.into();
        }
        if let Some(v) = env("FOLIO_DATABASE_URL") {
            self.database_url = v;
        }
        if let Some(path) = env("FOLIO_DATABASE_URL_FILE") {
            self.database_url = std::fs::read_to_string(&path)
                .map_err(|e| ConfigError::Invalid {
                    key: "FOLIO_DATABASE_URL_FILE".into(),
                    message: format!("cannot read {path}: {e}"),
                })?
                .trim()
                .to_owned();
        }
        if let Some(v) = env("FOLIO_DATABASE_POOL_SIZE") {
            self.database_pool_size = number("FOLIO_DATABASE_POOL_SIZE", &v)?;
        }
        if let Some(v) = env("FOLIO_MASTER_KEY_FILE") {
            self.master_key_file = v.into();
        }
        if let Some(v) = env("FOLIO_HOLD_HOURS") {
            self.hold_hours = number("FOLIO_HOLD_HOURS", &v)?;
        }
        if let Some(v) = env("FOLIO_MAX_JOB_MB") {
            self.max_job_mb = number("FOLIO_MAX_JOB_MB", &v)?;
        }
        if let Some(v) = env("FOLIO_SPOOL_RESERVE_MB") {
            self.spool_reserve_mb = number("FOLIO_SPOOL_RESERVE_MB", &v)?;
        }
        if let Some(v) = env("FOLIO_EXPIRY_INTERVAL_SECS") {
            self.expiry_interval_secs = number("FOLIO_EXPIRY_INTERVAL_SECS", &v)?;
        }
        if let Some(v) = env("FOLIO_INCOMING_TIMEOUT_SECS") {
            self.incoming_timeout_secs = number("FOLIO_INCOMING_TIMEOUT_SECS", &v)?;
        }
        if let Some(v) = env("FOLIO_PRINTER_NAME") {
            self.printer_name = v;
        }
        if let Some(v) = env("FOLIO_PRINTER_LOCATION") {
            self.printer_location = v;
        }
        if let Some(v) = env("FOLIO_LOG_FORMAT") {
            self.log_format = v;
        }
        if let Some(v) = env("FOLIO_DRIVERS_DIR") {
            self.drivers_dir = v.into();
        }
        if let Some(v) = env("FOLIO_NODE_NAME") {
            self.node_name = v;
        }
        self.ipp = section_from_env(&self.ipp, "FOLIO_IPP__", &env)?;
        self.directory = section_from_env(&self.directory, "FOLIO_DIRECTORY__", &env)?;
        self.roles = section_from_env(&self.roles, "FOLIO_ROLES__", &env)?;
        self.release = section_from_env(&self.release, "FOLIO_RELEASE__", &env)?;
        self.reports = section_from_env(&self.reports, "FOLIO_REPORTS__", &env)?;
        self.tls = section_from_env(&self.tls, "FOLIO_TLS__", &env)?;
        self.limits = section_from_env(&self.limits, "FOLIO_LIMITS__", &env)?;
        self.audit = section_from_env(&self.audit, "FOLIO_AUDIT__", &env)?;
        self.monitoring = section_from_env(&self.monitoring, "FOLIO_MONITORING__", &env)?;
        self.scan = section_from_env(&self.scan, "FOLIO_SCAN__", &env)?;
        self.archive = section_from_env(&self.archive, "FOLIO_ARCHIVE__", &env)?;
        self.sandbox = section_from_env(&self.sandbox, "FOLIO_SANDBOX__", &env)?;
        self.devices = section_from_env(&self.devices, "FOLIO_DEVICES__", &env)?;
        Ok(())
    }

    /// Checks values that would fail later in a confusing way.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_job_mb == 0 {
            return Err(ConfigError::Invalid {
                key: "max_job_mb".into(),
                message: "must be at least 1".into(),
            });
        }
        if self.database_pool_size == 0 {
            return Err(ConfigError::Invalid {
                key: "database_pool_size".into(),
                message: "must be at least 1".into(),
            });
        }
        self.ipp
            .parsed_networks()
            .map_err(|message| ConfigError::Invalid {
                key: "ipp.trusted_networks".into(),
                message,
            })?;
        if self.directory.kind == DirectoryKind::Ldap && self.directory.url.is_empty() {
            return Err(ConfigError::Invalid {
                key: "directory.url".into(),
                message: "is required when directory.kind = \"ldap\"".into(),
            });
        }
        if self.directory.badge_attributes.is_empty() {
            return Err(ConfigError::Invalid {
                key: "directory.badge_attributes".into(),
                message: "needs at least one attribute".into(),
            });
        }
        if self.release.terminal_logout_secs > self.release.session_idle_secs {
            return Err(ConfigError::Invalid {
                key: "release.terminal_logout_secs".into(),
                message: format!(
                    "must not exceed release.session_idle_secs ({}): the session would end \
                     before the page logs out",
                    self.release.session_idle_secs
                ),
            });
        }
        let tls_files = [&self.tls.certificate_file, &self.tls.key_file]
            .iter()
            .filter(|f| !f.as_os_str().is_empty())
            .count();
        if (!self.tls.listen.is_empty() || tls_files > 0) && tls_files < 2 {
            return Err(ConfigError::Invalid {
                key: "tls".into(),
                message: "needs both tls.certificate_file and tls.key_file".into(),
            });
        }
        if self.listen.trim().is_empty() && self.tls.listen.trim().is_empty() {
            return Err(ConfigError::Invalid {
                key: "listen".into(),
                message: "is empty and so is tls.listen: Folio would not listen at all".into(),
            });
        }
        self.limits
            .parsed_exempt()
            .map_err(|message| ConfigError::Invalid {
                key: "limits.exempt_networks".into(),
                message,
            })?;
        self.devices
            .egress()
            .map_err(|message| ConfigError::Invalid {
                key: "devices".into(),
                message,
            })?;
        self.limits
            .parsed_proxies()
            .map_err(|message| ConfigError::Invalid {
                key: "limits.trusted_proxies".into(),
                message,
            })?;
        if crate::audit::syslog::Facility::parse(&self.audit.syslog_facility).is_none() {
            return Err(ConfigError::Invalid {
                key: "audit.syslog_facility".into(),
                message: format!(
                    "`{}` is not auth, authpriv, daemon or local0 … local7",
                    self.audit.syslog_facility
                ),
            });
        }
        if !self.audit.syslog.is_empty() {
            crate::audit::syslog::Target::parse(&self.audit.syslog).map_err(|message| {
                ConfigError::Invalid {
                    key: "audit.syslog".into(),
                    message,
                }
            })?;
        }
        if !matches!(self.log_format.as_str(), "text" | "json") {
            return Err(ConfigError::Invalid {
                key: "log_format".into(),
                message: "must be `text` or `json`".into(),
            });
        }
        Ok(())
    }

    /// This node's name: `node_name`, or the host name.
    pub fn effective_node_name(&self) -> String {
        if !self.node_name.trim().is_empty() {
            return self.node_name.trim().to_owned();
        }
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "folio".into())
    }

    /// The database URL to use: the configured one, or the SQLite file in the data directory.
    pub fn effective_database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!("sqlite://{}", self.data_dir.join("folio.db").display())
        } else {
            self.database_url.clone()
        }
    }

    /// The master key file to use.
    pub fn effective_master_key_file(&self) -> PathBuf {
        if self.master_key_file.as_os_str().is_empty() {
            self.data_dir.join("master.key")
        } else {
            self.master_key_file.clone()
        }
    }

    /// The LDIF file of the embedded directory.
    pub fn effective_directory_file(&self) -> PathBuf {
        if self.directory.file.as_os_str().is_empty() {
            self.data_dir.join("directory.ldif")
        } else {
            self.directory.file.clone()
        }
    }

    /// Largest accepted document in bytes.
    pub fn max_job_bytes(&self) -> u64 {
        self.max_job_mb.saturating_mul(1024 * 1024)
    }
}

/// Overrides the keys of a config section from `PREFIXKEY` environment variables (nested tables
/// with `PREFIXTABLE__KEY`). Values take the type of the key: numbers, `true`/`false`, and
/// comma-separated lists.
fn section_from_env<T>(
    section: &T,
    prefix: &str,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<T, ConfigError>
where
    T: Serialize + serde::de::DeserializeOwned,
{
    fn apply(
        table: &mut toml::Table,
        prefix: &str,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        for (key, value) in table.iter_mut() {
            let var = format!("{prefix}{}", key.to_ascii_uppercase());
            if let toml::Value::Table(inner) = value {
                apply(inner, &format!("{var}__"), env)?;
                continue;
            }
            let Some(raw) = env(&var) else { continue };
            let invalid = |message: String| ConfigError::Invalid {
                key: var.clone(),
                message,
            };
            *value = match value {
                toml::Value::Integer(_) => toml::Value::Integer(
                    raw.trim()
                        .parse()
                        .map_err(|_| invalid(format!("`{raw}` is not a number")))?,
                ),
                toml::Value::Float(_) => toml::Value::Float(
                    raw.trim()
                        .parse()
                        .map_err(|_| invalid(format!("`{raw}` is not a number")))?,
                ),
                toml::Value::Boolean(_) => toml::Value::Boolean(
                    raw.trim()
                        .parse()
                        .map_err(|_| invalid(format!("`{raw}` is not true or false")))?,
                ),
                toml::Value::Array(_) => toml::Value::Array(
                    raw.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| toml::Value::String(s.to_owned()))
                        .collect(),
                ),
                _ => toml::Value::String(raw),
            };
        }
        Ok(())
    }
    let invalid = |message: String| ConfigError::Invalid {
        key: prefix.trim_end_matches('_').to_owned(),
        message,
    };
    let mut table = toml::Table::try_from(section).map_err(|e| invalid(e.to_string()))?;
    apply(&mut table, prefix, env)?;
    toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| invalid(e.message().to_owned()))
}

/// The commented example configuration printed by `folio config example`.
pub const EXAMPLE: &str = r#"# Folio configuration (TOML). Every key is optional; the values shown are the defaults.
# Order of precedence: defaults < this file < FOLIO_* environment variables < command-line flags.

# Address of the listener: IPP (ipp://HOST:PORT/ipp/print), console, REST API, /metrics; TLS
# (HTTPS, IPPS) when [tls] has a certificate. Env: FOLIO_LISTEN. Flag: --listen.
listen = "0.0.0.0:8631"

# Data directory: SQLite database, encrypted spool, master key.
# Env: FOLIO_DATA_DIR. Flag: --data-dir.
data_dir = "folio-data"

# Database: empty = SQLite in the data directory; "postgres://user@host/db" for PostgreSQL.
# Keep passwords out of this file: use FOLIO_DATABASE_URL_FILE=/run/secrets/folio-db-url.
# Env: FOLIO_DATABASE_URL. Flag: --database-url.
database_url = ""

# Connections in the database pool. Env: FOLIO_DATABASE_POOL_SIZE.
database_pool_size = 8

# File holding the 32-byte master key (64 hex characters) that wraps every document key.
# Empty = DATA_DIR/master.key, generated with mode 0600 on first start. Losing it loses every
# spooled document. Env: FOLIO_MASTER_KEY_FILE.
master_key_file = ""

# Hours an unreleased job is kept before it expires and its document is destroyed.
# Env: FOLIO_HOLD_HOURS.
hold_hours = 12

# Largest accepted document in MB (after decompression). Env: FOLIO_MAX_JOB_MB.
max_job_mb = 200

# Free MB kept on the data directory's filesystem. Below it new jobs are refused at once with
# server-error-busy (print clients keep the job and retry), so that held jobs still release and
# the database and audit trail keep room. 0 = no reserve. Env: FOLIO_SPOOL_RESERVE_MB.
spool_reserve_mb = 128

# How often expired jobs are looked for, in seconds. Env: FOLIO_EXPIRY_INTERVAL_SECS.
expiry_interval_secs = 60

# Seconds a job created with Create-Job may wait for its document before it is aborted
# (advertised to clients as multiple-operation-time-out). Env: FOLIO_INCOMING_TIMEOUT_SECS.
incoming_timeout_secs = 300

# Name and location of the virtual queue as clients see it.
# Env: FOLIO_PRINTER_NAME, FOLIO_PRINTER_LOCATION.
printer_name = "Folio"
printer_location = ""

# Log format: "text" or "json". Env: FOLIO_LOG_FORMAT. Filter with RUST_LOG (e.g. "folio=debug").
log_format = "text"

# Directory of site copier profiles (*.toml, same format as drivers/ in the sources), added to
# the shipped ones; a file with a shipped name replaces it. Empty = shipped profiles only.
# Env: FOLIO_DRIVERS_DIR.
drivers_dir = ""

# This node's name, unique among the nodes sharing one PostgreSQL database. A node that stopped
# while sending jobs to copiers marks them "may or may not have printed" at its next start;
# only its own. Empty = the host name. Env: FOLIO_NODE_NAME.
node_name = ""

[ipp]
# How print clients prove who they are. The job owner is always the directory's uid; a user
# the directory does not know is refused (client-error-not-authorized).
#   "requesting-user-name": believe the name the client sends, but only from trusted_networks
#                           (print servers, terminal servers, workstations IT manages).
#   "basic": HTTP Basic on every job operation, checked against the directory (an LDAP bind or
#            the file directory's hashes); clients get 401 and prompt (CUPS, macOS, Windows).
# Basic credentials are accepted in both modes. Env: FOLIO_IPP__AUTH.
auth = "requesting-user-name"
# Networks (CIDR) whose requesting-user-name is believed: none by default. Add the print
# servers and terminal servers IT manages, e.g. "10.20.0.0/16"; never a reverse proxy's
# address (set limits.trusted_proxies instead: then the client's own address is checked).
# Env: FOLIO_IPP__TRUSTED_NETWORKS (comma-separated).
trusted_networks = []
# Seconds a successful password check is remembered in memory (clients send the password with
# every request; this spares the directory). Env: FOLIO_IPP__AUTH_CACHE_SECS.
auth_cache_secs = 300

[directory]
# Where staff come from: "file" (an LDIF file Folio reads itself, the default) or "ldap"
# (OpenLDAP, Active Directory…). The same entries and attribute names work in both, so moving
# from the file to LDAP is a copy. Env: FOLIO_DIRECTORY__KIND (and FOLIO_DIRECTORY__<KEY> for
# every key below, FOLIO_DIRECTORY__BADGE__<KEY> for the badge rules).
kind = "file"
# kind = "file": the LDIF file; empty = DATA_DIR/directory.ldif. Passwords are userPassword
# values hashed as {ARGON2} or {SSHA}. `folio serve --demo` writes a demo one.
file = ""
# kind = "ldap": "ldaps://dc1.chu.example:636" or "ldap://ldap.chu.example:389".
url = ""
# Upgrade ldap:// with StartTLS. Folio never falls back to plaintext when TLS fails.
starttls = false
# PEM file of the CA of the directory's certificate; empty = the system's trusted roots.
ca_file = ""
# Service account for searches (empty = anonymous), and the file holding its password.
bind_dn = ""
bind_password_file = ""
# Where users are searched, and the filter selecting them.
# AD: user_filter = "(&(objectCategory=person)(objectClass=user)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))"
base_dn = ""
user_filter = "(objectClass=inetOrgPerson)"
# Login name: "uid" (OpenLDAP) or "sAMAccountName" (AD).
uid_attribute = "uid"
# Attributes holding card numbers; several attributes and several values (cards) per person.
# AD sites often use "employeeID" or a custom attribute.
badge_attributes = ["employeeNumber"]
# Attribute of the user listing its groups ("memberOf", with OpenLDAP's memberof overlay or
# AD). Empty = search groups whose group_member_attribute holds the user's DN instead.
group_attribute = "memberOf"
group_base_dn = ""
group_filter = "(objectClass=groupOfNames)"
group_member_attribute = "member"
group_name_attribute = "cn"
# What Folio shows and uses in rules and reports.
display_name_attribute = "cn"
mail_attribute = "mail"
department_attribute = "departmentNumber"
cost_centre_attribute = "businessCategory"
# Seconds a user seen in the directory is used without asking it again. Users seen are kept in
# the database: when the directory is down, known users and badges still resolve (degraded).
cache_ttl = 3600
# Seconds to connect, and for one search or bind. A slow directory never holds print intake
# longer than this, and after a failure it is left alone for retry_after seconds (answers come
# from the cache meanwhile, marked degraded).
connect_timeout = 3
timeout = 5
retry_after = 30
# Entries per page of paged searches (keep it below the server's size limit).
page_size = 500
# Ask everyone's PIN after the badge at the copier (a card number alone is not a secret: it is
# printed on the card and any reader reads it). Someone without a PIN yet signs in with their
# password at the copier and sets one in My printing. Users may set a PIN even when false.
# Env: FOLIO_DIRECTORY__BADGE_REQUIRES_PIN.
badge_requires_pin = true

[directory.badge]
# How card numbers are written in the directory: "hex" (card UID), "decimal" or "text".
format = "hex"
# Readers that send the other base (decimal for a hex directory, or the reverse) match too.
convert_base = true
# Leading zeros are padding: 0004A1B2C3 and 4A1B2C3 are the same card.
strip_leading_zeros = true
# Characters readers add around the number (magnetic track sentinels, wedge prefixes).
reader_prefixes = [";", "%"]
reader_suffixes = ["?"]
# How many leading zeros stored values may carry (LDAP cannot strip them server-side).
max_stored_leading_zeros = 4

[roles]
# Directory groups (short names, the cn) giving Folio roles. admin: everything (devices,
# policies); helpdesk: jobs and devices, release or cancel on someone's behalf; auditor:
# read-only reports and audit. Env: FOLIO_ROLES__ADMIN etc. (comma-separated).
admin = ["folio-admins"]
helpdesk = ["folio-helpdesk"]
auditor = ["folio-auditors"]
# QC reviewers of scanned records (medical records staff): they see sampled pages and accept or
# reject them, and see no IT page.
reviewer = ["folio-qc-reviewers"]

[release]
# Seconds a badge session stays open without a call from the copier's terminal.
session_idle_secs = 120
# Seconds the /terminal page waits untouched before it logs the user out (a shared copier:
# the next person must not see the previous one's jobs).
terminal_logout_secs = 60
# CA certificates (PEM) trusted for ipps:// copiers besides the system roots. A copier with a
# self-signed certificate is pinned instead: folio device add --pin-certificate.
copier_ca_file = ""
# Seconds Folio waits on a copier during a release (between two writes of the document, and
# for each answer). A copier that stops reading or answering is given up after it: the job is
# held again, or awaits its owner's decision when it may have printed.
copier_timeout_secs = 30

[reports]
# The constants behind "trees and CO2 saved" in the reports (sheets not printed thanks to
# two-sided printing and to expiry). Estimates vary: set your own.
sheets_per_tree = 8333.0
grams_co2_per_sheet = 4.6

[tls]
# With a certificate (PEM, the server's first, then intermediates) and its key (PEM), the
# listener above speaks HTTPS (console, API, terminal) and IPPS (ipps://HOST:PORT/ipp/print)
# instead of plain HTTP and IPP. Set listen here to keep the plain listener and add a TLS one.
# Env: FOLIO_TLS__LISTEN, FOLIO_TLS__CERTIFICATE_FILE, FOLIO_TLS__KEY_FILE.
listen = ""
certificate_file = ""
key_file = ""

[limits]
# Seconds a new connection has, from its opening, to send the headers of its first request
# (slow clients); then 408 and the connection is closed. Env: FOLIO_LIMITS__HEADER_TIMEOUT_SECS.
header_timeout_secs = 20
# Open connections one address may hold (0 = no cap); beyond, requests get 503 and the
# connection is closed. Env: FOLIO_LIMITS__CONNECTIONS_PER_ADDRESS.
connections_per_address = 128
# Networks without the cap: print servers and reverse proxies that carry many users.
exempt_networks = []
# Seconds a request body (a print job, a scan upload) may take to arrive in full, whatever its
# pace (a client trickling bytes is cut off); a declared length above the limit is refused at
# once. Env: FOLIO_LIMITS__BODY_TIMEOUT_SECS.
body_timeout_secs = 600
# Reverse proxies (CIDR) in front of Folio, e.g. ["127.0.0.1/32"] for nginx on the same host:
# their X-Forwarded-For gives the client's address (trusted networks, sign-in limits, the
# audit). Nobody else's X-Forwarded-For is believed. Env: FOLIO_LIMITS__TRUSTED_PROXIES.
trusted_proxies = []

[audit]
# Copy every audit event to a syslog collector (SIEM), RFC 5424: "udp://siem.chu.example:514"
# or "tcp://siem.chu.example:601" (octet-counted frames). Empty = no copy. Events are sent at
# least once, in order; the structured data carries each event's sequence number and hash.
syslog = ""
# auth, authpriv, daemon, local0 … local7.
syslog_facility = "authpriv"

[monitoring]
# File holding a bearer token that /metrics then requires (Prometheus: authorization.
# credentials_file). Empty = /metrics is open: restrict it at the network.
metrics_token_file = ""
# /readyz reports "not ready" below this many free MB on the spool's filesystem.
spool_min_free_mb = 1024
# Seconds between status checks of every device, for the folio_device_up metric (0 = never).
device_poll_secs = 60

[scan]
# Scans from copiers (POST /api/v1/scans with the device's token), attributed to the person
# badged in at that copier. Seconds after the badge session ends during which a scan from the
# copier is still theirs. Env: FOLIO_SCAN__<KEY> for every key.
attribution_window_secs = 120
# Largest scan accepted, in MB.
max_scan_mb = 500
# Below this many free MB in the data directory, scans are refused with a temporary error
# (HTTP 503): the copier keeps them and sends them again.
min_free_mb = 512
# Captures this node works on at once, and attempts at a stage before the item is quarantined:
# failures for a passing reason (database, disk), and starts during which Folio stopped (so an
# item that stops Folio at every start is set aside).
workers = 2
max_attempts = 5
# Scans below this resolution (dpi) are quarantined at validation.
min_dpi = 150
# Copiers (by name, "*" for all) whose scans must be in colour (wound care, coloured forms): a
# gray or black & white scan from them is quarantined at validation to be scanned again.
colour_required = []
# Watched folders (shares the copiers write to), "PATH" or "PATH=DEVICE" (that copier's badge
# sessions attribute the scans): files are taken once unchanged for folder_settle_secs,
# captured, then removed from the share; refused ones go to .folio-refused/ with the reason.
# Example: folders = ["/srv/scans/records=records-copier"]. Env: FOLIO_SCAN__FOLDERS (comma-separated).
folders = []
folder_poll_secs = 5
folder_settle_secs = 2
# Scan to FTP(S): "0.0.0.0:2121" runs an FTP server whose only storage is the capture (226 once
# the scan is safe). Logins: a copier's name + its device token, or a person's own login.
ftp_listen = ""
# Passive data ports (open them in the firewall).
ftp_passive_ports = "50000-50199"
# Explicit FTPS (AUTH TLS) with the [tls] certificate, required; false accepts plain FTP.
ftp_require_tls = true
ftp_idle_secs = 300

[archive]
# The patient identity service asked before a document is filed: "fhir" (GET
# {identity_url}/Patient?identifier={identity_system}|{id}) or "json" (GET {identity_url}/{id}
# answering {"id", "active", "deceased", "merged_into"}). Empty = none: every document waits in
# quarantine for identity vigilance. Env: FOLIO_ARCHIVE__<KEY> for every key.
identity_kind = ""
identity_url = ""
identity_system = ""
# A file holding a bearer token for the identity service.
identity_token_file = ""
# The classification plan: a TOML file of [[category]] tables (code, label, retention). Empty =
# the 26 categories of a French hospital medical record (folio scan categories lists them).
plan_file = ""
# QC: the share of each lot (one copier, one day) drawn for review, 0 to 1 (0 = no QC), and
# the seconds without a new document after which a lot is closed and its sample drawn. A lot's
# documents are sealed only after every sampled one was accepted.
qc_rate = 0.05
qc_close_secs = 3600
# The RFC 3161 time-stamping authority every document is sealed with, and the PEM CA file its
# certificate chains to (checked by folio archive verify). Without a TSA, documents wait.
tsa_url = ""
tsa_ca_file = ""
# Where sealed documents go: a directory (PDF + JSON manifest per document, written
# atomically; the archive system's share) and/or a FHIR R4 server (a transaction with a
# DocumentReference and its Binary, client-assigned ids, so a repeat changes nothing).
deposit_dir = ""
fhir_url = ""
fhir_token_file = ""

[sandbox]
# Every document a client or a copier sends is read (pages, colour, images, cover sheets) in a
# worker process confined by memory, processor time and a system-call filter (no network, no
# files): a hostile document fails alone and the server goes on. Env: FOLIO_SANDBOX__<KEY>.
# Workers for print jobs (0 = one per processor, at least 2) and for scans (0 = half the
# processors, at least 1): a flood of scans never delays printing.
print_workers = 0
scan_workers = 0
# Memory one worker may use, in MB: a document needing more is refused (print) or quarantined
# (scan).
memory_mb = 1024
# Processor seconds one print job's analysis, and one scan step, may take.
print_cpu_secs = 20
scan_cpu_secs = 300
# Jobs a worker runs before it is replaced.
jobs_per_worker = 500
# Filter workers' system calls (seccomp). Turn off only on a kernel without seccomp.
syscall_filter = true

[devices]
# Where copiers may be: Folio connects only to these networks and ports, for printing, status,
# capabilities and certificates (a device elsewhere is refused when it is added or changed, and
# every connection is checked again, so a document never leaves for a host IT did not list).
# Loopback and link-local addresses are refused even inside a broad network unless listed
# themselves. Env: FOLIO_DEVICES__ALLOWED_NETWORKS, FOLIO_DEVICES__ALLOWED_PORTS.
allowed_networks = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]
# IPP (631, or 80/443/8443 on some copiers), LPD (515), raw printing (9100-9102).
allowed_ports = ["80", "443", "515", "631", "8443", "9100-9102"]
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_config_parses_to_the_defaults() {
        let parsed: Settings = toml::from_str(EXAMPLE).unwrap();
        assert_eq!(parsed, Settings::default());
    }

    #[test]
    fn the_example_config_documents_every_known_key() {
        for key in unknown::known_keys() {
            assert!(
                EXAMPLE.contains(&format!("\n{key} = ")) || EXAMPLE.contains(&format!("\n[{key}]")),
                "{key} is not in the example"
            );
        }
        let sections = [
            toml::Table::try_from(IppSettings::default()).unwrap(),
            toml::Table::try_from(DirectorySettings::default()).unwrap(),
            toml::Table::try_from(BadgeSettings::default()).unwrap(),
            toml::Table::try_from(RolesSettings::default()).unwrap(),
            toml::Table::try_from(ReleaseSettings::default()).unwrap(),
            toml::Table::try_from(ReportsSettings::default()).unwrap(),
            toml::Table::try_from(TlsSettings::default()).unwrap(),
            toml::Table::try_from(LimitsSettings::default()).unwrap(),
            toml::Table::try_from(AuditSettings::default()).unwrap(),
            toml::Table::try_from(MonitoringSettings::default()).unwrap(),
            toml::Table::try_from(ScanSettings::default()).unwrap(),
            toml::Table::try_from(ArchiveSettings::default()).unwrap(),
            toml::Table::try_from(SandboxSettings::default()).unwrap(),
            toml::Table::try_from(DevicesSettings::default()).unwrap(),
        ];
        for section in sections {
            for key in section.keys().filter(|k| *k != "badge") {
                assert!(
                    EXAMPLE.contains(&format!("\n{key} = ")),
                    "{key} is not in the example"
                );
            }
        }
    }

    #[test]
    fn environment_overrides_the_file_and_unknown_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("folio.toml");
        std::fs::write(&path, "hold_hours = 5\nmax_job_mb = 9\n").unwrap();
        let env = |k: &str| (k == "FOLIO_MAX_JOB_MB").then(|| "42".to_string());
        let s = Settings::load(Some(&path), env).unwrap();
        assert_eq!(s.hold_hours, 5);
        assert_eq!(s.max_job_mb, 42);
        std::fs::write(&path, "hold_hours = 5\nholdhours = 3\n").unwrap();
        let err = Settings::load(Some(&path), env).unwrap_err().to_string();
        assert!(err.contains("`holdhours`"), "{err}");
        assert!(err.contains("did you mean `hold_hours`"), "{err}");
    }

    #[test]
    fn sections_take_typed_values_from_the_environment() {
        let env = |k: &str| match k {
            "FOLIO_DIRECTORY__KIND" => Some("ldap".to_string()),
            "FOLIO_DIRECTORY__URL" => Some("ldap://127.0.0.1:1389".to_string()),
            "FOLIO_DIRECTORY__CACHE_TTL" => Some("60".to_string()),
            "FOLIO_DIRECTORY__BADGE_ATTRIBUTES" => Some("employeeID, employeeNumber".to_string()),
            "FOLIO_DIRECTORY__BADGE__STRIP_LEADING_ZEROS" => Some("false".to_string()),
            "FOLIO_IPP__AUTH" => Some("basic".to_string()),
            _ => None,
        };
        let s = Settings::load(None, env).unwrap();
        s.validate().unwrap();
        assert_eq!(s.directory.kind, DirectoryKind::Ldap);
        assert_eq!(s.directory.cache_ttl, 60);
        assert_eq!(
            s.directory.badge_attributes,
            ["employeeID", "employeeNumber"]
        );
        assert!(!s.directory.badge.strip_leading_zeros);
        assert_eq!(s.ipp.auth, IppAuthMode::Basic);
    }

    #[test]
    fn unknown_section_keys_and_bad_networks_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("folio.toml");
        std::fs::write(&path, "[directory]\nbadge_atribute = \"x\"\n").unwrap();
        let err = Settings::load(Some(&path), |_| None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("badge_atribute"), "{err}");
        std::fs::write(&path, "[ipp]\ntrusted_networks = [\"10.0.0.0/33\"]\n").unwrap();
        let s = Settings::load(Some(&path), |_| None).unwrap();
        let err = s.validate().unwrap_err().to_string();
        assert!(err.contains("10.0.0.0/33"), "{err}");
    }

    #[test]
    fn a_bad_number_in_the_environment_is_a_clear_error() {
        let env = |k: &str| (k == "FOLIO_HOLD_HOURS").then(|| "twelve".to_string());
        let err = Settings::load(None, env).unwrap_err().to_string();
        assert!(err.contains("FOLIO_HOLD_HOURS"), "{err}");
    }
}
