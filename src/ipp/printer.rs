//! Operations addressed to the queue itself.

use super::body::Body;
use super::job_attrs::{created_group, job_group, Wanted};
use super::printer_attrs::{is_job_template, printer_attributes, PrinterFacts};
use super::template::job_request;
use super::values::*;
use super::wire::{tag, Attr, Group};
use super::{status, Ctx, IppError, IppValue, Reply};
use crate::db::models::jobs::Which;
use crate::policy;
use crate::spool::JobSpec;

/// Get-Printer-Attributes (RFC 8011 §4.2.5).
pub async fn get_printer_attributes(ctx: &Ctx<'_>) -> Result<Reply, IppError> {
    let info = &ctx.svc.info;
    let queued = ctx.svc.spool.queued_count().await?.min(i32::MAX as i64) as i32;
    let now = crate::db::now_ms();
    let printer_uri = ctx.printer_uri();
    let more_info = printer_uri
        .replacen("ipp://", "http://", 1)
        .replace(super::QUEUE_PATH, "/");
    let facts = PrinterFacts {
        uri: &printer_uri,
        name: &info.name,
        location: &info.location,
        uuid: &info.uuid,
        // CUPS' convention: up-time is the Unix time, so job times stay comparable across
        // restarts.
        up_time: (now / 1000).min(i32::MAX as i64) as i32,
        started_ms: info.started_ms,
        now_ms: now,
        queued_job_count: queued,
        more_info: &more_info,
        incoming_timeout_secs: info.incoming_timeout_secs.min(i32::MAX as u64) as i32,
    };
    let requested: Vec<String> = match ctx.op().get("requested-attributes") {
        Some(a) => a
            .values
            .iter()
            .filter_map(as_keyword)
            .map(str::to_owned)
            .collect(),
        None => vec!["all".into()],
    };
    let wants = |name: &str| {
        requested.iter().any(|r| match r.as_str() {
            "all" => name != "media-col-database",
            "printer-description" => !is_job_template(name),
            "job-template" => is_job_template(name) && name != "media-col-database",
            other => other == name,
        })
    };
    let attrs: Vec<Attr> = printer_attributes(&facts)
        .into_iter()
        .filter(|a| wants(&a.name))
        .collect();
    Ok(Reply::ok(vec![Group {
        tag: tag::PRINTER,
        attrs,
    }]))
}

fn spec_for(
    ctx: &Ctx<'_>,
    request: &super::template::JobRequest,
    decision: &policy::Decision,
) -> JobSpec {
    JobSpec {
        owner: ctx.user.clone(),
        name: request.job_name.clone(),
        originating_host: ctx.peer.clone(),
        requested: request.requested,
        ticket: decision.ticket,
        media: request.media.clone(),
        hold_hours: decision.hold_hours,
    }
}

/// IT's rules for this job (`pages` once the document is in). A refusal is the rule's message,
/// as `client-error-not-possible` (the print dialog shows it).
async fn decide(
    ctx: &Ctx<'_>,
    request: &super::template::JobRequest,
    document: Option<&crate::document::Analysis>,
) -> Result<policy::Decision, IppError> {
    let name = request
        .document_name
        .clone()
        .unwrap_or_else(|| request.job_name.clone());
    decide_for(ctx, request.requested, name, document).await
}

