//! `/api/v1/scans`: copiers upload scans with their device token (the raw file, or a
//! `multipart/form-data` form with a `file` part and an optional `metadata` JSON part), and
//! ask where a scan is. 201 only once the master is safe (see `capture`).

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde_json::json;

use super::me::{authenticated, ApiError};
use super::release::device_of;
use crate::archive::actions::{act, Action, ActionError, Target};
use crate::archive::pipeline::{Pipeline, ENCOUNTER, PATIENT};
use crate::capture::{Arrival, CaptureError, CaptureService, Incoming, FILE_NAME};
use crate::config::RolesSettings;
use crate::db::models::scan_captures::{self as rows, CaptureRow};
use crate::db::models::scan_documents::{self as documents, DocumentRow, SealRow};
use crate::db::DbError;
use crate::devices::DeviceRegistry;
use crate::directory::DirectoryService;

/// Largest metadata part or header accepted.
const MAX_METADATA: usize = 16 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/scans", web::post().to(upload))
        .route("/api/v1/scans/{id}", web::get().to(show))
        .route("/api/v1/scans/documents/{id}/qc", web::post().to(review))
        .route("/api/v1/scans/{id}/actions", web::post().to(item_action))
        .route(
            "/api/v1/scans/documents/{id}/actions",
            web::post().to(item_action),
        );
}

fn capture_error(e: CaptureError) -> ApiError {
    match e {
        CaptureError::Temporary(m) => {
            tracing::warn!(reason = %m, "scan refused for now");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "try_again_later",
                "Folio cannot store scans right now; keep the scan and send it again later",
            )
        }
        CaptureError::Refused(m) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "scan_refused", m)
        }
    }
}

fn bad_metadata(m: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "bad_metadata",
        format!("the scan's metadata is not a JSON object: {m}"),
    )
}

fn parse_metadata(raw: &[u8]) -> Result<serde_json::Value, ApiError> {
    if raw.len() > MAX_METADATA {
        return Err(bad_metadata("larger than 16 KB"));
    }
    let v: serde_json::Value = serde_json::from_slice(raw).map_err(bad_metadata)?;
    if !v.is_object() {
        return Err(bad_metadata("not an object"));
    }
    Ok(v)
}

/// The file name from `Content-Disposition: …; filename="…"`, if any.
fn disposition_name(req: &HttpRequest) -> Option<String> {
    let value = req
        .headers()
        .get(header::CONTENT_DISPOSITION)?
        .to_str()
        .ok()?;
    let cd =
        header::ContentDisposition::from_raw(&header::HeaderValue::from_str(value).ok()?).ok()?;
    cd.get_filename().map(str::to_owned)
}

async fn upload(
    req: HttpRequest,
    mut payload: web::Payload,
    devices: web::Data<DeviceRegistry>,
    capture: web::Data<CaptureService>,
) -> Result<HttpResponse, ApiError> {
    let device = device_of(&req, &devices).await?;
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    let mut arrival = Arrival {
        channel: "http",
        device: Some(device),
        ..Arrival::default()
    };
    let mut incoming = capture.begin().map_err(capture_error)?;
    if multipart {
        let (name, sidecar) = read_form(&req, payload, &mut incoming).await?;
        arrival.file_name = name;
        arrival.sidecar = sidecar;
    } else {
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_body",
                    format!("the upload broke off: {e}"),
                )
            })?;
            incoming.write(&chunk).map_err(capture_error)?;
        }
        arrival.file_name = disposition_name(&req).unwrap_or_default();
        if let Some(raw) = req.headers().get("x-folio-metadata") {
            arrival.sidecar = Some(parse_metadata(raw.as_bytes())?);
        }
    }
    let receipt = capture
        .finish(incoming, arrival)
        .await
        .map_err(capture_error)?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/scans/{}", receipt.id)))
        .json(receipt))
}

