//! Scans coming back from copiers: every channel (HTTP upload, FTP(S), watched folders)
//! ends in the same durable step ([`CaptureService::begin`], then [`CaptureService::finish`]): the master encrypted,
//! fsynced and recorded with the SHA-256 of the bytes as received, who scanned it, and its
//! first pipeline stage, before the channel says yes. A repeat of bytes already received is
//! recorded and set aside for an operator, never silently dropped nor archived twice.

pub mod attribution;
pub mod folder;
pub mod ftp;
pub mod settings;
pub mod store;

use std::path::PathBuf;

use crate::audit::{self, Event, Outcome};
use crate::db::models::scan_captures::{self as rows, NewCapture};
use crate::db::{self, Db, DbError};
use crate::devices::Device;
use crate::directory::DirectoryService;
use crate::spool::Spool;

pub use attribution::{Attribution, Method, Strength};
pub use settings::ScanSettings;
use store::{MasterWriter, StoreError, StoredMaster};

/// Context of the sealed file name and sidecar in the database.
pub const FILE_NAME: &str = "scan-file-name";
pub const SIDECAR: &str = "scan-sidecar";

/// Why a scan was not taken.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// Passing: the copier should keep the scan and send it again later.
    #[error("Folio cannot take scans right now: {0}")]
    Temporary(String),
    /// The scan itself is refused (empty, too large, unreadable metadata).
    #[error("{0}")]
    Refused(String),
}

impl From<DbError> for CaptureError {
    fn from(e: DbError) -> Self {
        CaptureError::Temporary(e.to_string())
    }
}

/// What a channel knows about a scan besides its bytes.
#[derive(Debug, Clone, Default)]
pub struct Arrival {
    /// `http`, `ftp` or `folder`.
    pub channel: &'static str,
    pub device: Option<Device>,
    pub file_name: String,
    /// A personal FTP login (strong attribution).
    pub login: Option<String>,
    /// Metadata sent with the scan (JSON object); its `user` names the scanner.
    pub sidecar: Option<serde_json::Value>,
}

/// A capture taken.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Receipt {
    pub id: i64,
    pub uuid: String,
    pub sha256: String,
    pub size_bytes: u64,
    pub duplicate_of: Option<i64>,
    pub stage: String,
    pub user: Option<String>,
    pub attribution: &'static str,
    pub strength: &'static str,
    pub quarantine_reason: Option<String>,
}

/// Receives scans (cheap to clone).
#[derive(Clone)]
pub struct CaptureService {
    db: Db,
    spool: Spool,
    directory: DirectoryService,
    dir: PathBuf,
    settings: ScanSettings,
}

/// A master being received; see [`CaptureService::begin`].
pub struct Incoming {
    writer: MasterWriter,
}

impl Incoming {
    pub fn write(&mut self, data: &[u8]) -> Result<(), CaptureError> {
        self.writer.write(data).map_err(refused_or_temporary)
    }
}

fn refused_or_temporary(e: StoreError) -> CaptureError {
    match e {
        StoreError::TooLarge { .. } | StoreError::Empty => CaptureError::Refused(e.to_string()),
        StoreError::Io(_) | StoreError::Crypto(_) => CaptureError::Temporary(e.to_string()),
    }
}

impl CaptureService {
    pub fn new(
        db: Db,
        spool: Spool,
        directory: DirectoryService,
        data_dir: &std::path::Path,
        settings: ScanSettings,
    ) -> std::io::Result<CaptureService> {
        let dir = data_dir.join("captures");
        std::fs::create_dir_all(&dir)?;
        Ok(CaptureService {
            db,
            spool,
            directory,
            dir,
            settings,
        })
    }

