//! The archive pipeline in the console: how many captures and documents are at each stage and
//! how many were delivered today, the quarantine with its actions (retry, name who scanned,
//! name the patient or the category, reject with a justification), and the QC samples waiting
//! for a reviewer, with the last 24 hours drawn (scans received, documents delivered and
//! quarantined per hour). Administrators act on the quarantine, QC reviewers decide on the
//! samples; auditors look.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::{gate, message, posted, render, see_other_with, ConsoleSessions, Staff};
use crate::archive::actions::{act, Action, ActionError, Target};
use crate::archive::pipeline::{Pipeline, PATIENT};
use crate::capture::CaptureService;
use crate::db::models::{scan_captures as captures, scan_documents as documents};
use crate::db::DbError;
use crate::directory::settings::Role;
use crate::directory::DirectoryService;

const READERS: &[Role] = &[Role::Admin, Role::Auditor, Role::Reviewer];
const ACTORS: &[Role] = &[Role::Admin];
/// QC decisions are the reviewers' (medical records staff), not IT's.
const REVIEWERS: &[Role] = &[Role::Reviewer];

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/scans", web::get().to(page))
        .route(
            "/scans/captures/{id}/action",
            web::post().to(capture_action),
        )
        .route(
            "/scans/documents/{id}/action",
            web::post().to(document_action),
        )
        .route("/scans/documents/{id}/qc", web::post().to(qc_review));
}

/// One quarantined item as the page lists it.
pub struct Held {
    pub kind: &'static str,
    pub id: i64,
    pub device: String,
    pub patient: String,
    pub stage: String,
    pub reason: String,
}

/// A sampled document waiting for review.
pub struct Sample {
    pub id: i64,
    pub lot: String,
    pub patient: String,
    pub category: String,
    pub pages: String,
}

#[derive(Template)]
#[template(path = "console/scans.html")]
struct ScansPage {
    staff: Staff,
    nav: &'static str,
    notice: Option<String>,
    captures: Vec<(String, i64)>,
    documents: Vec<(String, i64)>,
    delivered_today: i64,
    held: Vec<Held>,
    samples: Vec<Sample>,
    /// Scans received per hour, the last 24 hours (SVG).
    received_chart: String,
    /// Documents delivered and quarantined per hour (SVG).
    outcome_chart: String,
}

/// The last 24 hours, hour by hour: (start of each hour in ms, its local label).
fn last_day_hours(now: jiff::Zoned) -> Vec<(i64, String)> {
    let hour = now
        .round(
            jiff::ZonedRound::new()
                .smallest(jiff::Unit::Hour)
                .mode(jiff::RoundMode::Trunc),
        )
        .unwrap_or(now);
    (0..24)
        .rev()
        .filter_map(|back| hour.checked_sub(jiff::Span::new().hours(back)).ok())
        .map(|h| {
            (
                h.timestamp().as_millisecond(),
                h.strftime("%Hh").to_string(),
            )
        })
        .collect()
}

/// How many of `times` fall in each hour of `hours`.
fn per_hour(hours: &[(i64, String)], times: &[i64]) -> Vec<u64> {
    let mut counts = vec![0u64; hours.len()];
    for t in times {
        if let Some(i) = hours.iter().rposition(|(start, _)| start <= t) {
            counts[i] += 1;
        }
    }
    counts
}

/// The overview's two charts: scans received, documents delivered and quarantined.
fn charts(
    hours: &[(i64, String)],
    received: &[i64],
    delivered: &[i64],
    held: &[i64],
) -> (String, String) {
    use crate::reports::svg::{stacked, Bar, Stacked};
    let bars = |a: Vec<u64>, b: Vec<u64>| -> Vec<Bar> {
        hours
            .iter()
            .zip(a.into_iter().zip(b))
            .map(|((_, label), (a, b))| Bar {
                title: label.clone(),
                axis: label.clone(),
                values: [a, b],
            })
            .collect()
    };
    let zero = vec![0; hours.len()];
    let received = bars(per_hour(hours, received), zero);
    let outcomes = bars(per_hour(hours, delivered), per_hour(hours, held));
    (
        stacked(&Stacked {
            id: "chart-received",
            label: "Scans received per hour, last 24 hours",
            series: ["scans received", ""],
            bars: &received,
        }),
        stacked(&Stacked {
            id: "chart-outcomes",
            label: "Documents delivered and quarantined per hour, last 24 hours",
            series: ["delivered", "quarantined"],
            bars: &outcomes,
        }),
    )
}