/// Reads a form: the `file` part into the master, the `metadata` part as JSON.
async fn read_form(
    req: &HttpRequest,
    payload: web::Payload,
    incoming: &mut Incoming,
) -> Result<(String, Option<serde_json::Value>), ApiError> {
    let bad = |m: String| ApiError::new(StatusCode::BAD_REQUEST, "bad_form", m);
    let mut form = actix_multipart::Multipart::new(req.headers(), payload.into_inner());
    let (mut name, mut sidecar, mut got_file) = (String::new(), None, false);
    while let Some(field) = form.next().await {
        let mut field = field.map_err(|e| bad(format!("the form is malformed: {e}")))?;
        let part = field.name().unwrap_or_default().to_owned();
        match part.as_str() {
            "file" if !got_file => {
                got_file = true;
                name = field
                    .content_disposition()
                    .and_then(|cd| cd.get_filename())
                    .unwrap_or_default()
                    .to_owned();
                while let Some(chunk) = field.next().await {
                    let chunk = chunk.map_err(|e| bad(format!("the upload broke off: {e}")))?;
                    incoming.write(&chunk).map_err(capture_error)?;
                }
            }
            "metadata" => {
                let mut raw = Vec::new();
                while let Some(chunk) = field.next().await {
                    let chunk = chunk.map_err(|e| bad(format!("the form is malformed: {e}")))?;
                    raw.extend_from_slice(&chunk);
                    if raw.len() > MAX_METADATA {
                        return Err(bad_metadata("larger than 16 KB"));
                    }
                }
                sidecar = Some(parse_metadata(&raw)?);
            }
            other => {
                return Err(bad(format!(
                    "unexpected form part `{other}` (file, metadata)"
                )))
            }
        }
    }
    if !got_file {
        return Err(bad("the form has no `file` part".into()));
    }
    Ok((name, sidecar))
}

/// A document as the API shows it (the patient only to those who may see the capture).
fn document_view(
    d: &DocumentRow,
    seal: Option<&SealRow>,
    capture: &CaptureService,
) -> serde_json::Value {
    let master = capture.spool().master();
    let pages: serde_json::Value = serde_json::from_str(&d.pages).unwrap_or_default();
    json!({
        "id": d.id,
        "uuid": d.uuid,
        "pages": pages,
        "cover_page": d.cover_page,
        "patient": d.patient.as_deref().and_then(|p| master.open_text(p, PATIENT)),
        "encounter": d.encounter.as_deref().and_then(|p| master.open_text(p, ENCOUNTER)),
        "category": d.category,
        "category_label": d.category_label,
        "retention": d.retention,
        "stage": d.stage,
        "qc": { "lot": d.qc_lot, "sampled": d.qc_sampled == 1, "decision": d.qc_decision },
        "seal": seal.map(|s| json!({
            "sha256": s.rendition_sha256,
            "size": s.rendition_size,
            "tsa_time": s.tsa_time,
            "delivered_at": s.delivered_at.map(crate::audit::export::utc),
        })),
        "quarantine": d.quarantine_reason.as_ref().map(|r| json!({ "stage": d.quarantine_stage, "reason": r })),
    })
}

/// A capture as the API shows it.
fn view(
    row: &CaptureRow,
    docs: &[(DocumentRow, Option<SealRow>)],
    capture: &CaptureService,
) -> serde_json::Value {
    let master = capture.spool().master();
    let attributes: serde_json::Value =
        serde_json::from_str(&row.attributes).unwrap_or(serde_json::Value::Null);
    json!({
        "id": row.id,
        "uuid": row.uuid,
        "channel": row.channel,
        "device": row.device_name,
        "received_at": crate::audit::export::utc(row.received_at),
        "file_name": master.open_text(&row.file_name, FILE_NAME),
        "size_bytes": row.size_bytes,
        "sha256": row.sha256,
        "duplicate_of": row.duplicate_of,
        "user": row.uid,
        "attribution": { "method": row.attribution_method, "strength": row.attribution_strength, "directory": attributes },
        "format": row.format,
        "pages": row.pages,
        "stage": row.stage,
        "attempts": row.attempts,
        "quarantine": row.quarantine_reason.as_ref().map(|r| json!({ "stage": row.quarantine_stage, "reason": r })),
        "documents": docs.iter().map(|(d, s)| document_view(d, s.as_ref(), capture)).collect::<Vec<_>>(),
    })
}

