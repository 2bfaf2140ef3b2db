//! The workers of the archive pipeline: take a due capture or document with a lease, run its
//! stage, commit where it goes next with its audit event. A worker that dies leaves its lease
//! to run out; the item is then taken again and its stage run again (every stage can run twice
//! safely: it writes nothing outside the transaction that moves the item on).

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::CertificateDer;

use super::identity::IdentityService;
use super::plan::Plan;
use super::settings::ArchiveSettings;
use super::split;
use super::untrusted::Failure;
use super::{validate, Stage};
use crate::audit::{self, Event, Outcome};
use crate::capture::{store, CaptureService};
use crate::db::models::pipeline::Move;
use crate::db::models::scan_captures::{self as captures, CaptureRow};
use crate::db::models::scan_documents::{self as documents, DocumentRow, NewDocument, SealRow};
use crate::db::{self, DbError};
use crate::metrics::METRICS;

/// How long a worker holds an item before another may take it.
const LEASE: Duration = Duration::from_secs(300);
/// How long an idle worker waits before looking again.
const IDLE: Duration = Duration::from_millis(500);
/// Contexts of the sealed patient fields.
pub const PATIENT: &str = "scan-patient";
pub const ENCOUNTER: &str = "scan-encounter";
pub const IDENTITY: &str = "scan-identity";

impl From<Failure> for Verdict {
    fn from(f: Failure) -> Verdict {
        match f {
            Failure::Scan(why) => Verdict::Quarantine(why),
            Failure::Passing(why) => Verdict::Retry(why),
        }
    }
}

/// What running a stage decided.
#[derive(Debug)]
pub(super) enum Verdict {
    /// Go on to the next stage, with details for the audit event and what to write with it.
    Next(serde_json::Value, Effect),
    /// Something is wrong with the scan: an operator decides.
    Quarantine(String),
    /// Something passing went wrong (disk, database, a service): try again later.
    Retry(String),
    /// Not yet (a QC lot under review): look again after this long, nothing recorded.
    Wait(Duration),
}

/// What a stage writes in the transaction that moves the item on.
#[derive(Debug)]
pub(super) enum Effect {
    None,
    Measured(String, i32),
    Split(Vec<NewDocument>),
    Identity(String),
    Category(String, String, String),
    Seal(SealRow),
    Delivered(i64),
}

/// One item of work.
enum Item {
    Capture(CaptureRow),
    Document(DocumentRow),
}

impl Item {
    fn stage(&self) -> &str {
        match self {
            Item::Capture(c) => &c.stage,
            Item::Document(d) => &d.stage,
        }
    }
    fn attempts(&self) -> i32 {
        match self {
            Item::Capture(c) => c.attempts,
            Item::Document(d) => d.attempts,
        }
    }
    fn updated_at(&self) -> i64 {
        match self {
            Item::Capture(c) => c.updated_at,
            Item::Document(d) => d.updated_at,
        }
    }

    /// Moves the item to `to` if it is still at `from`.
    fn set_stage(&self, conn: &mut db::Conn, from: &str, to: &Move) -> diesel::QueryResult<bool> {
        match self {
            Item::Capture(c) => captures::set_stage(conn, c.id, from, to),
            Item::Document(d) => documents::set_stage(conn, d.id, from, to),
        }
    }

    fn object(&self) -> String {
        match self {
            Item::Capture(c) => format!("scan:{}", c.id),
            Item::Document(d) => format!("scan-document:{}", d.id),
        }
    }
}

/// The pipeline of this node.
#[derive(Clone)]
pub struct Pipeline {
    pub(super) capture: CaptureService,
    pub(super) node: String,
    pub(super) identity: Option<Arc<IdentityService>>,
    pub(super) plan: Arc<Plan>,
    pub(super) settings: Arc<ArchiveSettings>,
    /// The CA certificates a time stamp must chain to (empty: not checked at sealing).
    pub(super) tsa_anchors: Arc<Vec<CertificateDer<'static>>>,
    pub(super) fhir_token: Option<Arc<str>>,
    /// Reads masters in sandboxed workers (the scan lane).
    pub(super) readers: super::untrusted::Readers,
}

impl Pipeline {
    /// The pipeline with `[archive]` settings; a bad setting or file is an error at start.
    pub fn new(
        capture: CaptureService,
        node: String,
        settings: &ArchiveSettings,
        sandbox: crate::sandbox::Sandbox,
    ) -> anyhow::Result<Pipeline> {
        let tsa_anchors = super::tsa::anchors(&settings.tsa_ca_file, "archive.tsa_ca_file")?;
        Ok(Pipeline {
            capture,
            node,
            identity: settings.identity()?.map(Arc::new),
            plan: Arc::new(Plan::load(&settings.plan_file)?),
            settings: Arc::new(settings.clone()),
            tsa_anchors: Arc::new(tsa_anchors),
            fhir_token: crate::config::read_secret(
                &settings.fhir_token_file,
                "archive.fhir_token_file",
            )?
            .map(Arc::from),
            readers: super::untrusted::Readers(sandbox),
        })
    }