#[derive(serde::Deserialize)]
struct Query {
    #[serde(default)]
    done: Option<String>,
}

async fn page(
    req: HttpRequest,
    query: web::Query<Query>,
    sessions: web::Data<ConsoleSessions>,
    capture: web::Data<CaptureService>,
) -> HttpResponse {
    let staff = match gate(&req, &sessions, READERS).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let midnight = super::pages::start_of_today_ms();
    let hours = last_day_hours(jiff::Zoned::now());
    let since = hours.first().map_or(midnight, |h| h.0);
    let found = capture
        .db()
        .run(move |conn| {
            Ok::<_, DbError>((
                captures::count_by_stage(conn)?,
                documents::count_by_stage(conn)?,
                documents::delivered_since(conn, midnight)?,
                captures::quarantined(conn, 200)?,
                documents::quarantined(conn, 200)?,
                documents::awaiting_review(conn, 200)?,
                (
                    captures::received_since(conn, since)?,
                    documents::delivery_times_since(conn, since)?,
                    [
                        captures::quarantined_since(conn, since)?,
                        documents::quarantined_since(conn, since)?,
                    ]
                    .concat(),
                ),
            ))
        })
        .await;
    let (
        capture_counts,
        document_counts,
        delivered_today,
        held_captures,
        held_documents,
        waiting,
        (received, delivered, quarantined),
    ) = match found {
        Ok(x) => x,
        Err(e) => {
            tracing::error!(error = %e, "scans page query failed");
            return message(
                &staff,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Scans",
                "The pipeline cannot be read now; the details are in Folio's log.",
            );
        }
    };
    let master = capture.spool().master();
    let patient = |p: &Option<String>| {
        p.as_deref()
            .and_then(|p| master.open_text(p, PATIENT))
            .unwrap_or_default()
    };
    let mut held: Vec<Held> = held_captures
        .iter()
        .map(|c| Held {
            kind: "captures",
            id: c.id,
            device: c.device_name.clone(),
            patient: String::new(),
            stage: c.quarantine_stage.clone().unwrap_or_default(),
            reason: c.quarantine_reason.clone().unwrap_or_default(),
        })
        .collect();
    held.extend(held_documents.iter().map(|d| Held {
        kind: "documents",
        id: d.id,
        device: String::new(),
        patient: patient(&d.patient),
        stage: d.quarantine_stage.clone().unwrap_or_default(),
        reason: d.quarantine_reason.clone().unwrap_or_default(),
    }));
    let samples = waiting
        .iter()
        .map(|d| Sample {
            id: d.id,
            lot: d.qc_lot.clone().unwrap_or_default(),
            patient: patient(&d.patient),
            category: d.category_label.clone().unwrap_or_default(),
            pages: d.pages.clone(),
        })
        .collect();
    let (received_chart, outcome_chart) = charts(&hours, &received, &delivered, &quarantined);
    render(
        StatusCode::OK,
        &ScansPage {
            staff,
            nav: "scans",
            notice: query.done.clone(),
            captures: capture_counts,
            documents: document_counts,
            delivered_today,
            held,
            samples,
            received_chart,
            outcome_chart,
        },
    )
}

/// The action a console form asks for.
fn action_of(form: &crate::web::form::Form) -> Result<Action, String> {
    let text = |k: &str| form.get(k).trim().to_owned();
    Ok(match form.get("action") {
        "retry" => Action::Retry,
        "attribute" => Action::Attribute { user: text("user") },
        "identify" => Action::Identify {
            patient: text("patient"),
            encounter: text("encounter"),
        },
        "classify" => Action::Classify {
            category: text("category"),
        },
        "reject" => Action::Reject {
            justification: text("justification"),
        },
        other => return Err(format!("unknown action `{other}`")),
    })
}

async fn capture_action(
    req: HttpRequest,
    path: web::Path<i64>,
    body: web::Bytes,
    deps: Deps,
) -> HttpResponse {
    run_action(req, Target::Capture(*path), body, deps).await
}

async fn document_action(
    req: HttpRequest,
    path: web::Path<i64>,
    body: web::Bytes,
    deps: Deps,
) -> HttpResponse {
    run_action(req, Target::Document(*path), body, deps).await
}

/// What the action handlers need, extracted together.
#[derive(Clone)]
struct Deps {
    sessions: web::Data<ConsoleSessions>,
    capture: web::Data<CaptureService>,
    pipeline: web::Data<Pipeline>,
    directory: web::Data<DirectoryService>,
}

