//! One scanned document in the console: where it came from (copier, who scanned it and how),
//! what it was filed as (patient, category, retention), its QC and seal, and its full trace
//! (every audit event of its capture, of itself and of its QC lot, in order). QC reviewers also see its
//! pages, drawn from the encrypted master on demand; each page shown is an audit event, as
//! every look at a patient's record must be.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::pages::local;
use super::{gate, message, render, ConsoleSessions, Staff};
use crate::archive::pipeline::{Pipeline, PATIENT};
use crate::archive::preview;
use crate::archive::untrusted::Failure;
use crate::audit::{self, Outcome};
use crate::capture::CaptureService;
use crate::db::models::scan_captures::{self as captures, CaptureRow};
use crate::db::models::scan_documents::{self as documents, DocumentRow, SealRow};
use crate::db::models::{audit_events, audit_events::AuditRow};
use crate::db::DbError;
use crate::directory::settings::Role;

const READERS: &[Role] = &[Role::Admin, Role::Auditor, Role::Reviewer];
const REVIEWERS: &[Role] = &[Role::Reviewer];
/// Events shown on one trace (a document has a few dozen).
const TRACE_LIMIT: i64 = 500;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/scans/documents/{id}", web::get().to(page))
        .route("/scans/documents/{id}/pages/{page}", web::get().to(image));
}

/// One line of the trace.
pub struct TraceLine {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub object: String,
    pub failed: bool,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "console/scan_document.html")]
struct DocumentPage {
    staff: Staff,
    nav: &'static str,
    doc: DocumentRow,
    capture: CaptureRow,
    seal: Option<SealRow>,
    patient: String,
    encounter: String,
    /// The master's pages in this document, numbered from 1.
    master_pages: Vec<usize>,
    received: String,
    delivered: String,
    trace: Vec<TraceLine>,
}

/// The master's pages (0-based) a document holds.
fn pages_of(doc: &DocumentRow) -> Vec<usize> {
    serde_json::from_str(&doc.pages).unwrap_or_default()
}

async fn load(
    capture: &CaptureService,
    id: i64,
) -> Result<Option<(DocumentRow, CaptureRow, Option<SealRow>)>, DbError> {
    capture
        .db()
        .run(move |conn| {
            let Some(doc) = documents::find(conn, id)? else {
                return Ok(None);
            };
            let Some(row) = captures::find(conn, doc.capture_id)? else {
                return Ok(None);
            };
            let seal = documents::seal_of(conn, id)?;
            Ok::<_, DbError>(Some((doc, row, seal)))
        })
        .await
}

async fn page(
    req: HttpRequest,
    path: web::Path<i64>,
    sessions: web::Data<ConsoleSessions>,
    capture: web::Data<CaptureService>,
) -> HttpResponse {
    let staff = match gate(&req, &sessions, READERS).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let id = *path;
    let failed = |staff: &Staff, e: DbError| {
        tracing::error!(error = %e, document = id, "document page query failed");
        message(
            staff,
            StatusCode::INTERNAL_SERVER_ERROR,
            "Document",
            "The document cannot be read now; the details are in Folio's log.",
        )
    };
    // A reviewer who is not also IT sees the documents drawn for QC review, not the archive.
    let reviewer_only = staff.can_review && !staff.can_audit;
    let (doc, row, seal) = match load(&capture, id).await {
        Ok(Some(x)) if !reviewer_only || x.0.qc_sampled == 1 => x,
        Ok(_) => {
            return message(
                &staff,
                StatusCode::NOT_FOUND,
                "Document",
                "No such document.",
            )
        }
        Err(e) => return failed(&staff, e),
    };
    // Its capture, itself, and its QC lot (the sampling draw and the lot's fate).
    let mut objects = vec![format!("scan:{}", row.id), format!("scan-document:{id}")];
    objects.extend(doc.qc_lot.as_ref().map(|lot| format!("qc-lot:{lot}")));
    let events = match capture
        .db()
        .run(move |conn| Ok::<_, DbError>(audit_events::about(conn, &objects, TRACE_LIMIT)?))
        .await
    {
        Ok(e) => e,
        Err(e) => return failed(&staff, e),
    };
    let master = capture.spool().master();
    let open = |p: &Option<String>| {
        p.as_deref()
            .and_then(|p| master.open_text(p, PATIENT))
            .unwrap_or_default()
    };
    render(
        StatusCode::OK,
        &DocumentPage {
            patient: open(&doc.patient),
            encounter: open(&doc.encounter),
            master_pages: pages_of(&doc).iter().map(|p| p + 1).collect(),
            received: local(row.received_at),
            delivered: seal
                .as_ref()
                .and_then(|s| s.delivered_at)
                .map(local)
                .unwrap_or_default(),
            trace: events.iter().map(trace_line).collect(),
            staff,
            nav: "scans",
            doc,
            capture: row,
            seal,
        },
    )
}

