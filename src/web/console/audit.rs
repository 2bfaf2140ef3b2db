//! The audit log page (administrators and auditors): filters by who, action, dates; paging;
//! CSV export of what the filters select; a check of the hash chain on demand.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::pages::local;
use super::{gate, render, ConsoleSessions, Staff};
use crate::audit::export::{Format, Writer};
use crate::db::models::audit_events::{self as rows, AuditQuery, AuditRow};
use crate::db::DbError;
use crate::directory::settings::Role;

const READERS: &[Role] = &[Role::Admin, Role::Auditor];
/// Events per page.
const PAGE: i64 = 200;
/// Events in one export (`folio audit export` has no limit).
const EXPORT_MAX: i64 = 100_000;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/audit", web::get().to(page))
        .route("/audit.csv", web::get().to(csv))
        .route("/audit.json", web::get().to(json));
}

#[derive(serde::Deserialize, Default)]
struct Filters {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    before: Option<i64>,
    #[serde(default)]
    verify: Option<String>,
}

/// Midnight (local time) of `YYYY-MM-DD`, in ms.
fn day_start(s: &str) -> Result<i64, String> {
    let date: jiff::civil::Date = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a date (YYYY-MM-DD)"))?;
    date.to_zoned(jiff::tz::TimeZone::system())
        .map(|z| z.timestamp().as_millisecond())
        .map_err(|e| e.to_string())
}

impl Filters {
    fn query(&self) -> Result<AuditQuery, String> {
        let text = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
        Ok(AuditQuery {
            actor: text(&self.actor),
            action_prefix: text(&self.action),
            from: match text(&self.from) {
                Some(d) => Some(day_start(&d)?),
                None => None,
            },
            // "To" includes that whole day.
            until: match text(&self.to) {
                Some(d) => Some(day_start(&d)? + 86_400_000),
                None => None,
            },
            before_id: self.before,
        })
    }

    /// The filters as a query string (for the export and paging links).
    fn as_query_string(&self) -> String {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("actor", &self.actor)
            .append_pair("action", &self.action)
            .append_pair("from", &self.from)
            .append_pair("to", &self.to)
            .finish()
    }
}

/// An event as the page shows it.
pub struct EventLine {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub object: String,
    pub device: String,
    pub failed: bool,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage {
    staff: Staff,
    nav: &'static str,
    actor: String,
    action: String,
    from: String,
    to: String,
    query: String,
    error: Option<String>,
    verdict: Option<String>,
    intact: bool,
    events: Vec<EventLine>,
    older: Option<i64>,
}

async fn page(
    req: HttpRequest,
    filters: web::Query<Filters>,
    sessions: web::Data<ConsoleSessions>,
) -> HttpResponse {
    let staff = match gate(&req, &sessions, READERS).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (query, error) = match filters.query() {
        Ok(q) => (q, None),
        Err(e) => (AuditQuery::default(), Some(e)),
    };
    let verify = filters.verify.is_some();
    let found = sessions
        .db
        .run(move |conn| {
            let events = rows::search(conn, &query, PAGE)?;
            let verdict = if verify {
                Some(crate::audit::verify(conn)?)
            } else {
                None
            };
            Ok::<_, DbError>((events, verdict))
        })
        .await;
    let (events, verdict) = match found {
        Ok(x) => x,
        Err(e) => {
            tracing::error!(error = %e, "audit page query failed");
            (Vec::new(), None)
        }
    };
    let (verdict, intact) = match verdict {
        Some(crate::audit::Verdict::Intact { events, head }) => (
            Some(match head {
                Some((seq, hash)) => format!(
                    "The chain is intact: {events} events, each linked to the one before. \
                     Newest: event {seq}, hash {hash}."
                ),
                None => "The chain is intact: no events yet.".to_owned(),
            }),
            true,
        ),
        Some(crate::audit::Verdict::Broken { seq, reason }) => (
            Some(format!("The chain is broken at event {seq}: {reason}.")),
            false,
        ),
        None => (None, true),
    };
    let older = (events.len() as i64 == PAGE)
        .then(|| events.last().map(|e| e.id))
        .flatten();
    render(
        if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        &AuditPage {
            nav: "audit",
            actor: filters.actor.clone(),
            action: filters.action.clone(),
            from: filters.from.clone(),
            to: filters.to.clone(),
            query: filters.as_query_string(),
            error,
            verdict,
            intact,
            events: events.iter().map(line).collect(),
            older,
            staff,
        },
    )
}

fn line(e: &AuditRow) -> EventLine {
    EventLine {
        seq: e.seq,
        at: local(e.at),
        actor: e.actor.clone(),
        action: e.action.clone(),
        object: e.object.clone(),
        device: e.device.clone(),
        failed: e.outcome != "success",
        detail: e.detail.clone(),
    }
}

async fn csv(
    req: HttpRequest,
    filters: web::Query<Filters>,
    sessions: web::Data<ConsoleSessions>,
) -> HttpResponse {
    export(req, filters, sessions, Format::Csv).await
}

async fn json(
    req: HttpRequest,
    filters: web::Query<Filters>,
    sessions: web::Data<ConsoleSessions>,
) -> HttpResponse {
    export(req, filters, sessions, Format::Json).await
}

/// The events the filters select, newest first, as a download.
async fn export(
    req: HttpRequest,
    filters: web::Query<Filters>,
    sessions: web::Data<ConsoleSessions>,
    format: Format,
) -> HttpResponse {
    let staff = match gate(&req, &sessions, READERS).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let query = match filters.query() {
        Ok(q) => q,
        Err(e) => return super::message(&staff, StatusCode::BAD_REQUEST, "Cannot export", &e),
    };
    let events = match sessions
        .db
        .run(move |conn| Ok::<_, DbError>(rows::search(conn, &query, EXPORT_MAX)?))
        .await
    {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %e, "audit export failed");
            return super::message(
                &staff,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Cannot export",
                "The export failed; the details are in Folio's log.",
            );
        }
    };
    let mut out = Vec::new();
    let written = Writer::new(&mut out, format).and_then(|mut w| {
        for e in &events {
            w.write(e)?;
        }
        w.finish()
    });
    if let Err(e) = written {
        tracing::error!(error = %e, "audit export failed");
        return HttpResponse::InternalServerError().finish();
    }
    tracing::info!(user = %staff.uid, events = events.len(), "audit log exported");
    let (content_type, file) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "folio-audit.csv"),
        Format::Json => ("application/json", "folio-audit.json"),
    };
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file}\""),
        ))
        .content_type(content_type)
        .body(out)
}
