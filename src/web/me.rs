//! Self-service for staff over the REST API (the console page comes with the console):
//! who am I, my badges (register an unknown card, list, revoke), my release PIN.
//!
//! Authentication is HTTP Basic against the directory on every request. Writes require a JSON
//! body (`Content-Type: application/json`), which a cross-site HTML form cannot send.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use crate::directory::{DirectoryService, DirectoryUser, LookupError, RegisterError};
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

/// A JSON error: `{"error": code, "message": text}`.
pub fn error(status: actix_web::http::StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "error": code, "message": message }))
}

fn challenge(message: &str) -> HttpResponse {
    HttpResponse::Unauthorized()
        .insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"Folio\", charset=\"UTF-8\""))
        .json(json!({ "error": "unauthenticated", "message": message }))
}

/// The authenticated user, or the response to send instead.
async fn user_of(
    req: &HttpRequest,
    directory: &DirectoryService,
) -> Result<DirectoryUser, HttpResponse> {
    let Some((uid, password)) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(basic_credentials)
    else {
        return Err(challenge("log in with your directory user name and password"));
    };
    match directory.authenticate(&uid, &password).await {
        Ok(Some(user)) => Ok(user),
        Ok(None) => Err(challenge("wrong user name or password")),
        Err(LookupError::Unavailable(_)) => Err(error(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            "directory_unavailable",
            "the staff directory is unavailable; try again in a minute",
        )),
        Err(e) => {
            tracing::error!(error = %e, "self-service authentication failed");
            Err(internal())
        }
    }
}

fn internal() -> HttpResponse {
    error(
        actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "something went wrong; the details are in Folio's log",
    )
}

fn json_body<T: serde::de::DeserializeOwned>(req: &HttpRequest, body: &[u8]) -> Result<T, HttpResponse> {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json")));
    if !is_json {
        return Err(error(
            actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "json_required",
            "send the request as application/json",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        error(
            actix_web::http::StatusCode::BAD_REQUEST,
            "bad_json",
            &format!("invalid request: {e}"),
        )
    })
}

async fn me(req: HttpRequest, directory: web::Data<DirectoryService>) -> HttpResponse {
    let user = match user_of(&req, &directory).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let registrations = match directory.registrations(Some(&user.uid), false).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "listing registrations failed");
            return internal();
        }
    };
    HttpResponse::Ok().json(json!({
        "uid": user.uid,
        "display_name": user.display_name,
        "mail": user.mail,
        "department": user.department,
        "cost_centre": user.cost_centre,
        "groups": user.groups,
        "directory_badges": user.badges,
        "registered_badges": registrations,
    }))
}

async fn list_badges(req: HttpRequest, directory: web::Data<DirectoryService>) -> HttpResponse {
    let user = match user_of(&req, &directory).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    match directory.registrations(Some(&user.uid), true).await {
        Ok(r) => HttpResponse::Ok().json(json!({ "badges": r })),
        Err(e) => {
            tracing::error!(error = %e, "listing registrations failed");
            internal()
        }
    }
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
) -> HttpResponse {
    use actix_web::http::StatusCode;
    let user = match user_of(&req, &directory).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let b: BadgeBody = match json_body(&req, &body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    match directory.register_badge(&user, &b.badge, &user.uid).await {
        Ok(reg) => HttpResponse::Created().json(reg),
        Err(RegisterError::Invalid) => error(StatusCode::BAD_REQUEST, "invalid_badge", "this is not a badge number"),
        Err(RegisterError::Taken) => error(StatusCode::CONFLICT, "badge_taken", "this badge already belongs to someone; ask IT"),
        Err(RegisterError::AlreadyYours) => error(StatusCode::CONFLICT, "already_yours", "this badge is already yours"),
        Err(RegisterError::Unavailable) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "directory_unavailable",
            "the staff directory is unavailable; try again in a minute",
        ),
        Err(RegisterError::Database(e)) => {
            tracing::error!(error = %e, "badge registration failed");
            internal()
        }
    }
}

async fn revoke_badge(
    req: HttpRequest,
    path: web::Path<String>,
    directory: web::Data<DirectoryService>,
) -> HttpResponse {
    use actix_web::http::StatusCode;
    let user = match user_of(&req, &directory).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let Ok(id) = path.parse::<i64>() else {
        return error(StatusCode::NOT_FOUND, "not_found", "no such badge registration");
    };
    match directory.revoke_registration(id, Some(&user.uid), &user.uid).await {
        Ok(true) => HttpResponse::NoContent().finish(),
        Ok(false) => error(StatusCode::NOT_FOUND, "not_found", "no such badge registration"),
        Err(e) => {
            tracing::error!(error = %e, "badge revocation failed");
            internal()
        }
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
) -> HttpResponse {
    let user = match user_of(&req, &directory).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let b: PinBody = match json_body(&req, &body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    match directory.set_pin(&user.uid, Some(&b.pin), &user.uid).await {
        Ok(()) => HttpResponse::NoContent().finish(),
        Err(message) => error(actix_web::http::StatusCode::BAD_REQUEST, "invalid_pin", &message),
    }
}

async fn remove_pin(req: HttpRequest, directory: web::Data<DirectoryService>) -> HttpResponse {
    let user = match user_of(&req, &directory).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    match directory.set_pin(&user.uid, None, &user.uid).await {
        Ok(()) => HttpResponse::NoContent().finish(),
        Err(e) => {
            tracing::error!(error = %e, "removing a PIN failed");
            internal()
        }
    }
}
