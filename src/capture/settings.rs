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
    /// Attempts at a stage failing for a passing reason (database, disk) before quarantine.
    pub max_attempts: i32,
    /// Lowest resolution (dpi) a scan may have: below it, validation quarantines it.
    pub min_dpi: u32,
    /// Folders copiers write scans to: `PATH`, or `PATH=DEVICE` to attribute their scans with
    /// that copier's badge sessions.
    pub folders: Vec<String>,
    /// Seconds between looks at the watched folders.
    pub folder_poll_secs: u64,
    /// Seconds a file must stay unchanged before it is taken.
    pub folder_settle_secs: u64,
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
            folders: Vec::new(),
            folder_poll_secs: 5,
            folder_settle_secs: 2,
        }
    }
}
