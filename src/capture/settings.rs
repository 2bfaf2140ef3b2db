//! `[scan]`: how scans are received and attributed.

use serde::{Deserialize, Serialize};

/// `[scan]` settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ScanSettings {
    /// Seconds after a badge session at a copier ends during which a scan from that copier is
    /// still attributed to its user (copiers send the scan after the user left).
    pub attribution_window_secs: u64,
    /// Largest accepted scan, in MB.
    pub max_scan_mb: u64,
    /// Below this many free MB on the data directory's filesystem, scans are refused with a
    /// temporary error (the copier keeps them and retries).
    pub min_free_mb: u64,
    /// Captures worked on at once by this node's pipeline.
    pub workers: usize,
    /// Attempts at a stage before quarantine: failures for a passing reason (database, disk),
    /// and starts during which the process stopped.
    pub max_attempts: i32,
    /// Lowest resolution (dpi) a scan may have: below it, validation quarantines it.
    pub min_dpi: u32,
    /// Copiers (by name; `*` for all) whose scans must be in colour (wound care, coloured
    /// forms): a gray or black & white scan from them is quarantined to be scanned again.
    pub colour_required: Vec<String>,
    /// Folders copiers write scans to: `PATH`, or `PATH=DEVICE` to attribute their scans with
    /// that copier's badge sessions.
    pub folders: Vec<String>,
    /// Seconds between looks at the watched folders.
    pub folder_poll_secs: u64,
    /// Seconds a file must stay unchanged before it is taken.
    pub folder_settle_secs: u64,
    /// Address of the embedded FTP(S) server for scan-to-FTP (`0.0.0.0:2121`); empty: off.
    pub ftp_listen: String,
    /// Ports offered for passive data connections (`LOW-HIGH`; open them in the firewall).
    pub ftp_passive_ports: String,
    /// Refuse FTP without TLS (`AUTH TLS`, then `PROT P`). Needs the `[tls]` certificate.
    pub ftp_require_tls: bool,
    /// Seconds an idle FTP session is kept.
    pub ftp_idle_secs: u64,
}

impl ScanSettings {
    /// Whether `device`'s scans must be in colour.
    pub fn wants_colour(&self, device: &str) -> bool {
        self.colour_required.iter().any(|d| {
            d.trim() == "*" || (!device.is_empty() && d.trim().eq_ignore_ascii_case(device))
        })
    }

    /// `ftp_passive_ports` as a range.
    pub fn passive_range(&self) -> anyhow::Result<(u16, u16)> {
        let bad = || {
            anyhow::anyhow!(
                "scan.ftp_passive_ports: `{}` is not LOW-HIGH (for example 50000-50199)",
                self.ftp_passive_ports
            )
        };
        let (low, high) = self.ftp_passive_ports.split_once('-').ok_or_else(bad)?;
        let low: u16 = low.trim().parse().map_err(|_| bad())?;
        let high: u16 = high.trim().parse().map_err(|_| bad())?;
        if low == 0 || low > high {
            return Err(bad());
        }
        Ok((low, high))
    }
}

impl Default for ScanSettings {
    fn default() -> Self {
        ScanSettings {
            attribution_window_secs: 120,
            max_scan_mb: 500,
            min_free_mb: 512,
            workers: 2,
            max_attempts: 5,
            min_dpi: 150,
            colour_required: Vec::new(),
            folders: Vec::new(),
            folder_poll_secs: 5,
            folder_settle_secs: 2,
            ftp_listen: String::new(),
            ftp_passive_ports: "50000-50199".into(),
            ftp_require_tls: true,
            ftp_idle_secs: 300,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passive_ports_are_a_range() {
        let mut s = ScanSettings::default();
        assert_eq!(s.passive_range().unwrap(), (50000, 50199));
        for bad in ["50000", "0-10", "20-10", "a-b"] {
            s.ftp_passive_ports = bad.into();
            assert!(s.passive_range().is_err(), "{bad}");
        }
    }
}
