//! `/api/v1/quotas` (monthly page budgets: read by every role, set by administrators) and
//! `/api/v1/me/quota` (a user's own budgets and this month's use).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::me::{authenticated, json_body, ApiError};
use super::policy::with_role;
use crate::config::RolesSettings;
use crate::directory::settings::Role;
use crate::directory::DirectoryService;
use crate::policy::quota::{Quota, Quotas};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/quotas", web::get().to(list))
        .route("/api/v1/quotas", web::post().to(set))
        .route("/api/v1/quotas/{id}", web::delete().to(delete))
        .route("/api/v1/me/quota", web::get().to(mine));
}

async fn list(
    req: HttpRequest,
    directory: web::Data<DirectoryService>,
    roles: web::Data<RolesSettings>,
    quotas: web::Data<Quotas>,
) -> Result<HttpResponse, ApiError> {
    with_role(
        &req,
        &directory,
        &roles,
        &[Role::Admin, Role::Helpdesk, Role::Auditor],
    )
    .await?;
    let all = quotas.list().await.map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(json!({ "quotas": all })))
}

async fn set(
    req: HttpRequest,
    body: web::Bytes,
    directory: web::Data<DirectoryService>,
    roles: web::Data<RolesSettings>,
    quotas: web::Data<Quotas>,
) -> Result<HttpResponse, ApiError> {
    let admin = with_role(&req, &directory, &roles, &[Role::Admin]).await?;
    let q: Quota = json_body(&req, &body)?;
    let saved = quotas
        .set(q, &admin.uid)
        .await
        .map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, "invalid_quota", m))?;
    Ok(HttpResponse::Created().json(saved))
}

async fn delete(
    req: HttpRequest,
    path: web::Path<i64>,
    directory: web::Data<DirectoryService>,
    roles: web::Data<RolesSettings>,
    quotas: web::Data<Quotas>,
) -> Result<HttpResponse, ApiError> {
    let admin = with_role(&req, &directory, &roles, &[Role::Admin]).await?;
    match quotas.delete(*path, &admin.uid).await {
        Ok(true) => Ok(HttpResponse::NoContent().finish()),
        Ok(false) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such quota",
        )),
        Err(e) => Err(ApiError::internal(e)),
    }
}

async fn mine(
    req: HttpRequest,
    directory: web::Data<DirectoryService>,
    quotas: web::Data<Quotas>,
) -> Result<HttpResponse, ApiError> {
    let me = authenticated(&req, &directory).await?;
    let standing = quotas
        .standing(&me.uid, &me.department)
        .await
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .json(json!({ "user": me.uid, "department": me.department, "budgets": standing })))
}
