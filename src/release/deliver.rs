//! One released job on its way: decrypt the document as a stream into the device through its
//! driver, retry while the device says busy, then follow the job until it ends and move the
//! Folio job accordingly:
//!
//! - completed at the copier → `completed`;
//! - nothing printed (unreachable, refused, aborted, busy too long) → held again, with the
//!   reason the user sees at the next session;
//! - bytes reached the copier but no confirmation → `processing-stopped`, **never resent
//!   automatically**: the user decides at the next session.

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::db::models::deliveries;
use crate::db::models::documents::DocumentRow;
use crate::db::models::jobs::JobRow;
use crate::devices::Device;
use crate::domain::{ColorMode, DocumentFormat, JobState, JobStateReason, Sides};
use crate::drivers::{DriverProfile, Protocol};
use crate::metrics::METRICS;
use crate::output::{
    ipp::IppDevice, lpd, pjl, JobLabel, Limits, OutputError, RemoteOutcome, Sent, Ticket,
};
use crate::spool::Spool;

/// How long a copier may keep answering "busy" (printing someone else's job, warming up)
/// before the job is held again. Retries start fast, since a copier that prints one job at a
/// time is busy only until its current job ends.
const BUSY_PATIENCE: Duration = Duration::from_secs(120);
const BUSY_FIRST_WAIT: Duration = Duration::from_millis(50);
const BUSY_LONGEST_WAIT: Duration = Duration::from_secs(1);

/// One sender at a time per device: jobs released together reach the copier one after another,
/// in release order as far as the lock is fair, instead of all at once (most copiers take one
/// upload at a time and answer the others "busy"). The lock covers the upload and its busy
/// retries, not the following of the job to its end.
fn device_lock(device_id: i64) -> Arc<std::sync::Mutex<()>> {
    static LOCKS: std::sync::LazyLock<
        std::sync::Mutex<std::collections::HashMap<i64, Arc<std::sync::Mutex<()>>>>,
    > = std::sync::LazyLock::new(Default::default);
    LOCKS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(device_id)
        .or_default()
        .clone()
}
/// How long a copier's job is followed before Folio stops waiting for news.
const FOLLOW_FOR: Duration = Duration::from_secs(30 * 60);

/// What the job becomes.
enum Outcome {
    Completed(String, Option<i32>),
    HeldAgain(String),
    NeedsDecision(String),
    Canceled(String),
}

/// Where and how a job goes.
pub struct Target {
    pub device: Device,
    pub profile: DriverProfile,
    pub tls: Arc<rustls::ClientConfig>,
    pub limits: Limits,
    pub usage: Usage,
    /// A line to stamp on every page (PDF documents), from IT's rules, and the sandboxed
    /// worker pool that stamps it.
    pub watermark: Option<(String, crate::document::Sandboxed)>,
}

/// PDFs up to this size are stamped in memory; larger ones print without the watermark.
const WATERMARK_LIMIT: u64 = 64 * 1024 * 1024;

/// What a completed job counts against its owner's budgets.
#[derive(Debug, Clone)]
pub struct Usage {
    /// The owner's department at release.
    pub department: String,
    pub color: bool,
    /// Pages × copies, when the copier does not report impressions.
    pub estimated_pages: u32,
}

