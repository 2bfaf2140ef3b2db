//! `/api/v1/me/delegations`: who may release my jobs (HTTP Basic with the directory).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::me::{authenticated, json_body, ApiError};
use crate::directory::DirectoryService;
use crate::release::delegation::{DelegationError, NewDelegation};
use crate::release::ReleaseService;

/// Registers the routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/me/delegations", web::get().to(list))
        .route("/api/v1/me/delegations", web::post().to(create))
        .route("/api/v1/me/delegations/{id}", web::delete().to(revoke));
}

async fn list(
    req: HttpRequest,
    directory: web::Data<DirectoryService>,
    release: web::Data<ReleaseService>,
) -> Result<HttpResponse, ApiError> {
    let user = authenticated(&req, &directory).await?;
    let (given, received) = release
        .delegations()
        .of(&user)
        .await
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(json!({ "given": given, "received": received })))
}

async fn create(
    req: HttpRequest,
    body: web::Bytes,
    directory: web::Data<DirectoryService>,
    release: web::Data<ReleaseService>,
) -> Result<HttpResponse, ApiError> {
    let user = authenticated(&req, &directory).await?;
    let new: NewDelegation = json_body(&req, &body)?;
    match release.delegations().create(&user, new).await {
        Ok(d) => Ok(HttpResponse::Created().json(d)),
        Err(DelegationError::Invalid(m)) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_delegation",
            m,
        )),
        Err(DelegationError::Unavailable(_)) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "directory_unavailable",
            "the staff directory is unavailable; try again in a minute",
        )),
        Err(DelegationError::Db(e)) => Err(ApiError::internal(e)),
    }
}

async fn revoke(
    req: HttpRequest,
    path: web::Path<String>,
    directory: web::Data<DirectoryService>,
    release: web::Data<ReleaseService>,
) -> Result<HttpResponse, ApiError> {
    let user = authenticated(&req, &directory).await?;
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such delegation");
    let id = path.parse::<i64>().map_err(|_| not_found())?;
    if release
        .delegations()
        .revoke(&user, id)
        .await
        .map_err(ApiError::internal)?
    {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(not_found())
    }
}