/// IT's rules for a job asking `requested`, named `name`, with its document when it is in.
pub(super) async fn decide_for(
    ctx: &Ctx<'_>,
    requested: policy::Requested,
    name: String,
    document: Option<&crate::document::Analysis>,
) -> Result<policy::Decision, IppError> {
    let pages = document.and_then(|d| d.pages);
    let rules = ctx.svc.policy.rules().await.map_err(|e| {
        tracing::error!(error = %e, "cannot read the print rules");
        IppError::new(
            status::INTERNAL_ERROR,
            "the print rules cannot be read; try again",
        )
    })?;
    // No rules (a fresh install): the hospital default, without asking the directory.
    if rules.is_empty() && !ctx.svc.quotas.any().await.unwrap_or(false) {
        let facts = policy::Facts {
            requested,
            ..policy::Facts::default()
        };
        return Ok(policy::rules::evaluate(&rules, &facts));
    }
    let facts = policy::facts_for(
        &ctx.svc.auth.directory,
        &ctx.user,
        policy::JobFacts {
            requested,
            pages,
            color_used: document.and_then(|d| d.color_used),
            document_name: name,
            application: ctx.user_agent.clone(),
        },
    )
    .await;
    let decision = policy::rules::evaluate(&rules, &facts);
    if let Some(message) = &decision.refuse {
        tracing::info!(user = %ctx.user, rule = %decision.decided_by["refuse"].rule, "job refused by a rule");
        return Err(IppError::new(status::NOT_POSSIBLE, message.clone()));
    }
    over_budget(ctx, &decision, pages, &facts.department).await?;
    Ok(decision)
}

/// The clinical lane: a job a rule sends to a named device goes there now that it is held.
pub(super) fn route(ctx: &Ctx<'_>, job_id: i64, decision: &policy::Decision) {
    if let Some(device) = &decision.route_to_device {
        let rule = decision
            .decided_by
            .get("route_to_device")
            .map(|d| d.rule.as_str())
            .unwrap_or("");
        ctx.svc.lane.send(job_id, device, rule);
    }
}

/// A hard monthly budget this job would pass refuses it now, rather than at the copier.
async fn over_budget(
    ctx: &Ctx<'_>,
    decision: &policy::Decision,
    pages: Option<u32>,
    department: &str,
) -> Result<(), IppError> {
    let quotas = &ctx.svc.quotas;
    if !quotas.any().await.unwrap_or(false) {
        return Ok(());
    }
    let color = decision.color_mode == crate::domain::ColorMode::Color;
    let pages = u64::from(pages.unwrap_or(1).max(1)) * u64::from(decision.copies);
    match quotas.check(&ctx.user, department, color, pages).await {
        Ok(policy::quota::Verdict::Refuse(m)) => Err(IppError::new(status::NOT_POSSIBLE, m)),
        Ok(_) => Ok(()),
        Err(e) => {
            // Budgets are checked again at release: a database hiccup does not stop printing.
            tracing::warn!(error = %e, "cannot check the monthly budgets at submission");
            Ok(())
        }
    }
}

/// Print-Job (RFC 8011 §4.2.1): the document is stored, the job held.
pub async fn print_job(ctx: &Ctx<'_>, body: &mut Body) -> Result<Reply, IppError> {
    let request = job_request(ctx)?;
    let doc = body
        .receive_document(
            &ctx.svc.spool,
            request.format,
            request.compression,
            ctx.svc.info.max_job_bytes,
            request.document_name.clone(),
        )
        .await?;
    // Rules may look at the pages: decided once the document is in (and refused ones deleted).
    let decision = match decide(ctx, &request, Some(&doc.analysis)).await {
        Ok(d) => d,
        Err(e) => {
            ctx.svc.spool.discard(doc);
            return Err(e);
        }
    };
    let spec = spec_for(ctx, &request, &decision);
    let job = ctx.svc.spool.submit(spec, Some(doc)).await?;
    crate::web::guard::record("job_id", &job.id);
    tracing::info!(job_id = job.id, user = %job.owner, pages = ?job.impressions, "job held");
    route(ctx, job.id, &decision);
    Ok(Reply::ok(vec![created_group(ctx, &job)]).with_unsupported(request.unsupported))
}

/// Validate-Job (RFC 8011 §4.2.3): the same checks as Print-Job, nothing stored.
pub async fn validate_job(ctx: &Ctx<'_>) -> Result<Reply, IppError> {
    let request = job_request(ctx)?;
    decide(ctx, &request, None).await?;
    Ok(Reply::ok(Vec::new()).with_unsupported(request.unsupported))
}