    /// Where masters live.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    pub fn settings(&self) -> &ScanSettings {
        &self.settings
    }

    pub fn spool(&self) -> &Spool {
        &self.spool
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Starts receiving a master, or refuses at once (temporarily) when the disk is low.
    pub fn begin(&self) -> Result<Incoming, CaptureError> {
        let min = self.settings.min_free_mb.saturating_mul(1_048_576);
        match crate::spool::store::free_bytes(&self.dir) {
            Ok(free) if free < min => {
                return Err(CaptureError::Temporary(format!(
                    "only {} MB free on the scan store",
                    free / 1_048_576
                )))
            }
            Ok(_) => {}
            Err(e) => return Err(CaptureError::Temporary(e.to_string())),
        }
        let max = self.settings.max_scan_mb.saturating_mul(1_048_576);
        let writer = MasterWriter::create(&self.dir, self.spool.master(), max)
            .map_err(refused_or_temporary)?;
        Ok(Incoming { writer })
    }

    /// Ends receiving: fsyncs the master, attributes it, records it with its first stage and
    /// the audit events. When this returns `Ok`, the scan is safe: acknowledge it.
    pub async fn finish(
        &self,
        incoming: Incoming,
        arrival: Arrival,
    ) -> Result<Receipt, CaptureError> {
        let stored = tokio::task::spawn_blocking(move || incoming.writer.finish())
            .await
            .map_err(|_| CaptureError::Temporary("the write was interrupted".into()))?
            .map_err(refused_or_temporary)?;
        let received_at = db::now_ms();
        let attribution = self.attribute(&arrival, received_at).await?;
        let attributes = self.snapshot(attribution.uid.as_deref()).await;
        let result = self
            .record(&stored, &arrival, received_at, &attribution, attributes)
            .await;
        if result.is_err() {
            // Not recorded: not acknowledged, so the master goes too.
            let _ = std::fs::remove_file(self.dir.join(&stored.file_name));
        }
        result
    }

    async fn attribute(
        &self,
        arrival: &Arrival,
        received_at: i64,
    ) -> Result<Attribution, CaptureError> {
        let window = (self.settings.attribution_window_secs as i64).saturating_mul(1000);
        let sessions = match &arrival.device {
            Some(d) => {
                let device_id = d.id;
                self.db
                    .run(move |conn| {
                        Ok::<_, DbError>(rows::sessions_around(
                            conn,
                            device_id,
                            received_at - window,
                            received_at,
                        )?)
                    })
                    .await?
            }
            None => Vec::new(),
        };
        let declared = arrival
            .sidecar
            .as_ref()
            .and_then(|s| s.get("user"))
            .and_then(|u| u.as_str())
            .map(str::trim)
            .filter(|u| !u.is_empty());
        let mut decided = attribution::decide(
            arrival.login.as_deref(),
            &sessions,
            received_at,
            window,
            declared,
        );
        // A name the directory does not know is no attribution.
        if let Some(uid) = decided.uid.clone() {
            match self.directory.user(&uid).await {
                Ok(Some(found)) => decided.uid = Some(found.user.uid),
                Ok(None) => {
                    decided = Attribution {
                        uid: None,
                        method: Method::None,
                        strength: Strength::None,
                        unresolved: Some(format!(
                            "to attribute: {uid} ({}) is not in the directory",
                            decided.method.as_str()
                        )),
                    }
                }
                // The directory is down: keep the name, its facts come later.
                Err(e) => {
                    tracing::warn!(error = %e, "directory unavailable during scan attribution")
                }
            }
        }
        Ok(decided)
    }

    /// The directory's facts about the scanner at capture time.
    async fn snapshot(&self, uid: Option<&str>) -> serde_json::Value {
        let Some(uid) = uid else {
            return serde_json::json!({});
        };
        match self.directory.user(uid).await {
            Ok(Some(found)) => facts(&found),
            _ => serde_json::json!({ "unavailable": true }),
        }
    }

    async fn record(
        &self,
        stored: &StoredMaster,
        arrival: &Arrival,
        received_at: i64,
        attribution: &Attribution,
        attributes: serde_json::Value,
    ) -> Result<Receipt, CaptureError> {
        let master = self.spool.master();
        let file_name = master
            .seal_text(&arrival.file_name, FILE_NAME)
            .map_err(|e| CaptureError::Temporary(e.to_string()))?;
        let sidecar = match &arrival.sidecar {
            Some(s) => Some(
                master
                    .seal_text(&s.to_string(), SIDECAR)
                    .map_err(|e| CaptureError::Temporary(e.to_string()))?,
            ),
            None => None,
        };
        let uuid = uuid::Uuid::new_v4().to_string();
        let row = NewCapture {
            uuid: uuid.clone(),
            channel: arrival.channel.to_owned(),
            device_id: arrival.device.as_ref().map(|d| d.id),
            device_name: arrival
                .device
                .as_ref()
                .map(|d| d.name.clone())
                .unwrap_or_default(),
            received_at,
            file_name,
            master_file: stored.file_name.clone(),
            wrapped_key: stored.wrapped_key.clone(),
            size_bytes: stored.size_bytes as i64,
            sha256: stored.sha256.clone(),
            duplicate_of: None,
            sidecar,
            uid: attribution.uid.clone(),
            attribution_method: attribution.method.as_str().to_owned(),
            attribution_strength: attribution.strength.as_str().to_owned(),
            attributes: attributes.to_string(),
            stage: crate::archive::Stage::FIRST.as_str().to_owned(),
            attempts: 0,
            next_attempt_at: received_at,
            quarantine_reason: None,
            quarantine_stage: None,
            updated_at: received_at,
        };
        let unresolved = attribution.unresolved.clone();
        let (method, strength) = (attribution.method, attribution.strength);
        let actor = attribution
            .uid
            .clone()
            .unwrap_or_else(|| format!("device:{}", row.device_name));
        let detail = serde_json::json!({
            "channel": row.channel,
            "sha256": row.sha256,
            "size": row.size_bytes,
            "attribution": row.attribution_method,
            "strength": row.attribution_strength,
        });
        let receipt = self
            .db
            .run(move |conn| {
                db::write_tx(conn, |conn| {
                    let mut row = row;
                    row.duplicate_of = rows::first_with_hash(conn, &row.sha256)?;
                    let reason = match (row.duplicate_of, &unresolved) {
                        (Some(first), _) => Some(format!(
                            "duplicate: the same bytes as scan {first}; reject it or process it again"
                        )),
                        (None, Some(why)) => Some(why.clone()),
                        (None, None) => None,
                    };
                    if let Some(reason) = &reason {
                        row.quarantine_stage = Some(row.stage.clone());
                        row.stage = crate::archive::Stage::Quarantined.as_str().to_owned();
                        row.quarantine_reason = Some(reason.clone());
                    }
                    let id = rows::insert(conn, &row)?;
                    let object = format!("scan:{id}");
                    let device = Some(row.device_name.as_str()).filter(|d| !d.is_empty());
                    audit::append(
                        conn,
                        Event {
                            actor: &actor,
                            action: "scan.captured",
                            object: &object,
                            device,
                            outcome: Outcome::Success,
                            detail: detail.to_string(),
                        },
                    )?;
                    if let Some(first) = row.duplicate_of {
                        audit::append(
                            conn,
                            Event {
                                actor: &actor,
                                action: "scan.duplicate",
                                object: &object,
                                device,
                                outcome: Outcome::Failure,
                                detail: serde_json::json!({ "first": first }).to_string(),
                            },
                        )?;
                    } else if let Some(reason) = &reason {
                        audit::append(
                            conn,
                            Event {
                                actor: &actor,
                                action: "scan.quarantined",
                                object: &object,
                                device,
                                outcome: Outcome::Failure,
                                detail: serde_json::json!({ "stage": "capture", "reason": reason })
                                    .to_string(),
                            },
                        )?;
                    }
                    Ok::<_, diesel::result::Error>(Receipt {
                        id,
                        uuid: row.uuid.clone(),
                        sha256: row.sha256.clone(),
                        size_bytes: row.size_bytes as u64,
                        duplicate_of: row.duplicate_of,
                        stage: row.stage.clone(),
                        user: row.uid.clone(),
                        attribution: method.as_str(),
                        strength: strength.as_str(),
                        quarantine_reason: reason,
                    })
                })
                .map_err(DbError::from)
            })
            .await?;
        crate::metrics::METRICS
            .scan_captures
            .with_label_values(&[arrival.channel, receipt_kind(&receipt)])
            .inc();
        tracing::info!(
            scan_id = receipt.id,
            user = receipt.user.as_deref().unwrap_or("-"),
            stage = %receipt.stage,
            "scan captured"
        );
        Ok(receipt)
    }
}

/// What a capture keeps of the person who scanned it: the directory's facts at that time.
pub fn facts(found: &crate::directory::UserLookup) -> serde_json::Value {
    serde_json::json!({
        "display_name": found.user.display_name,
        "department": found.user.department,
        "groups": found.user.groups,
        "from_cache": found.degraded,
    })
}

fn receipt_kind(r: &Receipt) -> &'static str {
    match (r.duplicate_of, &r.quarantine_reason) {
        (Some(_), _) => "duplicate",
        (None, Some(_)) => "to-attribute",
        (None, None) => "accepted",
    }
}
