//! Typed settings for bootstrap: defaults → TOML file → `FOLIO_*` environment → command-line
//! flags. Secrets can also come from files (`FOLIO_DATABASE_URL_FILE`, `master_key_file`).
//!
//! Only what is needed to start lives here; what IT edits day to day lives in the database.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

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
            expiry_interval_secs: 60,
            incoming_timeout_secs: 300,
            printer_name: "Folio".into(),
            printer_location: String::new(),
            log_format: "text".into(),
        }
    }
}

/// Keys Folio knows, used to warn about typos in the config file.
const KNOWN_KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "database_url",
    "database_pool_size",
    "master_key_file",
    "hold_hours",
    "max_job_mb",
    "expiry_interval_secs",
    "incoming_timeout_secs",
    "printer_name",
    "printer_location",
    "log_format",
];

impl Settings {
    /// Loads defaults, then the TOML file if given, then `FOLIO_*` variables from `env`.
    /// Returns the settings and warnings (unknown keys) to log once logging is up.
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<(Settings, Vec<String>), ConfigError> {
        let mut warnings = Vec::new();
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
                for key in table.keys() {
                    if !KNOWN_KEYS.contains(&key.as_str()) {
                        warnings.push(format!(
                            "unknown key `{key}` in {} is ignored",
                            path.display()
                        ));
                    }
                }
                toml::from_str(&text).map_err(|source| ConfigError::Parse {
                    path: path.to_owned(),
                    source,
                })?
            }
            None => Settings::default(),
        };
        settings.apply_env(env)?;
        Ok((settings, warnings))
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
        if !matches!(self.log_format.as_str(), "text" | "json") {
            return Err(ConfigError::Invalid {
                key: "log_format".into(),
                message: "must be `text` or `json`".into(),
            });
        }
        Ok(())
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

    /// Largest accepted document in bytes.
    pub fn max_job_bytes(&self) -> u64 {
        self.max_job_mb.saturating_mul(1024 * 1024)
    }
}

/// The commented example configuration printed by `folio config example`.
pub const EXAMPLE: &str = r#"# Folio configuration (TOML). Every key is optional; the values shown are the defaults.
# Order of precedence: defaults < this file < FOLIO_* environment variables < command-line flags.

# Address of the one listener: IPP (ipp://HOST:PORT/ipp/print), console, REST API, /metrics.
# Env: FOLIO_LISTEN. Flag: --listen.
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
        for key in KNOWN_KEYS {
            assert!(
                EXAMPLE.contains(&format!("\n{key} = ")),
                "{key} is not in the example"
            );
        }
    }

    #[test]
    fn environment_overrides_the_file_and_unknown_keys_warn() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("folio.toml");
        std::fs::write(&path, "hold_hours = 5\nmax_job_mb = 9\nholdhours = 3\n").unwrap();
        let env = |k: &str| (k == "FOLIO_MAX_JOB_MB").then(|| "42".to_string());
        let (s, warnings) = Settings::load(Some(&path), env).unwrap();
        assert_eq!(s.hold_hours, 5);
        assert_eq!(s.max_job_mb, 42);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("holdhours"));
    }

    #[test]
    fn a_bad_number_in_the_environment_is_a_clear_error() {
        let env = |k: &str| (k == "FOLIO_HOLD_HOURS").then(|| "twelve".to_string());
        let err = Settings::load(None, env).unwrap_err().to_string();
        assert!(err.contains("FOLIO_HOLD_HOURS"), "{err}");
    }
}