    /// The sandboxed readers of masters.
    pub fn readers(&self) -> &super::untrusted::Readers {
        &self.readers
    }

    /// The classification plan in use.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Where sealed renditions are kept (encrypted).
    pub(super) fn renditions_dir(&self) -> std::path::PathBuf {
        self.capture.dir().join("renditions")
    }

    /// Takes back the work this node held when it stopped (its leases), so that it runs again
    /// now: every stage is safe to run twice.
    pub async fn recover(&self) -> Result<usize, DbError> {
        let node = self.node.clone();
        self.capture
            .db()
            .run(move |conn| {
                Ok::<_, DbError>(
                    captures::release_leases(conn, &node)?
                        + documents::release_leases(conn, &node)?,
                )
            })
            .await
    }

    /// Starts the workers; they run until the returned tasks are aborted.
    pub fn spawn(self) -> Vec<tokio::task::JoinHandle<()>> {
        (0..self.capture.settings().workers.max(1))
            .map(|_| {
                let me = self.clone();
                tokio::spawn(async move {
                    loop {
                        match me.step().await {
                            Ok(true) => {}
                            Ok(false) => tokio::time::sleep(IDLE).await,
                            Err(e) => {
                                tracing::warn!(error = %e, "archive pipeline: cannot take work");
                                tokio::time::sleep(IDLE * 4).await;
                            }
                        }
                    }
                })
            })
            .collect()
    }

    /// Runs one due stage, if any; true when it did.
    pub async fn step(&self) -> Result<bool, DbError> {
        let node = self.node.clone();
        let claimed =
            self.capture
                .db()
                .run(move |conn| {
                    let now = db::now_ms();
                    let until = now + LEASE.as_millis() as i64;
                    let capture_stages = [Stage::Validate.as_str(), Stage::Split.as_str()];
                    if let Some(c) = captures::claim(conn, &capture_stages, &node, now, until)? {
                        return Ok::<_, DbError>(Some(Item::Capture(c)));
                    }
                    let document_stages = [
                        Stage::Identify.as_str(),
                        Stage::Classify.as_str(),
                        Stage::Qc.as_str(),
                        Stage::Seal.as_str(),
                        Stage::Deliver.as_str(),
                    ];
                    Ok(documents::claim(conn, &document_stages, &node, now, until)?
                        .map(Item::Document))
                })
                .await?;
        let Some(item) = claimed else {
            return Ok(false);
        };
        let Some(stage) = Stage::parse(item.stage()) else {
            return Ok(false);
        };
        let started = std::time::Instant::now();
        let max_attempts = self.capture.settings().max_attempts;
        let verdict = match (&item, stage) {
            // Counted when taken: more starts than attempts allowed means runs that never ended
            // (the process stopped in the stage). Running it again could stop Folio again.
            _ if item.attempts() > max_attempts => Verdict::Quarantine(format!(
                "the {} stage was started {} times without finishing (Folio stopped while it \
                 ran): set aside so that it cannot stop Folio again",
                stage.as_str(),
                item.attempts() - 1
            )),
            (Item::Capture(c), Stage::Validate) => self.validate(c).await,
            (Item::Capture(c), Stage::Split) => self.split(c).await,
            (Item::Document(d), Stage::Identify) => self.identify(d).await,
            (Item::Document(d), Stage::Classify) => self.classify(d),
            (Item::Document(d), Stage::Qc) => self.qc(d).await,
            (Item::Document(d), Stage::Seal) => self.seal(d).await,
            (Item::Document(d), Stage::Deliver) => self.deliver(d).await,
            (_, other) => Verdict::Retry(format!("the {} stage does not run yet", other.as_str())),
        };
        METRICS
            .scan_stage_duration
            .with_label_values(&[stage.as_str()])
            .observe(started.elapsed().as_secs_f64());
        self.conclude(stage, item, verdict).await?;
        Ok(true)
    }

