//! The audit log page (administrators and auditors): filters by who, action, dates; paging;
//! CSV export of what the filters select; a check of the hash chain on demand.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::pages::local;
use super::{gate, render, ConsoleSessions, Staff};
use crate::db::models::audit_events::{self as rows, AuditQuery, AuditRow};
use crate::db::DbError;
use crate::directory::settings::Role;

const READERS: &[Role] = &[Role::Admin, Role::Auditor];
/// Events per page.
const PAGE: i64 = 200;
/// Events in one CSV export.
const CSV_MAX: i64 = 100_000;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/audit", web::get().to(page))
        .route("/audit.csv", web::get().to(csv));
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
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub object: String,
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
        Some(crate::audit::Verdict::Intact { events }) => (
            Some(format!(
                "The chain is intact: {events} events, each linked to the one before."
            )),
            true,
        ),
        Some(crate::audit::Verdict::Broken { id, reason }) => (
            Some(format!("The chain is broken at event {id}: {reason}.")),
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
        id: e.id,
        at: local(e.at),
        actor: e.actor.clone(),
        action: e.action.clone(),
        object: e.object.clone(),
        detail: e.detail.clone(),
    }
}

/// One CSV field: quoted when needed, and defused for spreadsheets (a leading `=`, `+`, `-`,
/// `@` would be read as a formula).
pub fn csv_field(s: &str) -> String {
    let defused = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

async fn csv(
    req: HttpRequest,
    filters: web::Query<Filters>,
    sessions: web::Data<ConsoleSessions>,
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
        .run(move |conn| Ok::<_, DbError>(rows::search(conn, &query, CSV_MAX)?))
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
    let mut out = String::from("id,at,actor,action,object,detail,hash\r\n");
    for e in &events {
        let fields = [
            e.id.to_string(),
            local(e.at),
            e.actor.clone(),
            e.action.clone(),
            e.object.clone(),
            e.detail.clone(),
            e.hash.clone(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    tracing::info!(user = %staff.uid, events = events.len(), "audit log exported");
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"folio-audit.csv\"",
        ))
        .content_type("text/csv; charset=utf-8")
        .body(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-2"), "'-2");
    }
}