impl actix_web::FromRequest for Deps {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Deps, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let missing = || actix_web::error::ErrorInternalServerError("the console is not set up");
        std::future::ready((|| {
            Ok(Deps {
                sessions: req
                    .app_data::<web::Data<ConsoleSessions>>()
                    .cloned()
                    .ok_or_else(missing)?,
                capture: req
                    .app_data::<web::Data<CaptureService>>()
                    .cloned()
                    .ok_or_else(missing)?,
                pipeline: req
                    .app_data::<web::Data<Pipeline>>()
                    .cloned()
                    .ok_or_else(missing)?,
                directory: req
                    .app_data::<web::Data<DirectoryService>>()
                    .cloned()
                    .ok_or_else(missing)?,
            })
        })())
    }
}

async fn run_action(
    req: HttpRequest,
    target: Target,
    body: web::Bytes,
    deps: Deps,
) -> HttpResponse {
    let (staff, form) = match posted(&req, &body, &deps.sessions, ACTORS).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let action = match action_of(&form) {
        Ok(a) => a,
        Err(e) => return message(&staff, StatusCode::BAD_REQUEST, "Not done", &e),
    };
    let result = act(
        deps.capture.db(),
        deps.capture.spool().master(),
        &deps.directory,
        deps.pipeline.plan(),
        target,
        action,
        &staff.uid,
    )
    .await;
    let (kind, id) = match target {
        Target::Capture(id) => ("Scan", id),
        Target::Document(id) => ("Document", id),
    };
    match result {
        Ok(stage) => see_other_with("/scans", "done", &format!("{kind} {id}: now at {stage}.")),
        Err(ActionError::Invalid(m)) => {
            message(&staff, StatusCode::UNPROCESSABLE_ENTITY, "Not done", &m)
        }
        Err(ActionError::NotFound) => {
            message(&staff, StatusCode::NOT_FOUND, "Not done", "No such item.")
        }
        Err(e @ ActionError::NotQuarantined(_)) => {
            message(&staff, StatusCode::CONFLICT, "Not done", &e.to_string())
        }
        Err(ActionError::Db(e)) => {
            tracing::error!(error = %e, "console scan action failed");
            message(
                &staff,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Not done",
                "The details are in Folio's log.",
            )
        }
    }
}

async fn qc_review(
    req: HttpRequest,
    path: web::Path<i64>,
    body: web::Bytes,
    deps: Deps,
) -> HttpResponse {
    let (staff, form) = match posted(&req, &body, &deps.sessions, REVIEWERS).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let decision = form.get("decision").to_owned();
    let reason = form.get("reason").trim().to_owned();
    if !matches!(decision.as_str(), "accept" | "reject")
        || (decision == "reject" && reason.is_empty())
    {
        return message(
            &staff,
            StatusCode::BAD_REQUEST,
            "Not done",
            "Accept, or reject with a reason.",
        );
    }
    let id = *path;
    let done =
        crate::archive::qc::review(deps.capture.db(), id, decision, reason, staff.uid.clone())
            .await;
    match done {
        Ok(true) => see_other_with("/scans", "done", &format!("Document {id} reviewed.")),
        Ok(false) => message(
            &staff,
            StatusCode::NOT_FOUND,
            "Not done",
            "No such sampled document.",
        ),
        Err(e) => {
            tracing::error!(error = %e, "console QC review failed");
            message(
                &staff,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Not done",
                "The details are in Folio's log.",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_day_is_counted_hour_by_hour() {
        let now: jiff::Zoned = "2026-11-22T14:35:00+01:00[Europe/Paris]".parse().unwrap();
        let hours = last_day_hours(now.clone());
        assert_eq!(hours.len(), 24);
        assert_eq!(hours.last().unwrap().1, "14h");
        assert_eq!(hours[0].1, "15h");
        let at = |s: &str| s.parse::<jiff::Timestamp>().unwrap().as_millisecond();
        let times = [
            at("2026-11-22T13:59:00Z"), // 14h59 in Paris
            at("2026-11-22T13:00:00Z"),
            at("2026-11-21T14:00:00Z"), // 15h the day before: the first hour
            at("2026-11-21T13:00:00Z"), // before the window
        ];
        let counts = per_hour(&hours, &times);
        assert_eq!(
            (counts[23], counts[0], counts.iter().sum::<u64>()),
            (2, 1, 3)
        );
        let (a, b) = charts(&hours, &times, &[], &times[..1]);
        assert!(a.contains("id=\"chart-received\"") && b.contains("1 quarantined"));
    }
}