    /// The master's bytes, checked against the hash recorded at capture.
    pub async fn master(&self, row: &CaptureRow) -> Result<Vec<u8>, String> {
        let capture = self.capture.clone();
        let (file, key, sha) = (
            row.master_file.clone(),
            row.wrapped_key.clone(),
            row.sha256.clone(),
        );
        tokio::task::spawn_blocking(move || {
            store::read_checked(capture.dir(), capture.spool().master(), &file, &key, &sha)
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|_| "reading the master was interrupted".to_owned())?
    }

    async fn validate(&self, row: &CaptureRow) -> Verdict {
        let bytes = match self.master(row).await {
            Ok(b) => b,
            Err(e) => return Verdict::Retry(e),
        };
        let min_dpi = self.capture.settings().min_dpi;
        let colour = self.capture.settings().wants_colour(&row.device_name);
        let readers = self.readers.clone();
        let measured = tokio::task::spawn_blocking(move || {
            let m = readers.measure(&bytes)?;
            validate::check(&m, min_dpi, colour).map_err(Failure::Scan)?;
            Ok::<_, Failure>(m)
        })
        .await;
        match measured {
            Ok(Ok(m)) => Verdict::Next(
                serde_json::json!({ "format": m.format, "pages": m.pages, "dpi": m.dpi, "colour": m.colour }),
                Effect::Measured(m.format.to_owned(), m.pages as i32),
            ),
            Ok(Err(failure)) => failure.into(),
            Err(_) => Verdict::Retry("validation was interrupted".into()),
        }
    }

    async fn split(&self, row: &CaptureRow) -> Verdict {
        let bytes = match self.master(row).await {
            Ok(b) => b,
            Err(e) => return Verdict::Retry(e),
        };
        let format = row.format.clone().unwrap_or_default();
        let readers = self.readers.clone();
        let cut = tokio::task::spawn_blocking(move || {
            let kinds = readers.kinds(&bytes, &format)?;
            Ok::<_, Failure>(split::cut(&kinds))
        })
        .await;
        let (parts, notes) = match cut {
            Ok(Ok(x)) => x,
            Ok(Err(failure)) => return failure.into(),
            Err(_) => return Verdict::Retry("the split was interrupted".into()),
        };
        if parts.is_empty() {
            return Verdict::Quarantine(format!("no page to file ({})", notes.join("; ")));
        }
        let master = self.capture.spool().master();
        let now = db::now_ms();
        let mut docs = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            let (sheet, reason) = match &part.cover {
                Ok(s) => (Some(s), None),
                Err(why) => (None, Some(why.clone())),
            };
            let seal = |value: &str, context: &str| master.seal_text(value, context).ok();
            docs.push(NewDocument {
                uuid: uuid::Uuid::new_v4().to_string(),
                capture_id: row.id,
                part: i as i32,
                pages: serde_json::to_string(&part.pages).unwrap_or_else(|_| "[]".into()),
                cover_page: part.cover_page.map(|p| p as i32),
                patient: sheet.and_then(|s| seal(&s.patient, PATIENT)),
                encounter: sheet
                    .filter(|s| !s.encounter.is_empty())
                    .and_then(|s| seal(&s.encounter, ENCOUNTER)),
                category: sheet
                    .filter(|s| !s.category.is_empty())
                    .map(|s| s.category.clone()),
                stage: if reason.is_some() {
                    Stage::Quarantined
                } else {
                    Stage::Identify
                }
                .as_str()
                .to_owned(),
                attempts: 0,
                next_attempt_at: now,
                quarantine_stage: reason.as_ref().map(|_| Stage::Split.as_str().to_owned()),
                quarantine_reason: reason,
                created_at: now,
                updated_at: now,
            });
        }
        Verdict::Next(
            serde_json::json!({ "documents": docs.len(), "notes": notes }),
            Effect::Split(docs),
        )
    }

