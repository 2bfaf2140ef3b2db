//! The console's jobs: search by owner, device and state (metadata only, never a document's
//! name or content), and for administrators and the helpdesk: cancel a job, or release a held
//! one at a device for its owner.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::pages::{JobLine, JobsPage};
use super::{
    gate, message, posted, render, see_other_with, ConsoleSessions, EVERY_ROLE, OPERATORS,
};
use crate::db::models::jobs::Which;
use crate::devices::DeviceRegistry;
use crate::release::ReleaseService;
use crate::spool::{Spool, SpoolError};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/jobs", web::get().to(list))
        .route("/jobs/{id}/cancel", web::post().to(cancel))
        .route("/jobs/{id}/release", web::post().to(release));
}

#[derive(serde::Deserialize)]
struct JobsQuery {
    #[serde(default)]
    user: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    device: String,
    #[serde(default)]
    done: Option<String>,
}

async fn list(
    req: HttpRequest,
    query: web::Query<JobsQuery>,
    sessions: web::Data<ConsoleSessions>,
    spool: web::Data<Spool>,
    registry: web::Data<DeviceRegistry>,
) -> HttpResponse {
    let staff = match gate(&req, &sessions, EVERY_ROLE).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (which, state) = match query.state.as_str() {
        "done" => (Which::Completed, "done"),
        "all" => (Which::All, "all"),
        _ => (Which::NotCompleted, "open"),
    };
    let user = query.user.trim().to_owned();
    let owner = (!user.is_empty()).then(|| user.clone());
    let mut found = spool.list(which, owner, 500).await.unwrap_or_default();
    // Jobs sent to a device are those with a delivery row there.
    let device = query.device.trim().to_owned();
    if !device.is_empty() {
        let sent: std::collections::HashSet<i64> = match registry.get(&device).await {
            Ok(Some(d)) => sessions
                .db
                .run(move |conn| {
                    crate::db::models::deliveries::job_ids_at(conn, d.id)
                        .map_err(crate::db::DbError::from)
                })
                .await
                .unwrap_or_default()
                .into_iter()
                .collect(),
            _ => Default::default(),
        };
        found.retain(|j| sent.contains(&j.id));
    }
    let devices = registry
        .list()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|d| d.name)
        .collect();
    render(
        StatusCode::OK,
        &JobsPage {
            nav: "jobs",
            staff,
            user,
            state,
            device,
            devices,
            notice: query.done.clone(),
            jobs: found.iter().map(JobLine::of).collect(),
        },
    )
}

fn back(notice: &str) -> HttpResponse {
    see_other_with("/jobs", "done", notice)
}

async fn cancel(
    req: HttpRequest,
    path: web::Path<i64>,
    body: web::Bytes,
    sessions: web::Data<ConsoleSessions>,
    spool: web::Data<Spool>,
) -> HttpResponse {
    let (staff, _) = match posted(&req, &body, &sessions, OPERATORS).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let id = *path;
    match spool.cancel(id, staff.uid.clone(), true).await {
        Ok(_) => back(&format!("Job #{id} canceled.")),
        Err(SpoolError::NotFound) => message(&staff, StatusCode::NOT_FOUND, "No such job", ""),
        Err(SpoolError::NotPossible(m)) => {
            message(&staff, StatusCode::CONFLICT, "Not canceled", &m)
        }
        Err(e) => {
            tracing::error!(job_id = id, error = %e, "cannot cancel a job from the console");
            message(
                &staff,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Not canceled",
                "The details are in Folio's log.",
            )
        }
    }
}

async fn release(
    req: HttpRequest,
    path: web::Path<i64>,
    body: web::Bytes,
    sessions: web::Data<ConsoleSessions>,
    service: web::Data<ReleaseService>,
) -> HttpResponse {
    let (staff, form) = match posted(&req, &body, &sessions, OPERATORS).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let id = *path;
    let device = form.get("device").trim().to_owned();
    match service.release_for(id, &device, &staff.uid).await {
        Ok(r) if r.result == "releasing" => back(&format!("Job #{id} {} ({device}).", r.message)),
        Ok(r) => message(&staff, StatusCode::CONFLICT, "Not released", &r.message),
        Err(e) => {
            tracing::error!(job_id = id, error = %e, "cannot release a job from the console");
            message(
                &staff,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Not released",
                "The details are in Folio's log.",
            )
        }
    }
}