/// Create-Job (RFC 8011 §4.2.4): a held job waiting for its document.
pub async fn create_job(ctx: &Ctx<'_>) -> Result<Reply, IppError> {
    let request = job_request(ctx)?;
    let decision = decide(ctx, &request, None).await?;
    let spec = spec_for(ctx, &request, &decision);
    let job = ctx.svc.spool.submit(spec, None).await?;
    crate::web::guard::record("job_id", &job.id);
    Ok(Reply::ok(vec![created_group(ctx, &job)]).with_unsupported(request.unsupported))
}

/// Get-Jobs (RFC 8011 §4.2.6).
pub async fn get_jobs(ctx: &Ctx<'_>) -> Result<Reply, IppError> {
    let which_attr = ctx.op().get("which-jobs");
    let which = match which_attr
        .and_then(|a| a.values.first())
        .map(|v| (v, as_keyword(v)))
    {
        None => Which::NotCompleted,
        Some((_, Some("not-completed"))) => Which::NotCompleted,
        Some((_, Some("completed"))) => Which::Completed,
        Some((_, Some("all"))) => Which::All,
        Some((_, Some(_))) => {
            let mut e = IppError::new(
                status::ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
                "which-jobs value not supported",
            );
            e.unsupported.extend(which_attr.cloned());
            return Err(e);
        }
        Some((_, None)) => return Err(IppError::bad_request("which-jobs must be a keyword")),
    };
    let my_jobs = match ctx.op_value("my-jobs") {
        None => false,
        Some(IppValue::Boolean(b)) => *b,
        Some(_) => return Err(IppError::bad_request("my-jobs must be a boolean")),
    };
    let limit = match ctx.op_value("limit") {
        None => 1000,
        Some(IppValue::Integer(n)) if *n > 0 => (*n).min(1000) as i64,
        Some(_) => return Err(IppError::bad_request("limit must be a positive integer")),
    };
    let owner = my_jobs.then(|| ctx.user.clone());
    let jobs = ctx.svc.spool.list(which, owner, limit).await?;
    let wanted = Wanted::from_request(ctx, &["job-id", "job-uri"]);
    // Documents are not needed for the default listing; fetch them only when asked for.
    let mut groups = Vec::with_capacity(jobs.len());
    for job in &jobs {
        groups.push(job_group(ctx, job, None, &wanted));
    }
    Ok(Reply::ok(groups))
}

/// Cancel-My-Jobs (PWG 5100.11): cancels every active job of the caller (or the listed ones).
pub async fn cancel_my_jobs(ctx: &Ctx<'_>) -> Result<Reply, IppError> {
    if !ctx.owns(&ctx.user) {
        return Err(IppError::new(
            status::NOT_AUTHORIZED,
            "anonymous jobs cannot be canceled: send requesting-user-name",
        ));
    }
    let mut ids = ctx.svc.spool.active_ids_of(ctx.user.clone()).await?;
    if let Some(a) = ctx.op().get("job-ids") {
        let listed: std::collections::BTreeSet<i64> = a
            .values
            .iter()
            .filter_map(|v| match v {
                IppValue::Integer(i) => Some(*i as i64),
                _ => None,
            })
            .collect();
        if listed.len() > 1000 {
            return Err(IppError::bad_request("job-ids lists more than 1000 jobs"));
        }
        if let Some(missing) = listed.iter().find(|id| !ids.contains(id)) {
            return Err(IppError::new(
                status::NOT_POSSIBLE,
                format!("job {missing} is not one of your active jobs"),
            ));
        }
        ids = listed.into_iter().collect();
    }
    for id in ids {
        match ctx.svc.spool.cancel(id, ctx.user.clone(), false).await {
            Ok(_) | Err(crate::spool::SpoolError::NotPossible(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Reply::ok(Vec::new()))
}
