//! A job as IPP job attributes, filtered by `requested-attributes`, with private attributes
//! (those that can name a patient) shown to the owner only.

use super::values::*;
use super::wire::{tag, Attr, Group};
use super::{Ctx, IppValue};
use crate::db::models::documents::DocumentRow;
use crate::db::models::jobs::JobRow;
use crate::domain::{ColorMode, DocumentFormat, JobState, JobStateReason, Sides};
use crate::policy::{sheets, Ticket};

/// Attributes that can name a patient, or say whose a job is: shown to the job's owner only
/// (CUPS' `JobPrivateValues`). Others, anonymous clients included, see that a job exists.
const PRIVATE: &[&str] = &[
    "job-name",
    "document-name-supplied",
    "job-originating-user-name",
];

/// Job template attributes (the "job-template" group of requested-attributes).
const TEMPLATE: &[&str] = &[
    "copies",
    "copies-actual",
    "job-hold-until",
    "job-priority",
    "media",
    "print-color-mode",
    "print-color-mode-actual",
    "sides",
    "sides-actual",
];

/// Which attributes a request wants.
pub struct Wanted {
    all: bool,
    template: bool,
    description: bool,
    names: Vec<String>,
}

impl Wanted {
    /// From `requested-attributes`; absent means `default`.
    pub fn from_request(ctx: &Ctx<'_>, default: &[&str]) -> Wanted {
        let names: Vec<String> = match ctx.op().get("requested-attributes") {
            Some(a) => a
                .values
                .iter()
                .filter_map(as_keyword)
                .map(str::to_owned)
                .collect(),
            None => default.iter().map(|s| s.to_string()).collect(),
        };
        Wanted {
            all: names.iter().any(|n| n == "all"),
            template: names.iter().any(|n| n == "job-template"),
            description: names
                .iter()
                .any(|n| n == "job-description" || n == "job-status"),
            names,
        }
    }

    fn wants(&self, name: &str) -> bool {
        if self.all || self.names.iter().any(|n| n == name) {
            return true;
        }
        if TEMPLATE.contains(&name) {
            self.template
        } else {
            self.description
        }
    }
}

fn no_value_or(v: Option<i64>, f: impl Fn(i64) -> IppValue) -> IppValue {
    v.map(f).unwrap_or(IppValue::NoValue)
}

/// The message a user sees for a job in its state.
pub fn state_message(job: &JobRow) -> String {
    if let Some(m) = &job.state_message {
        return m.clone();
    }
    reason_message(job)
}

/// The message of the job's state reason alone: what others than its owner see (a recorded
/// message can name the owner, a delegate and the copier).
fn reason_message(job: &JobRow) -> String {
    match JobStateReason::from_code(job.state_reason) {
        JobStateReason::JobIncoming => "Waiting for the document".into(),
        JobStateReason::JobHoldUntilSpecified => "Held: badge at any copier to print it".into(),
        r => r.keyword().into(),
    }
}

