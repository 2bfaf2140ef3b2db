//! Watched folders: a share the copiers write scans to. A file is taken once it has stopped
//! changing (same size and modification time at two looks, and untouched for
//! `folder_settle_secs`), captured like an upload, then removed from the share (its master is
//! safe, encrypted; the share must not keep patient pages in clear). A file refused for good is
//! moved to `.folio-refused/` with the reason beside it; one refused for now stays and is tried
//! again. Every folder is looked at again every `folder_poll_secs`, so a missed event is never
//! a lost scan.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::{Arrival, CaptureError, CaptureService};
use crate::devices::DeviceRegistry;

/// One watched folder.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchedFolder {
    pub path: PathBuf,
    /// The copier writing there (by name): its badge sessions attribute the scans.
    pub device: String,
}

impl WatchedFolder {
    /// `PATH` or `PATH=DEVICE`.
    pub fn parse(s: &str) -> WatchedFolder {
        let (path, device) = s.rsplit_once('=').unwrap_or((s, ""));
        WatchedFolder {
            path: PathBuf::from(path.trim()),
            device: device.trim().to_owned(),
        }
    }
}

/// What a file looked like at the last look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    size: u64,
    modified: SystemTime,
}

/// Watches the folders until the task is dropped.
pub fn spawn(
    capture: CaptureService,
    devices: DeviceRegistry,
    folders: Vec<WatchedFolder>,
    poll: Duration,
    settle: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut seen: HashMap<PathBuf, Seen> = HashMap::new();
        loop {
            for folder in &folders {
                if let Err(e) = look(&capture, &devices, folder, settle, &mut seen).await {
                    tracing::warn!(folder = %folder.path.display(), error = %e, "cannot look at a watched folder");
                }
            }
            tokio::time::sleep(poll).await;
        }
    })
}

/// Scan files are what copiers write: not hidden, not partial.
fn candidate(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    !name.starts_with('.')
        && ![".part", ".tmp", ".partial", ".crdownload"]
            .iter()
            .any(|s| name.to_ascii_lowercase().ends_with(s))
}

async fn look(
    capture: &CaptureService,
    devices: &DeviceRegistry,
    folder: &WatchedFolder,
    settle: Duration,
    seen: &mut HashMap<PathBuf, Seen>,
) -> std::io::Result<()> {
    let mut entries = tokio::fs::read_dir(&folder.path).await?;
    let now = SystemTime::now();
    let mut present = Vec::new();
    while let Some(entry) = entries.next_entry().await? {
        let path = entry.path();
        let meta = entry.metadata().await?;
        if !meta.is_file() || !candidate(&path) {
            continue;
        }
        present.push(path.clone());
        let current = Seen {
            size: meta.len(),
            modified: meta.modified()?,
        };
        let stable = seen.get(&path) == Some(&current)
            && now.duration_since(current.modified).unwrap_or_default() >= settle;
        seen.insert(path.clone(), current);
        if stable {
            take(capture, devices, folder, &path).await;
            seen.remove(&path);
        }
    }
    seen.retain(|p, _| !p.starts_with(&folder.path) || present.contains(p));
    Ok(())
}

/// Captures one stable file and removes it from the share.
async fn take(
    capture: &CaptureService,
    devices: &DeviceRegistry,
    folder: &WatchedFolder,
    path: &Path,
) {
    let device = match folder.device.trim() {
        "" => None,
        name => devices.get(name).await.ok().flatten(),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let result = async {
        let mut incoming = capture.begin()?;
        let mut file =
            std::fs::File::open(path).map_err(|e| CaptureError::Temporary(e.to_string()))?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = file
                .read(&mut buf)
                .map_err(|e| CaptureError::Temporary(e.to_string()))?;
            if n == 0 {
                break;
            }
            incoming.write(&buf[..n])?;
        }
        let arrival = Arrival {
            channel: "folder",
            device,
            file_name: file_name.clone(),
            ..Arrival::default()
        };
        capture.finish(incoming, arrival).await
    }
    .await;
    match result {
        Ok(receipt) => {
            if let Err(e) = std::fs::remove_file(path) {
                // Captured: a second look would record a duplicate, not lose anything.
                tracing::warn!(scan_id = receipt.id, error = %e, "captured, but the file cannot be removed from the share");
            }
        }
        Err(CaptureError::Temporary(why)) => {
            tracing::warn!(file = %file_name, reason = %why, "watched file left for later");
        }
        Err(CaptureError::Refused(why)) => {
            let refused = folder.path.join(".folio-refused");
            let moved = std::fs::create_dir_all(&refused)
                .and_then(|_| std::fs::rename(path, refused.join(&file_name)))
                .and_then(|_| {
                    std::fs::write(refused.join(format!("{file_name}.reason.txt")), &why)
                });
            tracing::warn!(file = %file_name, reason = %why, moved = moved.is_ok(), "watched file refused");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_and_hidden_files_are_left_alone() {
        assert!(candidate(Path::new("/s/scan-0001.pdf")));
        assert!(!candidate(Path::new("/s/.scan-0001.pdf")));
        assert!(!candidate(Path::new("/s/scan-0001.pdf.part")));
        assert!(!candidate(Path::new("/s/SCAN.TMP")));
        let f = WatchedFolder::parse("/srv/scans=records-copier");
        assert_eq!(
            (f.path, f.device.as_str()),
            (PathBuf::from("/srv/scans"), "records-copier")
        );
    }
}
