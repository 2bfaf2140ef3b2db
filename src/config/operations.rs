//! The settings IT uses to run Folio safely: `[tls]`, `[limits]`, `[audit]` and
//! `[monitoring]`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[tls]`: HTTPS and IPPS, on the main listener or on a second one.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct TlsSettings {
    /// Address of a TLS listener beside the plain one; empty = with a certificate, the main
    /// listener speaks TLS.
    pub listen: String,
    /// PEM file with the server certificate, then its intermediates.
    pub certificate_file: PathBuf,
    /// PEM file with the private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
}

/// `[limits]`: what one client may hold.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsSettings {
    /// Seconds a new connection has, from its opening, to send its first request's headers.
    pub header_timeout_secs: u64,
    /// Open connections one address may hold; 0 = no cap.
    pub connections_per_address: usize,
    /// Networks (CIDR) without the cap: print servers, reverse proxies.
    pub exempt_networks: Vec<String>,
    /// Seconds a request body (a print job, a scan) may take to arrive in full, whatever its
    /// pace; then the request is refused and nothing is kept.
    pub body_timeout_secs: u64,
    /// Reverse proxies (CIDR) in front of Folio: their `X-Forwarded-For` gives the client's
    /// address (for trusted networks, sign-in limits, the audit). Nobody else's is believed.
    pub trusted_proxies: Vec<String>,
}

impl Default for LimitsSettings {
    fn default() -> Self {
        LimitsSettings {
            header_timeout_secs: 20,
            connections_per_address: 128,
            exempt_networks: Vec::new(),
            body_timeout_secs: 600,
            trusted_proxies: Vec::new(),
        }
    }
}

impl LimitsSettings {
    /// The exempt networks, parsed.
    pub fn parsed_exempt(&self) -> Result<Vec<ipnet::IpNet>, String> {
        parse_networks(&self.exempt_networks)
    }

    /// The trusted proxies, parsed.
    pub fn parsed_proxies(&self) -> Result<Vec<ipnet::IpNet>, String> {
        parse_networks(&self.trusted_proxies)
    }
}

/// Networks in CIDR notation (or single addresses); the error names the bad entry.
pub fn parse_networks(list: &[String]) -> Result<Vec<ipnet::IpNet>, String> {
    list.iter()
        .map(|n| {
            let n = n.trim();
            n.parse::<ipnet::IpNet>()
                .or_else(|_| n.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| format!("`{n}` is not a network (CIDR) or an address"))
        })
        .collect()
}

/// `[audit]`: where the audit trail is copied.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AuditSettings {
    /// `udp://HOST:PORT` or `tcp://HOST:PORT` of a syslog collector (RFC 5424; octet-counted
    /// frames over TCP); empty = no forwarding.
    pub syslog: String,
    /// Syslog facility: `auth`, `authpriv`, `daemon`, `local0` … `local7`.
    pub syslog_facility: String,
}

impl Default for AuditSettings {
    fn default() -> Self {
        AuditSettings {
            syslog: String::new(),
            syslog_facility: "authpriv".into(),
        }
    }
}

/// `[monitoring]`: metrics, readiness and device checks.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MonitoringSettings {
    /// File holding the bearer token `/metrics` requires; empty = open (restrict the network).
    pub metrics_token_file: PathBuf,
    /// Below this many free MB on the spool's filesystem, `/readyz` says not ready.
    pub spool_min_free_mb: u64,
    /// Seconds between status checks of every device (`folio_device_up`); 0 = never.
    pub device_poll_secs: u64,
}

impl Default for MonitoringSettings {
    fn default() -> Self {
        MonitoringSettings {
            metrics_token_file: PathBuf::new(),
            spool_min_free_mb: 1024,
            device_poll_secs: 60,
        }
    }
}

/// The first line of the secret file `path` (setting `key`), or `None` for an empty path. An
/// unreadable or empty file is an error naming the setting and the file, never its content.
pub fn read_secret(path: &std::path::Path, key: &str) -> anyhow::Result<Option<String>> {
    if path.as_os_str().is_empty() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("{key} {}: {e}", path.display()))?;
    let secret = text.lines().next().unwrap_or("").trim().to_owned();
    if secret.is_empty() {
        anyhow::bail!("{key} {} is empty", path.display());
    }
    Ok(Some(secret))
}
