//! The release API for copier terminals and card readers, authenticated by the device's token
//! (`Authorization: Bearer fdt_…`): badge sessions, release, cancel, logout.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::me::{parse_json, require_json, ApiError};
use crate::devices::{Device, DeviceRegistry};
use crate::directory::BadgeError;
use crate::release::{ReleaseError, ReleaseService, Selection};

/// Registers the routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/release/sessions", web::post().to(start))
        .route("/api/v1/release/sessions/{id}", web::get().to(view))
        .route("/api/v1/release/sessions/{id}", web::delete().to(end))
        .route(
            "/api/v1/release/sessions/{id}/release",
            web::post().to(release),
        )
        .route(
            "/api/v1/release/sessions/{id}/cancel",
            web::post().to(cancel),
        );
}

/// The device whose token the request carries.
pub async fn device_of(req: &HttpRequest, devices: &DeviceRegistry) -> Result<Device, ApiError> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let unauthorized = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "device_unauthenticated",
            "this terminal's device token is missing or no longer valid",
        )
    };
    let Some(token) = token else {
        return Err(unauthorized());
    };
    let device = devices
        .by_token(token)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(unauthorized)?;
    crate::web::guard::record("device", &device.name);
    Ok(device)
}

pub fn release_error(e: ReleaseError) -> ApiError {
    use StatusCode as S;
    match e {
        ReleaseError::Badge(b) => match b {
            BadgeError::Unknown => ApiError::new(
                S::NOT_FOUND,
                "unknown_badge",
                "unknown badge: register it at /api/v1/me/badges (self-service) with your login",
            ),
            BadgeError::Invalid => ApiError::new(S::BAD_REQUEST, "invalid_badge", b.to_string()),
            BadgeError::Ambiguous(_) => ApiError::new(
                S::CONFLICT,
                "badge_conflict",
                "this badge is held by several people: ask IT",
            ),
            BadgeError::Unavailable(_) => ApiError::new(
                S::SERVICE_UNAVAILABLE,
                "directory_unavailable",
                "the staff directory is unavailable; try again in a minute",
            ),
            BadgeError::PinRequired => {
                ApiError::new(S::UNAUTHORIZED, "pin_required", "enter your PIN")
            }
            BadgeError::WrongPin => ApiError::new(S::UNAUTHORIZED, "wrong_pin", "wrong PIN"),
            BadgeError::PinNotSet => ApiError::new(S::UNAUTHORIZED, "pin_not_set", b.to_string()),
            BadgeError::Database(m) => ApiError::internal(m),
        },
        ReleaseError::Locked => ApiError::new(S::TOO_MANY_REQUESTS, "locked", e.to_string()),
        ReleaseError::WrongPassword => {
            ApiError::new(S::UNAUTHORIZED, "wrong_password", e.to_string())
        }
        ReleaseError::NoSession => ApiError::new(S::NOT_FOUND, "no_session", e.to_string()),
        ReleaseError::Spool(e) => ApiError::internal(e),
        ReleaseError::Db(e) => ApiError::internal(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartBody {
    badge: String,
    #[serde(default)]
    pin: Option<String>,
}

async fn start(
    req: HttpRequest,
    body: web::Bytes,
    devices: web::Data<DeviceRegistry>,
    release: web::Data<ReleaseService>,
) -> Result<HttpResponse, ApiError> {
    let device = device_of(&req, &devices).await?;
    require_json(&req)?;
    let (badge, pin) = parse_start(&body)?;
    let view = release
        .start(&device, &badge, pin.as_deref())
        .await
        .map_err(release_error)?;
    Ok(HttpResponse::Created().json(view))
}

async fn view(
    req: HttpRequest,
    path: web::Path<String>,
    devices: web::Data<DeviceRegistry>,
    release: web::Data<ReleaseService>,
) -> Result<HttpResponse, ApiError> {
    let device = device_of(&req, &devices).await?;
    let v = release.view(&device, &path).await.map_err(release_error)?;
    Ok(HttpResponse::Ok().json(v))
}

async fn end(
    req: HttpRequest,
    path: web::Path<String>,
    devices: web::Data<DeviceRegistry>,
    release: web::Data<ReleaseService>,
) -> Result<HttpResponse, ApiError> {
    let device = device_of(&req, &devices).await?;
    release.end(&device, &path).await.map_err(release_error)?;
    Ok(HttpResponse::NoContent().finish())
}

/// `{"jobs": [1, 2]}` or `{"jobs": "all"}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JobsBody {
    jobs: serde_json::Value,
}

/// A session start's badge and PIN, as the handler reads them (public for the fuzz target).
pub fn parse_start(body: &[u8]) -> Result<(String, Option<String>), ApiError> {
    let b: StartBody = parse_json(body)?;
    Ok((b.badge, b.pin))
}

/// A release or cancel request's jobs, as the handlers read them (public for the fuzz target).
pub fn parse_jobs(body: &[u8]) -> Result<Selection, ApiError> {
    let b: JobsBody = parse_json(body)?;
    selection(&b.jobs)
}

fn selection(v: &serde_json::Value) -> Result<Selection, ApiError> {
    match v {
        serde_json::Value::String(s) if s == "all" => Ok(Selection::All),
        serde_json::Value::Array(items) => items
            .iter()
            .map(|i| i.as_i64())
            .collect::<Option<Vec<i64>>>()
            .map(Selection::Jobs)
            .ok_or_else(bad_jobs),
        _ => Err(bad_jobs()),
    }
}

fn bad_jobs() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "bad_jobs",
        "jobs must be a list of job ids or \"all\"",
    )
}

async fn release(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    devices: web::Data<DeviceRegistry>,
    release: web::Data<ReleaseService>,
) -> Result<HttpResponse, ApiError> {
    let device = device_of(&req, &devices).await?;
    require_json(&req)?;
    let results = release
        .release(&device, &path, parse_jobs(&body)?)
        .await
        .map_err(release_error)?;
    Ok(HttpResponse::Ok().json(json!({ "results": results })))
}

async fn cancel(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    devices: web::Data<DeviceRegistry>,
    release: web::Data<ReleaseService>,
) -> Result<HttpResponse, ApiError> {
    let device = device_of(&req, &devices).await?;
    require_json(&req)?;
    let Selection::Jobs(ids) = parse_jobs(&body)? else {
        return Err(bad_jobs());
    };
    let results = release
        .cancel(&device, &path, ids)
        .await
        .map_err(release_error)?;
    Ok(HttpResponse::Ok().json(json!({ "results": results })))
}
