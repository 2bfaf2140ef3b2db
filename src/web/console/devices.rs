//! The console's devices: every copier with its live state (asked in parallel, 2 s at most),
//! and for administrators and the helpdesk: add one, edit it, rotate its terminal token (shown
//! once), take it out of service.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::pages::{DeviceEditPage, DeviceLine, DeviceTokenPage, DevicesPage};
use super::{
    gate, message, posted, render, see_other_with, ConsoleSessions, Staff, ADMINS, EVERY_ROLE,
    OPERATORS,
};
use crate::devices::{DeviceError, DeviceRegistry, Location, NewDevice};
use crate::release::ReleaseService;
use crate::web::form::Form;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/devices", web::get().to(list))
        .route("/devices", web::post().to(add))
        .route("/devices/{id}", web::get().to(edit_page))
        .route("/devices/{id}", web::post().to(save))
        .route("/devices/{id}/rotate", web::post().to(rotate))
        .route("/devices/{id}/remove", web::post().to(remove));
}

/// The device form's fields.
#[derive(Debug, Clone, Default)]
pub struct DeviceForm {
    pub name: String,
    pub uri: String,
    pub driver: String,
    pub site: String,
    pub building: String,
    pub floor: String,
    pub service: String,
}

impl DeviceForm {
    fn posted(form: &Form) -> DeviceForm {
        let f = |k: &str| form.get(k).trim().to_owned();
        DeviceForm {
            name: f("name"),
            uri: f("uri"),
            driver: f("driver"),
            site: f("site"),
            building: f("building"),
            floor: f("floor"),
            service: f("service"),
        }
    }

    fn of(d: &crate::devices::Device) -> DeviceForm {
        let l = &d.location;
        DeviceForm {
            name: d.name.clone(),
            uri: d.uri.clone(),
            driver: d.driver.clone(),
            site: l.site.clone(),
            building: l.building.clone(),
            floor: l.floor.clone(),
            service: l.service.clone(),
        }
    }

    fn device(&self) -> NewDevice {
        NewDevice {
            name: self.name.clone(),
            uri: self.uri.clone(),
            driver: self.driver.clone(),
            location: Location {
                site: self.site.clone(),
                building: self.building.clone(),
                floor: self.floor.clone(),
                service: self.service.clone(),
            },
            tls_pin: None,
        }
    }
}

/// Driver profiles as (id, name), for the select.
fn drivers(registry: &DeviceRegistry) -> Vec<(String, String)> {
    let d = registry.drivers();
    let mut out: Vec<(String, String)> = d
        .ids()
        .filter_map(|id| d.get(id).map(|p| (id.to_owned(), p.name.clone())))
        .collect();
    out.sort();
    out
}

async fn page(
    staff: Staff,
    registry: &DeviceRegistry,
    release: &ReleaseService,
    status: StatusCode,
    form: DeviceForm,
    error: Option<String>,
    notice: Option<String>,
) -> HttpResponse {
    let all = registry.list().await.unwrap_or_default();
    // Every copier asked at once: the page waits for the slowest, 2 s at most.
    let states = futures_util::future::join_all(all.iter().map(|d| release.device_status(d))).await;
    let devices = all
        .iter()
        .zip(states)
        .map(|(d, s)| DeviceLine::with_status(d, &s))
        .collect();
    render(
        status,
        &DevicesPage {
            nav: "devices",
            staff,
            devices,
            drivers: drivers(registry),
            form,
            error,
            notice,
        },
    )
}

#[derive(serde::Deserialize)]
struct Done {
    #[serde(default)]
    saved: Option<String>,
    #[serde(default)]
    removed: Option<String>,
}

async fn list(
    req: HttpRequest,
    done: web::Query<Done>,
    sessions: web::Data<ConsoleSessions>,
    registry: web::Data<DeviceRegistry>,
    release: web::Data<ReleaseService>,
) -> HttpResponse {
    let staff = match gate(&req, &sessions, EVERY_ROLE).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let notice = match (&done.saved, &done.removed) {
        (Some(n), _) => Some(format!("{n} saved.")),
        (_, Some(n)) => Some(format!(
            "{n} is out of service; its terminal token no longer works."
        )),
        _ => None,
    };
    let form = DeviceForm {
        driver: "ipp-everywhere".into(),
        ..DeviceForm::default()
    };
    page(
        staff,
        &registry,
        &release,
        StatusCode::OK,
        form,
        None,
        notice,
    )
    .await
}

