//! `/api/v1/devices` and `/api/v1/drivers` for administrators (HTTP Basic with the directory;
//! the `admin` role from `[roles]`). The console pages come with the console.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::me::{authenticated, json_body, ApiError};
use crate::config::RolesSettings;
use crate::devices::{DeviceError, DeviceRegistry, NewDevice};
use crate::directory::{DirectoryService, DirectoryUser};

/// Registers the routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/devices", web::get().to(list))
        .route("/api/v1/devices", web::post().to(add))
        .route("/api/v1/devices/{id}", web::get().to(get))
        .route("/api/v1/devices/{id}", web::delete().to(remove))
        .route("/api/v1/devices/{id}/token", web::post().to(rotate))
        .route("/api/v1/drivers", web::get().to(drivers));
}

async fn admin(
    req: &HttpRequest,
    directory: &DirectoryService,
    roles: &RolesSettings,
) -> Result<DirectoryUser, ApiError> {
    let user = authenticated(req, directory).await?;
    if !roles.is_admin(&user.groups) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "administrators only",
        ));
    }
    Ok(user)
}

fn device_error(e: DeviceError) -> ApiError {
    match e {
        DeviceError::Invalid(m) => ApiError::new(StatusCode::BAD_REQUEST, "invalid_device", m),
        DeviceError::NameTaken(_) => {
            ApiError::new(StatusCode::CONFLICT, "name_taken", e.to_string())
        }
        DeviceError::NotFound => {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such device")
        }
        DeviceError::Db(e) => ApiError::internal(e),
    }
}

async fn list(
    req: HttpRequest,
    directory: web::Data<DirectoryService>,
    roles: web::Data<RolesSettings>,
    devices: web::Data<DeviceRegistry>,
) -> Result<HttpResponse, ApiError> {
    admin(&req, &directory, &roles).await?;
    let all = devices.list().await.map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(json!({ "devices": all })))
}

async fn add(
    req: HttpRequest,
    body: web::Bytes,
    directory: web::Data<DirectoryService>,
    roles: web::Data<RolesSettings>,
    devices: web::Data<DeviceRegistry>,
) -> Result<HttpResponse, ApiError> {
    let user = admin(&req, &directory, &roles).await?;
    let new: NewDevice = json_body(&req, &body)?;
    let (device, token) = devices.add(new, &user.uid).await.map_err(device_error)?;
    Ok(HttpResponse::Created().json(json!({ "device": device, "token": token })))
}

async fn get(
    req: HttpRequest,
    path: web::Path<String>,
    directory: web::Data<DirectoryService>,
    roles: web::Data<RolesSettings>,
    devices: web::Data<DeviceRegistry>,
) -> Result<HttpResponse, ApiError> {
    admin(&req, &directory, &roles).await?;
    match devices.get(&path).await.map_err(ApiError::internal)? {
        Some(d) => Ok(HttpResponse::Ok().json(d)),
        None => Err(device_error(DeviceError::NotFound)),
    }
}

async fn remove(
    req: HttpRequest,
    path: web::Path<String>,
    directory: web::Data<DirectoryService>,
    roles: web::Data<RolesSettings>,
    devices: web::Data<DeviceRegistry>,
) -> Result<HttpResponse, ApiError> {
    let user = admin(&req, &directory, &roles).await?;
    devices
        .remove(&path, &user.uid)
        .await
        .map_err(device_error)?;
    Ok(HttpResponse::NoContent().finish())
}

async fn rotate(
    req: HttpRequest,
    path: web::Path<String>,
    directory: web::Data<DirectoryService>,
    roles: web::Data<RolesSettings>,
    devices: web::Data<DeviceRegistry>,
) -> Result<HttpResponse, ApiError> {
    let user = admin(&req, &directory, &roles).await?;
    let token = devices
        .rotate_token(&path, &user.uid)
        .await
        .map_err(device_error)?;
    Ok(HttpResponse::Ok().json(json!({ "token": token })))
}

async fn drivers(
    req: HttpRequest,
    directory: web::Data<DirectoryService>,
    roles: web::Data<RolesSettings>,
    devices: web::Data<DeviceRegistry>,
) -> Result<HttpResponse, ApiError> {
    admin(&req, &directory, &roles).await?;
    let d = devices.drivers();
    let all: serde_json::Map<String, serde_json::Value> = d
        .ids()
        .filter_map(|id| Some((id.to_owned(), serde_json::to_value(d.get(id)?).ok()?)))
        .collect();
    Ok(HttpResponse::Ok().json(all))
}
