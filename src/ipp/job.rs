//! Operations addressed to one job. Who may do what is a table ([`may`]); the operations never
//! compare user names themselves.

use super::body::Body;
use super::job_attrs::{created_group, job_group, Wanted};
use super::template::document_options;
use super::{status, Ctx, IppError, IppValue, Reply};
use crate::db::models::jobs::JobRow;
use crate::domain::{JobState, JobStateReason};

/// Who may perform an operation on a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    /// Anyone (private attributes are still hidden from non-owners).
    Anyone,
    /// The job's owner.
    Owner,
}

/// The permission table: operation → who may.
fn may(operation: u16) -> Who {
    match operation {
        0x09 => Who::Anyone, // Get-Job-Attributes
        _ => Who::Owner,     // Send-Document, Cancel-Job, Hold-Job, Release-Job, Close-Job
    }
}

/// Finds the job and checks the caller may act on it.
async fn authorized_job(
    ctx: &Ctx<'_>,
    id: i64,
) -> Result<(JobRow, Vec<crate::db::models::documents::DocumentRow>), IppError> {
    let (job, docs) = ctx
        .svc
        .spool
        .job(id)
        .await?
        .ok_or_else(|| IppError::new(status::NOT_FOUND, format!("job {id} does not exist")))?;
    if may(ctx.req.operation) == Who::Owner && !ctx.owns(&job.owner) {
        return Err(IppError::new(
            status::NOT_AUTHORIZED,
            format!("job {id} belongs to someone else"),
        ));
    }
    Ok((job, docs))
}

fn state_of(job: &JobRow) -> JobState {
    JobState::from_code(job.state).unwrap_or(JobState::Aborted)
}

/// Get-Job-Attributes (RFC 8011 §4.3.4).
pub async fn get_job_attributes(ctx: &Ctx<'_>, id: i64) -> Result<Reply, IppError> {
    let (job, docs) = authorized_job(ctx, id).await?;
    let wanted = Wanted::from_request(ctx, &["all"]);
    Ok(Reply::ok(vec![job_group(ctx, &job, Some(&docs), &wanted)]))
}

/// Send-Document (RFC 8011 §4.3.1): the document of a job made by Create-Job.
pub async fn send_document(ctx: &Ctx<'_>, id: i64, body: &mut Body) -> Result<Reply, IppError> {
    let (job, docs) = authorized_job(ctx, id).await?;
    let last = match ctx.op_value("last-document") {
        Some(IppValue::Boolean(b)) => *b,
        Some(_) => return Err(IppError::bad_request("last-document must be a boolean")),
        None => return Err(IppError::bad_request("last-document is required")),
    };
    if state_of(&job) != JobState::PendingHeld
        || job.state_reason != JobStateReason::JobIncoming.code()
    {
        return Err(IppError::new(
            status::NOT_POSSIBLE,
            format!("job {id} is not waiting for documents"),
        ));
    }
    let (format, compression) = document_options(ctx)?;
    let has_data = body.has_data().await;
    if has_data && !docs.is_empty() {
        return Err(IppError::new(
            status::MULTIPLE_DOCUMENT_JOBS_NOT_SUPPORTED,
            "this queue accepts one document per job",
        ));
    }
    let document = if has_data {
        let name = match ctx.op_value("document-name") {
            Some(v) => super::values::as_text(v).map(str::to_owned),
            None => None,
        };
        Some(
            body.receive_document(
                &ctx.svc.spool,
                format,
                compression,
                ctx.svc.info.max_job_bytes,
                name,
            )
            .await?,
        )
    } else {
        None
    };
    // IT's rules again, now that the pages and their colour are known: a refusal deletes the
    // document and cancels the job; otherwise the ticket is the one they decide now.
    let mut ticket = None;
    let mut decided = None;
    if let Some(doc) = &document {
        let requested = crate::policy::Requested {
            sides: job.requested_sides.map(crate::domain::Sides::from_code),
            color_mode: job
                .requested_color_mode
                .map(crate::domain::ColorMode::from_code),
            copies: Some(job.copies.max(1) as u32),
        };
        let name = doc.name.clone().unwrap_or_else(|| job.name.clone());
        match super::printer::decide_for(ctx, requested, name, Some(&doc.analysis)).await {
            Ok(decision) => {
                ticket = Some(decision.ticket);
                decided = Some(decision);
            }
            Err(e) => {
                if let Some(doc) = document {
                    ctx.svc.spool.discard(doc);
                }
                if let Err(c) = ctx.svc.spool.cancel(id, ctx.user.clone(), false).await {
                    tracing::warn!(job_id = id, error = %c, "cannot cancel a refused job");
                }
                return Err(e);
            }
        }
    }
    let job = ctx
        .svc
        .spool
        .add_document(id, document, ticket, last, &ctx.user)
        .await?;
    if let Some(decision) = decided.filter(|_| last) {
        super::printer::route(ctx, job.id, &decision);
    }
    Ok(Reply::ok(vec![created_group(ctx, &job)]))
}

/// Close-Job (PWG 5100.11): no more documents.
pub async fn close_job(ctx: &Ctx<'_>, id: i64) -> Result<Reply, IppError> {
    authorized_job(ctx, id).await?;
    let job = ctx.svc.spool.close_job(id, &ctx.user).await?;
    Ok(Reply::ok(vec![created_group(ctx, &job)]))
}

/// Cancel-Job (RFC 8011 §4.3.3): the job ends and its document is destroyed.
pub async fn cancel_job(ctx: &Ctx<'_>, id: i64) -> Result<Reply, IppError> {
    let (job, _) = authorized_job(ctx, id).await?;
    let state = state_of(&job);
    if state.is_terminal() {
        return Err(IppError::new(
            status::NOT_POSSIBLE,
            format!("job {id} is already {state}"),
        ));
    }
    ctx.svc.spool.cancel(id, ctx.user.clone(), false).await?;
    tracing::info!(job_id = id, user = %ctx.user, "job canceled");
    Ok(Reply::ok(Vec::new()))
}

/// Hold-Job (RFC 8011 §4.3.5): every job is already held; holding it again changes nothing.
pub async fn hold_job(ctx: &Ctx<'_>, id: i64) -> Result<Reply, IppError> {
    let (job, _) = authorized_job(ctx, id).await?;
    match state_of(&job) {
        JobState::PendingHeld | JobState::Pending => Ok(Reply::ok(Vec::new())),
        state => Err(IppError::new(
            status::NOT_POSSIBLE,
            format!("job {id} is {state} and cannot be held"),
        )),
    }
}

/// Release-Job (RFC 8011 §4.3.6): jobs are released by their owner at a copier, never from
/// the workstation.
pub async fn release_job(ctx: &Ctx<'_>, id: i64) -> Result<Reply, IppError> {
    let (job, _) = authorized_job(ctx, id).await?;
    let message = match state_of(&job) {
        JobState::PendingHeld => {
            "jobs are released at the copier: badge at any copier to print this job".to_owned()
        }
        state => format!("job {id} is {state}, not held"),
    };
    Err(IppError::new(status::NOT_POSSIBLE, message))
}