/// Sends `job` to the target's device on the blocking pool, then records the outcome (the job's
/// state, and the end of its delivery row).
pub fn spawn(spool: Spool, target: Target, job: JobRow) {
    tokio::spawn(async move {
        let (s, id, owner) = (spool.clone(), job.id, job.owner.clone());
        let device = target.device.clone();
        let usage = target.usage.clone();
        let ticket = ticket_for(&job, &device);
        let copies = job.copies.max(1) as u32;
        let started = Instant::now();
        let outcome = match spool.job(id).await {
            Ok(Some((_, docs))) if !docs.is_empty() => {
                let doc = docs[0].clone();
                tokio::task::spawn_blocking(move || deliver(&s, &target, &job, &doc))
                    .await
                    .unwrap_or_else(|_| {
                        Outcome::NeedsDecision("the release was interrupted".into())
                    })
            }
            Ok(_) => Outcome::HeldAgain("not printed: the job has no document".into()),
            Err(e) => Outcome::HeldAgain(format!("not printed: {e}")),
        };
        let mut impressions = None;
        let (to, reason, message, recorded) = match outcome {
            Outcome::Completed(m, n) => {
                impressions = n;
                (
                    JobState::Completed,
                    JobStateReason::JobCompletedSuccessfully,
                    m,
                    "completed",
                )
            }
            Outcome::HeldAgain(m) => (
                JobState::PendingHeld,
                JobStateReason::JobHoldUntilSpecified,
                m,
                "held-again",
            ),
            Outcome::NeedsDecision(m) => (
                JobState::ProcessingStopped,
                JobStateReason::JobPrinting,
                m,
                "needs-decision",
            ),
            Outcome::Canceled(m) => (
                JobState::Canceled,
                JobStateReason::JobCanceledByOperator,
                m,
                "canceled",
            ),
        };
        tracing::info!(job_id = id, device = %device.name, state = to.keyword(), %message, "release finished");
        METRICS
            .release_duration
            .with_label_values(&[recorded])
            .observe(started.elapsed().as_secs_f64());
        if recorded == "completed" {
            let pages = impressions
                .filter(|n| *n > 0)
                .map(|n| n as u32)
                .unwrap_or(usage.estimated_pages);
            count_printed(&ticket, copies, pages, &usage.department);
        }
        let counted_by = owner.clone();
        let end = move |conn: &mut crate::db::Conn, _: &crate::spool::Transitioned| {
            deliveries::finish(conn, id, recorded, impressions, crate::db::now_ms())?;
            if recorded == "completed" {
                // Printed: counted against the owner's budgets (a copier that reports 0 or
                // nothing is counted at pages × copies).
                let pages = impressions
                    .filter(|n| *n > 0)
                    .map(|n| n as u32)
                    .unwrap_or(usage.estimated_pages);
                crate::policy::quota::record(
                    conn,
                    id,
                    &counted_by,
                    &usage.department,
                    usage.color,
                    pages,
                )?;
            }
            Ok(())
        };
        if let Err(e) = spool
            .transition_then(
                id,
                to,
                reason,
                Some(message),
                (owner, Some(device.name.clone())),
                end,
            )
            .await
        {
            tracing::error!(job_id = id, error = %e, "cannot record the end of a release");
        }
    });
}

/// Pages and sheets in the metrics, by colour, sides and department. Sheets are worked out
/// from the pages of one copy (a two-sided copy of 3 pages takes 2 sheets).
fn count_printed(ticket: &Ticket, copies: u32, pages: u32, department: &str) {
    let labels = [
        ticket.color.keyword(),
        ticket.sides.keyword(),
        if department.is_empty() {
            "unknown"
        } else {
            department
        },
    ];
    let per_copy = pages.div_ceil(copies.max(1));
    let sheets = if ticket.sides == Sides::OneSided {
        pages
    } else {
        per_copy.div_ceil(2) * copies
    };
    METRICS
        .pages_printed
        .with_label_values(&labels)
        .inc_by(pages.into());
    METRICS
        .sheets_printed
        .with_label_values(&labels)
        .inc_by(sheets.into());
}

/// The ticket the device gets: the job's, within what the device can do (never colour to a
/// mono device, never duplex to a simplex one).
fn ticket_for(job: &JobRow, device: &Device) -> Ticket {
    let mut sides = Sides::from_code(job.sides);
    if !device.capabilities.duplex {
        sides = Sides::OneSided;
    }
    let mut color = ColorMode::from_code(job.color_mode);
    if !device.capabilities.color || color != ColorMode::Color {
        color = ColorMode::Monochrome;
    }
    Ticket {
        sides,
        color,
        copies: job.copies.max(1) as u32,
        media: job.media.clone(),
    }
}