/// Why a device was not saved, for the page.
fn refusal(e: DeviceError) -> (StatusCode, String) {
    match e {
        DeviceError::Invalid(m) => (StatusCode::BAD_REQUEST, m),
        DeviceError::NameTaken(n) => (
            StatusCode::CONFLICT,
            format!("a device is already called {n}"),
        ),
        DeviceError::NotFound => (StatusCode::NOT_FOUND, "no such device".into()),
        e => {
            tracing::error!(error = %e, "cannot save a device");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the device could not be saved; the details are in Folio's log".into(),
            )
        }
    }
}

fn token_page(staff: Staff, device: String, token: String, new: bool) -> HttpResponse {
    render(
        StatusCode::OK,
        &DeviceTokenPage {
            staff,
            nav: "devices",
            device,
            token,
            new,
        },
    )
}

async fn add(
    req: HttpRequest,
    body: web::Bytes,
    sessions: web::Data<ConsoleSessions>,
    registry: web::Data<DeviceRegistry>,
    release: web::Data<ReleaseService>,
) -> HttpResponse {
    let (staff, form) = match posted(&req, &body, &sessions, ADMINS).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let fields = DeviceForm::posted(&form);
    match registry.add(fields.device(), &staff.uid).await {
        Ok((device, token)) => token_page(staff, device.name, token, true),
        Err(e) => {
            let (status, m) = refusal(e);
            let error = Some(format!("The device was not added: {m}."));
            page(staff, &registry, &release, status, fields, error, None).await
        }
    }
}

async fn edit_page(
    req: HttpRequest,
    path: web::Path<i64>,
    sessions: web::Data<ConsoleSessions>,
    registry: web::Data<DeviceRegistry>,
) -> HttpResponse {
    let staff = match gate(&req, &sessions, ADMINS).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match registry.get(&path.to_string()).await {
        Ok(Some(d)) => edit_form(staff, &registry, d.id, DeviceForm::of(&d), None),
        _ => message(
            &staff,
            StatusCode::NOT_FOUND,
            "No such device",
            "It may have been taken out of service.",
        ),
    }
}

fn edit_form(
    staff: Staff,
    registry: &DeviceRegistry,
    id: i64,
    form: DeviceForm,
    error: Option<(StatusCode, String)>,
) -> HttpResponse {
    render(
        error.as_ref().map(|e| e.0).unwrap_or(StatusCode::OK),
        &DeviceEditPage {
            staff,
            nav: "devices",
            id,
            drivers: drivers(registry),
            form,
            error: error.map(|e| e.1),
        },
    )
}

async fn save(
    req: HttpRequest,
    path: web::Path<i64>,
    body: web::Bytes,
    sessions: web::Data<ConsoleSessions>,
    registry: web::Data<DeviceRegistry>,
) -> HttpResponse {
    let (staff, form) = match posted(&req, &body, &sessions, ADMINS).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let fields = DeviceForm::posted(&form);
    match registry.update(*path, fields.device(), &staff.uid).await {
        Ok(d) => see_other_with("/devices", "saved", &d.name),
        Err(e) => {
            let (status, m) = refusal(e);
            edit_form(
                staff,
                &registry,
                *path,
                fields,
                Some((status, format!("Not saved: {m}."))),
            )
        }
    }
}

async fn rotate(
    req: HttpRequest,
    path: web::Path<i64>,
    body: web::Bytes,
    sessions: web::Data<ConsoleSessions>,
    registry: web::Data<DeviceRegistry>,
) -> HttpResponse {
    let (staff, _) = match posted(&req, &body, &sessions, OPERATORS).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let name = match registry.get(&path.to_string()).await {
        Ok(Some(d)) => d.name,
        _ => return message(&staff, StatusCode::NOT_FOUND, "No such device", ""),
    };
    match registry.rotate_token(&path.to_string(), &staff.uid).await {
        Ok(token) => token_page(staff, name, token, false),
        Err(e) => {
            let (status, m) = refusal(e);
            message(&staff, status, "The token was not rotated", &m)
        }
    }
}

async fn remove(
    req: HttpRequest,
    path: web::Path<i64>,
    body: web::Bytes,
    sessions: web::Data<ConsoleSessions>,
    registry: web::Data<DeviceRegistry>,
) -> HttpResponse {
    let (staff, _) = match posted(&req, &body, &sessions, OPERATORS).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match registry.remove(&path.to_string(), &staff.uid).await {
        Ok(d) => see_other_with("/devices", "removed", &d.name),
        Err(e) => {
            let (status, m) = refusal(e);
            message(&staff, status, "The device was not removed", &m)
        }
    }
}