fn trace_line(e: &AuditRow) -> TraceLine {
    TraceLine {
        at: local(e.at),
        actor: e.actor.clone(),
        action: e.action.clone(),
        object: e.object.clone(),
        failed: e.outcome == Outcome::Failure.as_str(),
        detail: e.detail.clone(),
    }
}

/// Page `page` (from 1) of a document, as a PNG, for QC reviewers only.
async fn image(
    req: HttpRequest,
    path: web::Path<(i64, usize)>,
    sessions: web::Data<ConsoleSessions>,
    capture: web::Data<CaptureService>,
    pipeline: web::Data<Pipeline>,
) -> HttpResponse {
    let staff = match gate(&req, &sessions, REVIEWERS).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (id, number) = path.into_inner();
    let not_found = || HttpResponse::NotFound().body("no such page\n");
    let (doc, row) = match load(&capture, id).await {
        // Reviewers see the pages of documents drawn for QC review, nothing else.
        Ok(Some((doc, row, _))) if doc.qc_sampled == 1 => (doc, row),
        Ok(_) => return not_found(),
        Err(e) => {
            tracing::error!(error = %e, document = id, "page image query failed");
            return HttpResponse::InternalServerError().body("the page cannot be read now\n");
        }
    };
    let Some(index) = number
        .checked_sub(1)
        .and_then(|n| pages_of(&doc).get(n).copied())
    else {
        return not_found();
    };
    let bytes = match pipeline.master(&row).await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, document = id, "page image: master unreadable");
            return HttpResponse::InternalServerError().body("the scan cannot be read now\n");
        }
    };
    let format = row.format.clone().unwrap_or_default();
    let readers = pipeline.readers().clone();
    let drawn = tokio::task::spawn_blocking(move || {
        readers.page_png(&bytes, &format, index, preview::SCREEN_WIDTH)
    })
    .await;
    let png = match drawn {
        Ok(Ok(Some(png))) => png,
        Ok(Ok(None)) => return not_found(),
        Ok(Err(Failure::Scan(e))) => {
            return HttpResponse::UnprocessableEntity().body(format!("{e}\n"));
        }
        Ok(Err(Failure::Passing(e))) => {
            tracing::error!(error = %e, document = id, "page image: no reader");
            return HttpResponse::ServiceUnavailable().body("the page cannot be drawn now\n");
        }
        Err(_) => return HttpResponse::InternalServerError().body("interrupted\n"),
    };
    audit::record(
        capture.db(),
        audit::Record {
            actor: staff.uid.clone(),
            action: "scan.page_viewed",
            object: format!("scan-document:{id}"),
            device: None,
            outcome: Outcome::Success,
            detail: serde_json::json!({ "page": number, "master_page": index + 1 }),
        },
    )
    .await;
    HttpResponse::Ok()
        .content_type("image/png")
        .insert_header((header::CACHE_CONTROL, "no-store, private"))
        .body(png)
}