fn deliver(spool: &Spool, target: &Target, job: &JobRow, doc: &DocumentRow) -> Outcome {
    let (device, profile, limits) = (&target.device, &target.profile, &target.limits);
    let format = DocumentFormat::from_code(doc.format)
        .map(|f| f.mime())
        .unwrap_or("application/pdf");
    let ticket = ticket_for(job, device);
    let label = JobLabel {
        user: job.owner.clone(),
        name: format!("Folio job {}", job.id),
    };
    let protocol = Protocol::of_uri(&device.uri);
    let stamped = match &target.watermark {
        Some((text, stamper)) if format == "application/pdf" => {
            stamped(spool, stamper, doc, text, job.id)
        }
        _ => None,
    };
    let size = stamped
        .as_ref()
        .map(|s| s.len() as u64)
        .unwrap_or(doc.size_bytes as u64);
    let lock = device_lock(device.id);
    let sending = lock.lock().unwrap_or_else(|e| e.into_inner());
    let busy_until = Instant::now() + BUSY_PATIENCE;
    let mut wait = BUSY_FIRST_WAIT;
    loop {
        let reader: Box<dyn Read + Send> = match (&stamped, spool.open_document(doc)) {
            (Some(bytes), _) => Box::new(std::io::Cursor::new(bytes.clone())),
            (None, Ok(r)) => Box::new(r),
            (None, Err(e)) => {
                return Outcome::HeldAgain(format!(
                    "not printed: the document cannot be read ({e})"
                ))
            }
        };
        let sent: Result<Sent, OutputError> = match protocol {
            Some(Protocol::Ipp | Protocol::Ipps) => IppDevice::new(
                &device.uri,
                profile,
                limits.clone(),
                Some(target.tls.clone()),
            )
            .print(&label, &ticket, format, reader, Some(size)),
            Some(Protocol::Socket) => match &profile.pjl {
                Some(p) => {
                    let address = Protocol::Socket.address_of(&device.uri);
                    pjl::send(
                        &address,
                        p,
                        device.capabilities.color,
                        &label,
                        &ticket,
                        reader,
                        limits.clone(),
                    )
                }
                None => Err(OutputError::Unsupported("the profile has no PJL".into())),
            },
            Some(Protocol::Lpd) => match &profile.pjl {
                Some(p) => lpd::send(
                    &device.uri,
                    p,
                    device.capabilities.color,
                    &label,
                    &ticket,
                    reader,
                    size,
                    job.id,
                    limits.clone(),
                ),
                None => Err(OutputError::Unsupported("the profile has no PJL".into())),
            },
            None => Err(OutputError::Unsupported(format!(
                "{} is not supported yet",
                device.uri
            ))),
        };
        if let Err(e) = &sent {
            METRICS
                .output_errors
                .with_label_values(&[device.name.as_str(), e.kind()])
                .inc();
        }
        match sent {
            Ok(sent) => {
                drop(sending);
                return follow(target, &label, sent);
            }
            Err(OutputError::Busy) if Instant::now() + wait < busy_until => {
                std::thread::sleep(wait);
                wait = (wait * 2).min(BUSY_LONGEST_WAIT);
            }
            Err(e) if e.nothing_printed() => {
                return Outcome::HeldAgain(format!("not printed at {}: {e}; release it again", device.name))
            }
            Err(e) => {
                return Outcome::NeedsDecision(format!(
                    "{} may or may not have printed this job ({e}): check the output tray, then print it again or cancel",
                    device.name
                ))
            }
        }
    }
}

/// The document with IT's watermark, or `None` to print it as it is (too large, or a PDF the
/// stamp cannot be added to: printing matters more than the stamp, and the log says why).
fn stamped(
    spool: &Spool,
    stamper: &crate::document::Sandboxed,
    doc: &DocumentRow,
    text: &str,
    job_id: i64,
) -> Option<Vec<u8>> {
    if doc.size_bytes as u64 > WATERMARK_LIMIT {
        tracing::warn!(
            job_id,
            "document too large to stamp: printed without the watermark"
        );
        return None;
    }
    let mut plain = Vec::with_capacity(doc.size_bytes.max(0) as usize);
    if let Err(e) = spool
        .open_document(doc)
        .map_err(|e| e.to_string())
        .and_then(|mut r| r.read_to_end(&mut plain).map_err(|e| e.to_string()))
    {
        tracing::warn!(job_id, error = %e, "cannot read the document to stamp it");
        return None;
    }
    match stamper.stamp(&plain, text) {
        Ok(out) => Some(out),
        Err(e) => {
            tracing::warn!(job_id, error = %e, "printed without the watermark");
            None
        }
    }
}

fn follow(target: &Target, label: &JobLabel, sent: Sent) -> Outcome {
    let device = &target.device;
    let Some(remote) = sent.remote_job_id else {
        return Outcome::Completed(
            format!(
                "sent to {} (this protocol gives no confirmation)",
                device.name
            ),
            None,
        );
    };
    let ipp = IppDevice::new(
        &device.uri,
        &target.profile,
        target.limits.clone(),
        Some(target.tls.clone()),
    );
    match ipp.follow(remote, &label.user, Duration::from_secs(1), Instant::now() + FOLLOW_FOR) {
        Some(RemoteOutcome::Completed { impressions }) => Outcome::Completed(
            match impressions {
                Some(n) => format!("printed at {} ({n} impressions)", device.name),
                None => format!("printed at {}", device.name),
            },
            impressions,
        ),
        Some(RemoteOutcome::Aborted { reason }) => {
            Outcome::HeldAgain(format!("{} did not print it ({reason}); release it again", device.name))
        }
        Some(RemoteOutcome::Canceled) => Outcome::Canceled(format!("canceled at {}", device.name)),
        None => Outcome::NeedsDecision(format!(
            "no news from {} after 30 minutes: check the output tray, then print it again or cancel",
            device.name
        )),
    }
}