    /// Commits where the item goes, with its audit event, and gives the lease back.
    async fn conclude(&self, stage: Stage, item: Item, verdict: Verdict) -> Result<(), DbError> {
        let max_attempts = self.capture.settings().max_attempts;
        let now = db::now_ms();
        let attempts = item.attempts();
        let (to, attempts, next_at, reason, action, outcome, detail, effect) = match verdict {
            Verdict::Next(detail, effect) => (
                stage.next(),
                0,
                now,
                None,
                "scan.stage",
                Outcome::Success,
                serde_json::json!({ "from": stage.as_str(), "to": stage.next().as_str(), "result": detail }),
                effect,
            ),
            // `attempts` already counts this run (see `take`).
            Verdict::Retry(error) if attempts < max_attempts => {
                // 2 s, 4 s, 8 s … up to 10 minutes.
                let backoff = 2_000i64
                    .saturating_mul(1 << (attempts - 1).clamp(0, 9))
                    .min(600_000);
                tracing::warn!(object = %item.object(), stage = stage.as_str(), error = %error, "scan stage failed; trying again");
                (
                    stage,
                    attempts,
                    now + backoff,
                    None,
                    "scan.retry",
                    Outcome::Failure,
                    serde_json::json!({ "stage": stage.as_str(), "error": error, "attempt": attempts }),
                    Effect::None,
                )
            }
            Verdict::Wait(after) => return self.wait(item, after).await,
            Verdict::Retry(reason) | Verdict::Quarantine(reason) => (
                Stage::Quarantined,
                attempts,
                now,
                Some(reason.clone()),
                "scan.quarantined",
                Outcome::Failure,
                serde_json::json!({ "stage": stage.as_str(), "reason": reason }),
                Effect::None,
            ),
        };
        let quarantine_stage = reason.as_ref().map(|_| stage.as_str().to_owned());
        let object = item.object();
        let logged = object.clone();
        let (device, actor) = match &item {
            Item::Capture(c) => (c.device_name.clone(), c.uid.clone()),
            Item::Document(_) => (String::new(), None),
        };
        let from = item.stage().to_owned();
        let moved = self
            .capture
            .db()
            .run(move |conn| {
                db::write_tx(conn, |conn| {
                    // A split capture is done: its documents carry on.
                    let stage = match (&item, to) {
                        (Item::Capture(_), Stage::Identify) => Stage::Done,
                        _ => to,
                    };
                    let moved = item.set_stage(
                        conn,
                        &from,
                        &Move {
                            stage: stage.as_str().to_owned(),
                            attempts,
                            next_attempt_at: next_at,
                            quarantine_reason: reason.clone(),
                            quarantine_stage: quarantine_stage.clone(),
                            updated_at: now,
                        },
                    )?;
                    if !moved {
                        // Taken over by another worker after our lease ran out: its word counts.
                        return Ok(false);
                    }
                    apply(conn, &item, effect)?;
                    audit::append(
                        conn,
                        Event {
                            actor: actor
                                .as_deref()
                                .filter(|_| action != "scan.stage")
                                .unwrap_or("folio"),
                            action,
                            object: &object,
                            device: Some(device.as_str()).filter(|d| !d.is_empty()),
                            outcome,
                            detail: detail.to_string(),
                        },
                    )?;
                    Ok::<_, diesel::result::Error>(true)
                })
                .map_err(DbError::from)
            })
            .await?;
        if moved {
            METRICS
                .scan_transitions
                .with_label_values(&[stage.as_str(), to.as_str()])
                .inc();
            if to == Stage::Quarantined {
                METRICS
                    .scan_quarantined
                    .with_label_values(&[stage.as_str()])
                    .inc();
            }
            tracing::info!(object = %logged, from = stage.as_str(), to = to.as_str(), "scan moved");
        }
        Ok(())
    }
}

impl Pipeline {
    /// Leaves an item at its stage, to be looked at again after `after`; nothing recorded.
    async fn wait(&self, item: Item, after: Duration) -> Result<(), DbError> {
        let to = Move {
            stage: item.stage().to_owned(),
            // Waiting is not an attempt: give back the one counted when the item was taken.
            attempts: (item.attempts() - 1).max(0),
            next_attempt_at: db::now_ms() + after.as_millis() as i64,
            quarantine_reason: None,
            quarantine_stage: None,
            updated_at: item.updated_at(),
        };
        self.capture
            .db()
            .run(move |conn| Ok::<_, DbError>(item.set_stage(conn, &to.stage, &to)?))
            .await?;
        Ok(())
    }
}

/// Writes what a stage produced, in the transaction that moves its item on.
fn apply(conn: &mut db::Conn, item: &Item, effect: Effect) -> diesel::QueryResult<()> {
    match (item, effect) {
        (_, Effect::None) => {}
        (Item::Capture(c), Effect::Measured(format, pages)) => {
            captures::set_format(conn, c.id, &format, pages)?;
        }
        (Item::Capture(c), Effect::Split(docs)) => {
            for doc in docs {
                let quarantined = doc.quarantine_reason.clone();
                let id = documents::insert(conn, &doc)?;
                audit::append(
                    conn,
                    Event {
                        actor: "folio",
                        action: if quarantined.is_some() {
                            "scan.quarantined"
                        } else {
                            "scan.document"
                        },
                        object: &format!("scan-document:{id}"),
                        device: Some(c.device_name.as_str()).filter(|d| !d.is_empty()),
                        outcome: if quarantined.is_some() {
                            Outcome::Failure
                        } else {
                            Outcome::Success
                        },
                        detail: serde_json::json!({
                            "capture": c.id, "part": doc.part, "pages": doc.pages,
                            "category": doc.category, "reason": quarantined,
                        })
                        .to_string(),
                    },
                )?;
            }
        }
        (Item::Document(d), Effect::Identity(sealed)) => {
            documents::set_identity(conn, d.id, &sealed)?;
        }
        (Item::Document(d), Effect::Category(code, label, retention)) => {
            documents::set_category(conn, d.id, &code, &label, &retention)?;
        }
        (Item::Document(_), Effect::Seal(row)) => {
            documents::set_seal(conn, &row)?;
        }
        (Item::Document(d), Effect::Delivered(at)) => {
            documents::set_delivered(conn, d.id, at)?;
        }
        _ => {}
    }
    Ok(())
}