async fn show(
    req: HttpRequest,
    id: web::Path<String>,
    devices: web::Data<DeviceRegistry>,
    directory: web::Data<DirectoryService>,
    roles: web::Data<RolesSettings>,
    capture: web::Data<CaptureService>,
) -> Result<HttpResponse, ApiError> {
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such scan");
    let id: i64 = id.parse().map_err(|_| not_found())?;
    let (row, docs) = capture
        .db()
        .run(move |conn| {
            Ok::<_, DbError>(match rows::find(conn, id)? {
                Some(row) => {
                    let mut docs = Vec::new();
                    for d in documents::of_capture(conn, id)? {
                        let seal = documents::seal_of(conn, d.id)?;
                        docs.push((d, seal));
                    }
                    Some((row, docs))
                }
                None => None,
            })
        })
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(not_found)?;
    // The copier that sent it, or an administrator.
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("bearer "));
    if bearer {
        let device = device_of(&req, &devices).await?;
        if row.device_id != Some(device.id) {
            return Err(not_found());
        }
    } else {
        let user = authenticated(&req, &directory).await?;
        if !roles.is_admin(&user.groups) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "administrators only",
            ));
        }
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(view(&row, &docs, &capture)))
}

#[derive(serde::Deserialize)]
struct Review {
    /// `accept` or `reject`.
    decision: String,
    #[serde(default)]
    reason: String,
}

/// A QC reviewer's decision on a sampled document (the `[roles] reviewer` groups).
async fn review(
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
    directory: web::Data<DirectoryService>,
    roles: web::Data<RolesSettings>,
    capture: web::Data<CaptureService>,
) -> Result<HttpResponse, ApiError> {
    let user = authenticated(&req, &directory).await?;
    if !roles.is_reviewer(&user.groups) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "QC reviewers only",
        ));
    }
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such sampled document",
        )
    };
    let id: i64 = id.parse().map_err(|_| not_found())?;
    let r: Review = super::me::json_body(&req, &body)?;
    if !matches!(r.decision.as_str(), "accept" | "reject") {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_decision",
            "decision is accept or reject",
        ));
    }
    if r.decision == "reject" && r.reason.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "reason_required",
            "a rejection needs a reason",
        ));
    }
    let done = crate::archive::qc::review(capture.db(), id, r.decision, r.reason, user.uid.clone())
        .await
        .map_err(ApiError::internal)?;
    if !done {
        return Err(not_found());
    }
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/v1/scans/{id}/actions` and `/api/v1/scans/documents/{id}/actions`: the route
/// tells a capture from a document.
async fn item_action(
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
    directory: web::Data<DirectoryService>,
    roles: web::Data<RolesSettings>,
    capture: web::Data<CaptureService>,
    pipeline: web::Data<Pipeline>,
) -> Result<HttpResponse, ApiError> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such item"))?;
    let target = if req.path().starts_with("/api/v1/scans/documents/") {
        Target::Document(id)
    } else {
        Target::Capture(id)
    };
    let ctx = Ctx {
        directory,
        roles,
        capture,
        pipeline,
    };
    operate(req, target, body, ctx).await
}

/// What an operator's action needs.
struct Ctx {
    directory: web::Data<DirectoryService>,
    roles: web::Data<RolesSettings>,
    capture: web::Data<CaptureService>,
    pipeline: web::Data<Pipeline>,
}

/// An operator's action on a quarantined item (administrators).
async fn operate(
    req: HttpRequest,
    target: Target,
    body: web::Bytes,
    ctx: Ctx,
) -> Result<HttpResponse, ApiError> {
    let user = authenticated(&req, &ctx.directory).await?;
    if !ctx.roles.is_admin(&user.groups) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "administrators only",
        ));
    }
    let action: Action = super::me::json_body(&req, &body)?;
    let to = act(
        ctx.capture.db(),
        ctx.capture.spool().master(),
        &ctx.directory,
        ctx.pipeline.plan(),
        target,
        action,
        &user.uid,
    )
    .await
    .map_err(|e| match e {
        ActionError::NotFound => ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string()),
        ActionError::Invalid(m) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_action", m)
        }
        ActionError::NotQuarantined(_) => {
            ApiError::new(StatusCode::CONFLICT, "not_quarantined", e.to_string())
        }
        ActionError::Db(e) => ApiError::internal(e),
    })?;
    Ok(HttpResponse::Ok().json(json!({ "stage": to })))
}
