//! Self-service for staff over the REST API (the console page comes with the console):
//! who am I, my badges (register an unknown card, list, revoke), my release PIN.
//!
//! Authentication is HTTP Basic against the directory on every request. Writes require a JSON
//! body (`Content-Type: application/json`), which a cross-site HTML form cannot send.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use serde::Deserialize;
use serde_json::json;

use crate::directory::throttle::{Channel, Origin};
use crate::directory::{
    DirectoryService, DirectoryUser, Login, LookupError, PinError, RegisterError,
};
use crate::ipp::auth::basic_credentials;

/// Registers the `/api/v1/me` routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/me", web::get().to(me))
        .route("/api/v1/me/badges", web::get().to(list_badges))
        .route("/api/v1/me/badges", web::post().to(register_badge))
        .route("/api/v1/me/badges/{id}", web::delete().to(revoke_badge))
        .route("/api/v1/me/pin", web::put().to(set_pin))
        .route("/api/v1/me/pin", web::delete().to(remove_pin));
}

/// An API error: `{"error": code, "message": text}` with an HTTP status (and a Basic
/// challenge for 401).
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// A failure whose cause goes to the log, not to the client.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %cause, "API request failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "something went wrong; the details are in Folio's log",
        )
    }

    fn unavailable() -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "directory_unavailable",
            "the staff directory is unavailable; try again in a minute",
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut r = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            r.insert_header((
                header::WWW_AUTHENTICATE,
                "Basic realm=\"Folio\", charset=\"UTF-8\"",
            ));
        }
        r.json(json!({ "error": self.code, "message": self.message }))
    }
}

/// The user who sent the request, checked against the directory.
pub async fn authenticated(
    req: &HttpRequest,
    directory: &DirectoryService,
) -> Result<DirectoryUser, ApiError> {
    // Browsers resend cached Basic credentials to any page's request: a write must prove it
    // was not sent by another site's form (checked before the directory is asked).
    if !req.method().is_safe() {
        require_json_or_marker(req)?;
    }
    let unauthenticated =
        |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", m.to_owned());
    let (uid, password) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(basic_credentials)
        .ok_or_else(|| unauthenticated("log in with your directory user name and password"))?;
    let origin = Origin::new(Channel::Api, crate::web::client::address(req));
    match directory.sign_in(origin, &uid, &password).await {
        Ok(Login::Accepted(user)) => Ok(user),
        Ok(Login::Refused) => Err(unauthenticated("wrong user name or password")),
        Ok(Login::Throttled(wait)) => Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            format!(
                "too many wrong passwords: try again in {} minutes",
                wait.as_secs().div_ceil(60).max(1)
            ),
        )),
        Err(LookupError::Unavailable(_)) => Err(ApiError::unavailable()),
        Err(e) => Err(ApiError::internal(e)),
    }
}

/// The header a script sends with a write that has no JSON body (a form cannot set it).
pub const REQUEST_MARKER: &str = "x-folio-request";

/// Refuses a write that is neither `application/json` nor marked with [`REQUEST_MARKER`]:
/// another site's form can send neither without the browser asking Folio first (CORS).
pub fn require_json_or_marker(req: &HttpRequest) -> Result<(), ApiError> {
    if req.headers().contains_key(REQUEST_MARKER) {
        return Ok(());
    }
    require_json(req).map_err(|_| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "json_required",
            "send writes as application/json, or with the header X-Folio-Request: 1",
        )
    })
}

/// Parses a JSON body; anything but `application/json` is refused (CSRF: forms cannot send it).
pub fn json_body<T: serde::de::DeserializeOwned>(
    req: &HttpRequest,
    body: &[u8],
) -> Result<T, ApiError> {
    require_json(req)?;
    parse_json(body)
}

/// Refuses a request whose body is not declared `application/json`.
pub fn require_json(req: &HttpRequest) -> Result<(), ApiError> {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "json_required",
            "send the request as application/json",
        ));
    }
    Ok(())
}

/// Reads a JSON body into `T`; a 400 that says what is wrong otherwise.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_json",
            format!("invalid request: {e}"),
        )
    })
}

async fn me(
    req: HttpRequest,
    directory: web::Data<DirectoryService>,
) -> Result<HttpResponse, ApiError> {
    let user = authenticated(&req, &directory).await?;
    let registrations = directory
        .registrations(Some(&user.uid), false)
        .await
        .map_err(ApiError::internal)?;
    let pin_set = directory
        .has_pin(&user.uid)
        .await
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(json!({
        "uid": user.uid,
        "display_name": user.display_name,
        "mail": user.mail,
        "department": user.department,
        "cost_centre": user.cost_centre,
        "groups": user.groups,
        "directory_badges": user.badges,
        "registered_badges": registrations,
        "pin_set": pin_set,
    })))
}

async fn list_badges(
    req: HttpRequest,
    directory: web::Data<DirectoryService>,
) -> Result<HttpResponse, ApiError> {
    let user = authenticated(&req, &directory).await?;
    let all = directory
        .registrations(Some(&user.uid), true)
        .await
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(json!({ "badges": all })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BadgeBody {
    badge: String,
}

async fn register_badge(
    req: HttpRequest,
    body: web::Bytes,
    directory: web::Data<DirectoryService>,
) -> Result<HttpResponse, ApiError> {
    let user = authenticated(&req, &directory).await?;
    let b: BadgeBody = json_body(&req, &body)?;
    let from = crate::web::client::address(&req);
    match directory.register_own_badge(&user, &b.badge, from).await {
        Ok(reg) => Ok(HttpResponse::Created().json(reg)),
        Err(e) => Err(match e {
            RegisterError::Invalid => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_badge", e.to_string())
            }
            RegisterError::Taken => {
                ApiError::new(StatusCode::CONFLICT, "badge_not_linked", e.to_string())
            }
            RegisterError::TooMany(_) => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                e.to_string(),
            ),
            RegisterError::AlreadyYours => {
                ApiError::new(StatusCode::CONFLICT, "already_yours", e.to_string())
            }
            RegisterError::Unavailable => ApiError::unavailable(),
            RegisterError::Database(_) => ApiError::internal(e),
        }),
    }
}

async fn revoke_badge(
    req: HttpRequest,
    path: web::Path<String>,
    directory: web::Data<DirectoryService>,
) -> Result<HttpResponse, ApiError> {
    let user = authenticated(&req, &directory).await?;
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such badge registration",
        )
    };
    let id = path.parse::<i64>().map_err(|_| not_found())?;
    match directory
        .revoke_registration(id, Some(&user.uid), &user.uid)
        .await
        .map_err(ApiError::internal)?
    {
        true => Ok(HttpResponse::NoContent().finish()),
        false => Err(not_found()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PinBody {
    pin: String,
}

async fn set_pin(
    req: HttpRequest,
    body: web::Bytes,
    directory: web::Data<DirectoryService>,
) -> Result<HttpResponse, ApiError> {
    let user = authenticated(&req, &directory).await?;
    let b: PinBody = json_body(&req, &body)?;
    match directory.set_pin(&user.uid, Some(&b.pin), &user.uid).await {
        Ok(()) => Ok(HttpResponse::NoContent().finish()),
        Err(e @ PinError::Invalid) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_pin",
            e.to_string(),
        )),
        Err(e) => Err(ApiError::internal(e)),
    }
}

async fn remove_pin(
    req: HttpRequest,
    directory: web::Data<DirectoryService>,
) -> Result<HttpResponse, ApiError> {
    let user = authenticated(&req, &directory).await?;
    directory
        .set_pin(&user.uid, None, &user.uid)
        .await
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::NoContent().finish())
}