/// The job attributes group for `job`; `docs` is `None` when the documents were not loaded
/// (Get-Jobs), and then the attributes that come from them are left out.
pub fn job_group(
    ctx: &Ctx<'_>,
    job: &JobRow,
    docs: Option<&[DocumentRow]>,
    wanted: &Wanted,
) -> Group {
    let is_owner = ctx.owns(&job.owner);
    let state = JobState::from_code(job.state).unwrap_or(JobState::Aborted);
    let ticket = Ticket {
        sides: Sides::from_code(job.sides),
        color_mode: ColorMode::from_code(job.color_mode),
        copies: job.copies.max(1) as u32,
    };
    let secs = |ms: i64| (ms / 1000).clamp(0, i32::MAX as i64) as i32;
    let mut all: Vec<Attr> = vec![
        Attr::new("job-id", integer(job.id as i32)),
        Attr::new("job-uri", uri(&ctx.job_uri(job.id))),
        Attr::new("job-printer-uri", uri(&ctx.printer_uri())),
        Attr::new("job-uuid", uri(&format!("urn:uuid:{}", job.uuid))),
        Attr::new("job-state", enumeration(state.code() as i32)),
        Attr::set(
            "job-state-reasons",
            vec![keyword(
                JobStateReason::from_code(job.state_reason).keyword(),
            )],
        ),
        Attr::new(
            "job-state-message",
            text(&if is_owner {
                state_message(job)
            } else {
                reason_message(job)
            }),
        ),
        Attr::new("job-name", name(&job.name)),
        Attr::new("job-originating-user-name", name(&job.owner)),
        Attr::new(
            "job-printer-up-time",
            integer(secs(crate::db::now_ms()).max(1)),
        ),
        Attr::new("time-at-creation", integer(secs(job.created_at))),
        Attr::new(
            "time-at-processing",
            no_value_or(job.processing_at, |t| integer(secs(t))),
        ),
        Attr::new(
            "time-at-completed",
            no_value_or(job.completed_at, |t| integer(secs(t))),
        ),
        Attr::new("date-time-at-creation", date_time(job.created_at)),
        Attr::new(
            "date-time-at-processing",
            no_value_or(job.processing_at, date_time),
        ),
        Attr::new(
            "date-time-at-completed",
            no_value_or(job.completed_at, date_time),
        ),
        Attr::new("job-impressions-completed", integer(0)),
        Attr::new("job-media-sheets-completed", integer(0)),
        Attr::new("job-priority", integer(50)),
        Attr::new("job-hold-until", keyword("indefinite")),
        // What the client asked for, and what the policy decided will be printed (-actual).
        Attr::new(
            "sides",
            keyword(
                job.requested_sides
                    .map(Sides::from_code)
                    .unwrap_or(ticket.sides)
                    .keyword(),
            ),
        ),
        Attr::new(
            "print-color-mode",
            keyword(
                job.requested_color_mode
                    .map(ColorMode::from_code)
                    .unwrap_or(ticket.color_mode)
                    .keyword(),
            ),
        ),
        Attr::new("copies", integer(ticket.copies as i32)),
        Attr::set("sides-actual", vec![keyword(ticket.sides.keyword())]),
        Attr::set(
            "print-color-mode-actual",
            vec![keyword(ticket.color_mode.keyword())],
        ),
        Attr::set("copies-actual", vec![integer(ticket.copies as i32)]),
    ];
    if let Some(media) = &job.media {
        all.push(Attr::new("media", keyword(media)));
    }
    if let Some(pages) = job.impressions {
        all.push(Attr::new("job-impressions", integer(pages)));
        all.push(Attr::new(
            "job-media-sheets",
            integer(sheets(pages.max(0) as u32, &ticket) as i32),
        ));
    }
    if let Some(docs) = docs {
        all.push(Attr::new("number-of-documents", integer(docs.len() as i32)));
        let bytes: i64 = docs.iter().map(|d| d.size_bytes).sum();
        all.push(Attr::new(
            "job-k-octets",
            integer(((bytes + 1023) / 1024).min(i32::MAX as i64) as i32),
        ));
        if let Some(doc) = docs.first() {
            if let Some(f) = DocumentFormat::from_code(doc.format) {
                all.push(Attr::new("document-format", mime(f.mime())));
            }
            if let Some(n) = &doc.name {
                all.push(Attr::new("document-name-supplied", name(n)));
            }
        }
    }
    let attrs = all
        .into_iter()
        .filter(|a| wanted.wants(&a.name))
        .filter(|a| is_owner || !PRIVATE.contains(&a.name.as_str()))
        .collect();
    Group {
        tag: tag::JOB,
        attrs,
    }
}

/// The short job group answered by Print-Job, Create-Job and Send-Document.
pub fn created_group(ctx: &Ctx<'_>, job: &JobRow) -> Group {
    let state = JobState::from_code(job.state).unwrap_or(JobState::PendingHeld);
    Group {
        tag: tag::JOB,
        attrs: vec![
            Attr::new("job-id", integer(job.id as i32)),
            Attr::new("job-uri", uri(&ctx.job_uri(job.id))),
            Attr::new("job-state", enumeration(state.code() as i32)),
            Attr::set(
                "job-state-reasons",
                vec![keyword(
                    JobStateReason::from_code(job.state_reason).keyword(),
                )],
            ),
            Attr::new("job-state-message", text(&state_message(job))),
        ],
    }
}
