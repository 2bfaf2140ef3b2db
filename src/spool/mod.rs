//! The spool: jobs and their documents, durable and encrypted.
//!
//! A job is acknowledged only after its document is encrypted, fsynced with its directory and
//! its row committed ([`committer`]). Every state change goes through [`state::transition`].
//! Terminal jobs lose their document keys at once (purge), and their files are removed.

pub mod committer;
pub mod crypto;
mod expiry;
mod reconcile;
pub mod state;
pub mod store;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

pub use expiry::spawn_expiry;
pub use state::{Change, Transitioned};
pub use store::{Compression, DocumentWriter, StoredDocument};

use crate::db::models::documents::{self, DocumentRow, NewDocument};
use crate::db::models::jobs::{self, JobRow, NewJob, Which};
use crate::db::{self, Db, DbError};
use crate::document::{DocumentError, PdfInspector};
use crate::domain::{DocumentFormat, JobState, JobStateReason};
use crate::metrics::METRICS;
use crypto::{CryptoError, DecryptingReader, MasterKey};

/// Associated data of sealed job names.
const JOB_NAME: &str = "job-name";
/// Associated data of sealed document names.
const DOCUMENT_NAME: &str = "document-name";

/// Errors of the spool.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("the document is larger than the {} MB allowed", max_bytes / (1024 * 1024))]
    TooLarge { max_bytes: u64 },
    #[error(transparent)]
    Document(#[from] DocumentError),
    #[error("the compressed document could not be decompressed: {0}")]
    Compression(String),
    #[error("no such job")]
    NotFound,
    #[error("{0}")]
    NotPossible(String),
    #[error("job {0} has an unreadable state in the database")]
    Corrupt(i64),
    #[error("spool storage failed: {0}")]
    Storage(#[from] std::io::Error),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("the spool is shutting down")]
    ShuttingDown,
    /// Below `spool_reserve_mb` free: new jobs wait (the client keeps them) so that releases,
    /// the database and the audit trail keep room.
    #[error("the print server is short of disk space ({free_mb} MB free); try again later")]
    SpaceLow { free_mb: u64 },
}

impl From<diesel::result::Error> for SpoolError {
    fn from(e: diesel::result::Error) -> Self {
        SpoolError::Db(DbError::Query(e))
    }
}

impl SpoolError {
    /// True when the failure is the disk running out of space.
    pub fn is_disk_full(&self) -> bool {
        match self {
            SpoolError::Storage(e) => e.raw_os_error() == Some(28),
            SpoolError::Crypto(CryptoError::Io(e)) => e.raw_os_error() == Some(28),
            _ => false,
        }
    }
}

/// A new job as the protocol layer describes it.
#[derive(Debug, Clone)]
pub struct JobSpec {
    pub owner: String,
    pub name: String,
    pub originating_host: Option<String>,
    pub requested: crate::policy::Requested,
    pub ticket: crate::policy::Ticket,
    pub media: Option<String>,
    /// Hours before it expires unreleased, when a rule set it (the default otherwise).
    pub hold_hours: Option<u32>,
}

/// The spool service, shared by every protocol.
#[derive(Clone)]
pub struct Spool {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    docs_dir: PathBuf,
    master: MasterKey,
    hold_ms: i64,
    incoming_timeout_ms: i64,
    /// Free bytes kept on the spool's filesystem: below, new documents are refused.
    reserve_bytes: u64,
    intake: mpsc::Sender<committer::Intake>,
    /// Reads the PDFs clients send (a sandboxed worker in the server).
    inspector: Arc<dyn PdfInspector + Send + Sync>,
}

fn now_ms() -> i64 {
    db::now_ms()
}

pub(crate) fn new_document_row(job_id: i64, doc: &StoredDocument) -> NewDocument {
    NewDocument {
        job_id,
        file_name: doc.file_name.clone(),
        wrapped_key: Some(doc.wrapped_key.clone()),
        format: doc.analysis.format.code(),
        name: doc.name.clone(),
        size_bytes: doc.size_bytes as i64,
        sha256: doc.sha256.clone(),
        pages: doc.analysis.pages.map(|p| p as i32),
        created_at: now_ms(),
        color_used: doc.analysis.color_used,
    }
}

impl Spool {
    /// Opens the spool under `data_dir`, reconciles files with rows, starts the committer.
    /// Incoming PDFs are read by `inspector`.
    #[allow(clippy::too_many_arguments)]
    pub fn open(
        db: Db,
        data_dir: &Path,
        master: MasterKey,
        hold_hours: u64,
        incoming_timeout_secs: u64,
        reserve_mb: u64,
        inspector: Arc<dyn PdfInspector + Send + Sync>,
    ) -> Result<Spool, SpoolError> {
        let docs_dir = data_dir.join("spool");
        std::fs::create_dir_all(&docs_dir)?;
        reconcile::at_start(&db, &docs_dir)?;
        let held = jobs::count_in_state(&mut *db.get()?, JobState::PendingHeld.code())?;
        METRICS.jobs_held.set(held);
        let intake = committer::start(db.clone(), docs_dir.clone())?;
        Ok(Spool {
            inner: Arc::new(Inner {
                db,
                docs_dir,
                master,
                hold_ms: (hold_hours as i64).saturating_mul(3_600_000),
                incoming_timeout_ms: (incoming_timeout_secs as i64).saturating_mul(1000),
                reserve_bytes: reserve_mb.saturating_mul(1_048_576),
                intake,
                inspector,
            }),
        })
    }

    /// Opens the spool for offline tools (verification): no reconciliation, no committer;
    /// submissions through it fail.
    pub fn open_offline(db: Db, data_dir: &Path, master: MasterKey) -> Result<Spool, SpoolError> {
        let (intake, _) = mpsc::channel(1);
        Ok(Spool {
            inner: Arc::new(Inner {
                db,
                docs_dir: data_dir.join("spool"),
                master,
                hold_ms: 0,
                incoming_timeout_ms: 0,
                reserve_bytes: 0,
                intake,
                inspector: Arc::new(crate::document::InProcess),
            }),
        })
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// Starts writing a document into the spool (call from a blocking thread).
    pub fn document_writer(
        &self,
        declared: Option<DocumentFormat>,
        compression: Compression,
        max_bytes: u64,
        name: Option<String>,
    ) -> Result<DocumentWriter, SpoolError> {
        self.check_space()?;
        let name = name
            .map(|n| self.inner.master.seal_text(&n, DOCUMENT_NAME))
            .transpose()?;
        DocumentWriter::create(
            &self.inner.docs_dir,
            &self.inner.master,
            declared,
            compression,
            max_bytes,
            name,
            self.inner.inspector.clone(),
        )
    }

    /// Refuses new documents while the spool's filesystem is below its reserve (one `statvfs`,
    /// a few microseconds). A full disk would fail the write anyway, but then the database and
    /// releases would have no room left either.
    fn check_space(&self) -> Result<(), SpoolError> {
        let reserve = self.inner.reserve_bytes;
        if reserve == 0 {
            return Ok(());
        }
        let free = store::free_bytes(&self.inner.docs_dir)?;
        METRICS.spool_free_bytes.set(free as i64);
        if free >= reserve {
            return Ok(());
        }
        // One warning per 10 s: a full disk under load would otherwise flood the log.
        static LAST_WARNING_MS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
        let now = now_ms();
        let last = LAST_WARNING_MS.load(std::sync::atomic::Ordering::Relaxed);
        if now - last >= 10_000
            && LAST_WARNING_MS
                .compare_exchange(
                    last,
                    now,
                    std::sync::atomic::Ordering::Relaxed,
                    std::sync::atomic::Ordering::Relaxed,
                )
                .is_ok()
        {
            tracing::warn!(
                free_mb = free / 1_048_576,
                reserve_mb = reserve / 1_048_576,
                "spool below its free-space reserve: new jobs are refused (server-error-busy)"
            );
        }
        METRICS.jobs_refused_space.inc();
        Err(SpoolError::SpaceLow {
            free_mb: free / 1_048_576,
        })
    }

    /// Deletes a stored document that will not become a job (refused by a rule).
    pub fn discard(&self, document: StoredDocument) {
        store::remove_files(&self.inner.docs_dir, &[document.file_name]);
    }

    /// Records a new held job, with its document if it has one (Print-Job) or waiting for
    /// documents (Create-Job). Returns only after the commit.
    pub async fn submit(
        &self,
        spec: JobSpec,
        document: Option<StoredDocument>,
    ) -> Result<JobRow, SpoolError> {
        let now = now_ms();
        let spec_name = spec.name.clone();
        let reason = if document.is_some() {
            JobStateReason::JobHoldUntilSpecified
        } else {
            JobStateReason::JobIncoming
        };
        let job = NewJob {
            uuid: uuid::Uuid::new_v4().to_string(),
            owner: spec.owner,
            name: self.inner.master.seal_text(&spec.name, JOB_NAME)?,
            state: JobState::PendingHeld.code(),
            state_reason: reason.code(),
            originating_host: spec.originating_host,
            requested_sides: spec.requested.sides.map(|s| s.code()),
            requested_color_mode: spec.requested.color_mode.map(|c| c.code()),
            sides: spec.ticket.sides.code(),
            color_mode: spec.ticket.color_mode.code(),
            copies: spec.ticket.copies as i32,
            media: spec.media,
            impressions: document
                .as_ref()
                .and_then(|d| d.analysis.pages)
                .map(|p| p as i32),
            created_at: now,
            // A rule may shorten the hold, never lengthen it past the site's (patient data).
            expires_at: now.saturating_add(
                spec.hold_hours
                    .map(|h| (i64::from(h) * 3_600_000).min(self.inner.hold_ms))
                    .unwrap_or(self.inner.hold_ms),
            ),
        };
        let encrypted = document.as_ref().map(|d| d.encrypted_bytes).unwrap_or(0);
        let file = document.as_ref().map(|d| d.file_name.clone());
        let (reply, answer) = oneshot::channel();
        let sent = self
            .inner
            .intake
            .send(committer::Intake {
                job: job.clone(),
                document,
                reply,
            })
            .await;
        let result = match sent {
            Ok(()) => answer.await.unwrap_or(Err(SpoolError::ShuttingDown)),
            Err(_) => Err(SpoolError::ShuttingDown),
        };
        match result {
            Ok(id) => {
                METRICS.jobs_submitted.inc();
                METRICS.jobs_held.inc();
                METRICS.spool_bytes.add(encrypted as i64);
                Ok(JobRow {
                    id,
                    uuid: job.uuid,
                    owner: job.owner,
                    name: spec_name,
                    state: job.state,
                    state_reason: job.state_reason,
                    state_message: None,
                    originating_host: job.originating_host,
                    requested_sides: job.requested_sides,
                    requested_color_mode: job.requested_color_mode,
                    sides: job.sides,
                    color_mode: job.color_mode,
                    copies: job.copies,
                    media: job.media,
                    impressions: job.impressions,
                    created_at: job.created_at,
                    processing_at: None,
                    completed_at: None,
                    expires_at: job.expires_at,
                })
            }
            Err(e) => {
                if let Some(file) = file {
                    store::remove_files(&self.inner.docs_dir, &[file]);
                }
                Err(e)
            }
        }
    }

    /// Adds a document to a job created by Create-Job. `last` closes the job: it becomes held
    /// and waits for release.
    pub async fn add_document(
        &self,
        job_id: i64,
        document: Option<StoredDocument>,
        ticket: Option<crate::policy::Ticket>,
        last: bool,
        actor: &str,
    ) -> Result<JobRow, SpoolError> {
        let docs_dir = self.inner.docs_dir.clone();
        let actor = actor.to_owned();
        let file = document.as_ref().map(|d| d.file_name.clone());
        let encrypted = document.as_ref().map(|d| d.encrypted_bytes).unwrap_or(0);
        let result = self
            .inner
            .db
            .run(move |conn| {
                if document.is_some() {
                    store::make_durable(&docs_dir)?;
                }
                db::write_tx(conn, |conn| {
                    jobs::lock(conn, job_id)?;
                    let job = jobs::find(conn, job_id)?.ok_or(SpoolError::NotFound)?;
                    if job.state_reason != JobStateReason::JobIncoming.code()
                        || job.state != JobState::PendingHeld.code()
                    {
                        return Err(SpoolError::NotPossible(
                            "the job is not accepting documents".into(),
                        ));
                    }
                    if let Some(doc) = &document {
                        if documents::count_of_job(conn, job_id)? > 0 {
                            return Err(SpoolError::NotPossible(
                                "this queue accepts one document per job".into(),
                            ));
                        }
                        documents::insert(conn, &new_document_row(job_id, doc))?;
                        jobs::set_impressions(conn, job_id, doc.analysis.pages.map(|p| p as i32))?;
                    }
                    if let Some(t) = ticket {
                        jobs::set_ticket(
                            conn,
                            job_id,
                            t.sides.code(),
                            t.color_mode.code(),
                            t.copies as i32,
                        )?;
                    }
                    if !last {
                        return jobs::find(conn, job_id)?.ok_or(SpoolError::NotFound);
                    }
                    close_in_tx(conn, job_id, &actor)
                })
            })
            .await;
        let result = result.map(|job| self.reveal(job));
        match &result {
            Ok(_) => METRICS.spool_bytes.add(encrypted as i64),
            Err(_) => {
                if let Some(file) = file {
                    store::remove_files(&self.inner.docs_dir, &[file]);
                }
            }
        }
        result
    }

    /// Close-Job: no more documents will come.
    pub async fn close_job(&self, job_id: i64, actor: &str) -> Result<JobRow, SpoolError> {
        let actor = actor.to_owned();
        self.inner
            .db
            .run(move |conn| db::write_tx(conn, |conn| close_in_tx(conn, job_id, &actor)))
            .await
            .map(|job| self.reveal(job))
    }

    /// Moves a job through [`state::transition`] in its own transaction, on behalf of
    /// `actor`, then removes purged files and counts the transition.
    pub async fn transition(
        &self,
        job_id: i64,
        to: JobState,
        reason: JobStateReason,
        message: Option<&'static str>,
        actor: String,
    ) -> Result<Transitioned, SpoolError> {
        self.transition_with(job_id, to, reason, message.map(str::to_owned), actor)
            .await
    }

    /// [`Spool::transition`] with a message made at run time (a device's name, a reason).
    pub async fn transition_with(
        &self,
        job_id: i64,
        to: JobState,
        reason: JobStateReason,
        message: Option<String>,
        actor: String,
    ) -> Result<Transitioned, SpoolError> {
        self.transition_then(job_id, to, reason, message, (actor, None), |_, _| Ok(()))
            .await
    }

    /// [`Spool::transition_with`], then `then` in the same transaction (a record that must
    /// exist exactly when the move happened, such as a delivery). `by` is the actor and the
    /// device involved, if any.
    pub async fn transition_then<F>(
        &self,
        job_id: i64,
        to: JobState,
        reason: JobStateReason,
        message: Option<String>,
        by: (String, Option<String>),
        then: F,
    ) -> Result<Transitioned, SpoolError>
    where
        F: FnOnce(&mut db::Conn, &Transitioned) -> Result<(), SpoolError> + Send + 'static,
    {
        let done = self
            .inner
            .db
            .run(move |conn| {
                let (actor, device) = by;
                let change = Change {
                    to,
                    reason,
                    message: message.as_deref(),
                    actor: &actor,
                    device: device.as_deref(),
                };
                db::write_tx(conn, |conn| {
                    let done = state::transition(conn, job_id, change)?;
                    then(conn, &done)?;
                    Ok::<_, SpoolError>(done)
                })
            })
            .await?;
        self.after_transition(&done);
        Ok(done)
    }

    fn after_transition(&self, done: &Transitioned) {
        state::record_metrics(
            done.from,
            JobState::from_code(done.job.state).unwrap_or(done.from),
        );
        if !done.purged_files.is_empty() {
            let freed: u64 = done
                .purged_files
                .iter()
                .filter_map(|f| std::fs::metadata(self.inner.docs_dir.join(f)).ok())
                .map(|m| m.len())
                .sum();
            store::remove_files(&self.inner.docs_dir, &done.purged_files);
            METRICS.spool_bytes.sub(freed as i64);
        }
    }

    /// Cancels a job on behalf of `actor`.
    pub async fn cancel(
        &self,
        job_id: i64,
        actor: String,
        by_operator: bool,
    ) -> Result<Transitioned, SpoolError> {
        let reason = if by_operator {
            JobStateReason::JobCanceledByOperator
        } else {
            JobStateReason::JobCanceledByUser
        };
        self.transition(job_id, JobState::Canceled, reason, Some("canceled"), actor)
            .await
    }

    /// The job with its name opened (names are sealed in the database: they can name a
    /// patient).
    fn reveal(&self, mut job: JobRow) -> JobRow {
        job.name = self.open_name(&job.name, JOB_NAME);
        job
    }

    fn open_name(&self, stored: &str, context: &str) -> String {
        self.inner
            .master
            .open_text(stored, context)
            .unwrap_or_else(|| "(unreadable)".to_owned())
    }

    /// One job and its documents.
    pub async fn job(&self, job_id: i64) -> Result<Option<(JobRow, Vec<DocumentRow>)>, SpoolError> {
        self.inner
            .db
            .run(move |conn| {
                let Some(job) = jobs::find(conn, job_id)? else {
                    return Ok(None);
                };
                let docs = documents::of_job(conn, job_id)?;
                Ok(Some((job, docs)))
            })
            .await
            .map(|found| {
                found.map(|(job, mut docs)| {
                    for doc in &mut docs {
                        doc.name = doc
                            .name
                            .as_deref()
                            .map(|n| self.open_name(n, DOCUMENT_NAME));
                    }
                    (self.reveal(job), docs)
                })
            })
    }

    /// Jobs for a listing.
    pub async fn list(
        &self,
        which: Which,
        owner: Option<String>,
        limit: i64,
    ) -> Result<Vec<JobRow>, SpoolError> {
        self.inner
            .db
            .run(move |conn| Ok(jobs::list(conn, which, owner.as_deref(), limit)?))
            .await
            .map(|jobs| jobs.into_iter().map(|j| self.reveal(j)).collect())
    }

    /// How many jobs are not finished.
    pub async fn queued_count(&self) -> Result<i64, SpoolError> {
        self.inner
            .db
            .run(|conn| Ok(jobs::count_not_completed(conn)?))
            .await
    }

    /// Ids of the non-terminal jobs of `owner`.
    pub async fn active_ids_of(&self, owner: String) -> Result<Vec<i64>, SpoolError> {
        self.inner
            .db
            .run(move |conn| Ok(jobs::active_ids_of(conn, &owner)?))
            .await
    }

    /// The master key, for the other encrypted stores of the data directory (scan masters).
    pub fn master(&self) -> &MasterKey {
        &self.inner.master
    }

    /// Opens a stored document for reading its plaintext (release, verification).
    pub fn open_document(
        &self,
        doc: &DocumentRow,
    ) -> Result<DecryptingReader<std::io::BufReader<std::fs::File>>, SpoolError> {
        let wrapped = doc
            .wrapped_key
            .as_ref()
            .ok_or_else(|| SpoolError::NotPossible("the document was purged".into()))?;
        let key = self.inner.master.unwrap(wrapped, &doc.file_name)?;
        let file = std::fs::File::open(self.inner.docs_dir.join(&doc.file_name))?;
        let len = file.metadata()?.len();
        Ok(DecryptingReader::new(
            std::io::BufReader::new(file),
            len,
            &key,
        )?)
    }

    /// Expires jobs whose hold ran out, and jobs whose document never came: aborted with a
    /// reason, their documents destroyed.
    pub async fn expire_due(&self) -> Result<usize, SpoolError> {
        let incoming_cutoff = now_ms() - self.inner.incoming_timeout_ms;
        let (expired_ids, stale_ids) = self
            .inner
            .db
            .run(move |conn| {
                Ok::<_, SpoolError>((
                    jobs::expired_ids(conn, now_ms(), 500)?,
                    jobs::stale_incoming_ids(conn, incoming_cutoff, 500)?,
                ))
            })
            .await?;
        let expired = expired_ids
            .into_iter()
            .map(|id| (id, "expired: not released in time"));
        let stale = stale_ids
            .into_iter()
            .map(|id| (id, "aborted: the document never arrived"));
        let mut count = 0;
        for (id, message) in stale.chain(expired) {
            let aborted = self.transition(
                id,
                JobState::Aborted,
                JobStateReason::AbortedBySystem,
                Some(message),
                "system".to_owned(),
            );
            match aborted.await {
                Ok(_) => {
                    count += 1;
                    METRICS.jobs_expired.inc();
                }
                // Another node or a user got there first.
                Err(SpoolError::NotPossible(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(count)
    }
}

/// The result of re-reading one stored document.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DocumentCheck {
    pub job_id: i64,
    pub file_name: String,
    /// SHA-256 of the decrypted document.
    pub sha256: Option<String>,
    /// True when the document decrypts and matches the hash recorded at submission.
    pub ok: bool,
    pub error: Option<String>,
}

impl Spool {
    /// Decrypts every live document and compares it with the hash recorded at submission
    /// (`folio spool verify`). Streams: constant memory whatever the sizes.
    pub fn verify_documents(&self) -> Result<Vec<DocumentCheck>, SpoolError> {
        use sha2::Digest;
        let mut conn = self.inner.db.get()?;
        let rows = documents::all_live(&mut conn)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let result = self.open_document(&row).and_then(|mut reader| {
                let mut hasher = sha2::Sha256::new();
                std::io::copy(&mut reader, &mut hasher)?;
                Ok(hex::encode(hasher.finalize()))
            });
            out.push(match result {
                Ok(hash) => DocumentCheck {
                    job_id: row.job_id,
                    file_name: row.file_name,
                    ok: hash == row.sha256,
                    error: (hash != row.sha256)
                        .then(|| "content does not match its recorded hash".into()),
                    sha256: Some(hash),
                },
                Err(e) => DocumentCheck {
                    job_id: row.job_id,
                    file_name: row.file_name,
                    sha256: None,
                    ok: false,
                    error: Some(e.to_string()),
                },
            });
        }
        Ok(out)
    }
}

/// Closes a job inside a transaction: held for release if it has a document, aborted
/// (nothing to print) if not.
fn close_in_tx(conn: &mut db::Conn, job_id: i64, actor: &str) -> Result<JobRow, SpoolError> {
    jobs::lock(conn, job_id)?;
    let job = jobs::find(conn, job_id)?.ok_or(SpoolError::NotFound)?;
    if job.state != JobState::PendingHeld.code()
        || job.state_reason != JobStateReason::JobIncoming.code()
    {
        // Closing a closed job changes nothing.
        return Ok(job);
    }
    let has_document = documents::count_of_job(conn, job_id)? > 0;
    let change = if has_document {
        Change {
            to: JobState::PendingHeld,
            reason: JobStateReason::JobHoldUntilSpecified,
            message: None,
            actor,
            device: None,
        }
    } else {
        Change {
            to: JobState::Aborted,
            reason: JobStateReason::JobDataInsufficient,
            message: Some("closed without a document"),
            actor,
            device: None,
        }
    };
    let done = state::transition(conn, job_id, change)?;
    Ok(done.job)
}
