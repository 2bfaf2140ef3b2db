//! The console's users (administrators and the helpdesk): find a member of staff, see what
//! the directory says of them, their badges (link one for them, unlink one), reset their PIN,
//! who may print their documents (stop a delegation), their monthly budgets and jobs.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::pages::{local, UserPage, UsersPage};
use super::{back_to, gate, message, posted, render, see_other, ConsoleSessions, Staff, OPERATORS};
use crate::db::models::jobs::Which;
use crate::directory::{DirectoryService, DirectoryUser};
use crate::policy::quota::Quotas;
use crate::release::ReleaseService;
use crate::spool::Spool;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/users", web::get().to(search))
        .route("/users/{uid}", web::get().to(show))
        .route("/users/{uid}/pin/reset", web::post().to(reset_pin))
        .route("/users/{uid}/badges", web::post().to(link_badge))
        .route(
            "/users/{uid}/badges/{id}/revoke",
            web::post().to(unlink_badge),
        )
        .route(
            "/users/{uid}/delegations/{id}/revoke",
            web::post().to(stop_delegation),
        );
}

#[derive(serde::Deserialize)]
struct Search {
    #[serde(default)]
    q: String,
}

async fn search(
    req: HttpRequest,
    query: web::Query<Search>,
    sessions: web::Data<ConsoleSessions>,
    directory: web::Data<DirectoryService>,
) -> HttpResponse {
    let staff = match gate(&req, &sessions, OPERATORS).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let q = query.q.trim().to_owned();
    // A login the directory knows goes straight to that person.
    if !q.is_empty() {
        if let Ok(Some(l)) = directory.user(&q).await {
            return see_other(&format!("/users/{}", path_segment(&l.user.uid)));
        }
    }
    let needle = q.to_lowercase();
    // The directory's own list (the first 2,000), else the users Folio has cached.
    let everyone = match directory.directory().list_users(2000).await {
        Ok(users) => users,
        Err(_) => directory
            .cached_users(2000)
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|c| c.user)
            .collect(),
    };
    let found = everyone
        .into_iter()
        .filter(|u| {
            needle.is_empty()
                || u.uid.to_lowercase().contains(&needle)
                || u.display_name.to_lowercase().contains(&needle)
                || u.department.to_lowercase().contains(&needle)
        })
        .take(100)
        .map(|u| (path_segment(&u.uid), u.uid, u.display_name, u.department))
        .collect();
    render(
        StatusCode::OK,
        &UsersPage {
            staff,
            nav: "users",
            q,
            found,
        },
    )
}

/// A login as a path segment.
fn path_segment(uid: &str) -> String {
    form_urlencoded::byte_serialize(uid.as_bytes()).collect()
}

fn back(uid: &str, outcome: Result<String, String>) -> HttpResponse {
    back_to(&format!("/users/{}", path_segment(uid)), outcome)
}

async fn lookup(
    directory: &DirectoryService,
    staff: &Staff,
    uid: &str,
) -> Result<DirectoryUser, HttpResponse> {
    match directory.user(uid).await {
        Ok(Some(l)) => Ok(l.user),
        Ok(None) => Err(message(
            staff,
            StatusCode::NOT_FOUND,
            "No such user",
            "The staff directory has nobody with this login.",
        )),
        Err(_) => Err(message(
            staff,
            StatusCode::SERVICE_UNAVAILABLE,
            "Directory unavailable",
            "The staff directory cannot be reached; try again later.",
        )),
    }
}

#[allow(clippy::too_many_arguments)]
async fn show(
    req: HttpRequest,
    path: web::Path<String>,
    done: web::Query<super::Outcome>,
    sessions: web::Data<ConsoleSessions>,
    directory: web::Data<DirectoryService>,
    release: web::Data<ReleaseService>,
    quotas: web::Data<Quotas>,
    spool: web::Data<Spool>,
) -> HttpResponse {
    let staff = match gate(&req, &sessions, OPERATORS).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let user = match lookup(&directory, &staff, &path).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let linked = directory
        .registrations(Some(&user.uid), false)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|r| (r.id, r.badge, local(r.created_at)))
        .collect();
    let (given, received) = release.delegations().of(&user).await.unwrap_or_default();
    let given = given
        .into_iter()
        .map(|d| {
            let until = d
                .until
                .map(|u| format!("until {}", local(u)))
                .unwrap_or_default();
            (d.id, format!("{} {}", d.kind, d.delegate), until)
        })
        .collect();
    let received = received
        .into_iter()
        .map(|d| d.owner)
        .collect::<Vec<_>>()
        .join(", ");
    let budgets = quotas
        .standing(&user.uid, &user.department)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|s| {
            let share = (s.used * 100)
                .checked_div(u64::from(s.quota.monthly_pages))
                .unwrap_or(0);
            (super::pages::budget_line(&s, "Own"), share.min(100) as u32)
        })
        .collect();
    let open = spool
        .list(Which::NotCompleted, Some(user.uid.clone()), 500)
        .await
        .map(|j| j.len())
        .unwrap_or(0);
    let has_pin = directory.has_pin(&user.uid).await.unwrap_or(false);
    render(
        StatusCode::OK,
        &UserPage {
            nav: "users",
            notice: done.notice.clone(),
            error: done.error.clone(),
            segment: path_segment(&user.uid),
            groups: user.groups.join(", "),
            directory_badges: user.badges.len(),
            user,
            linked,
            has_pin,
            given,
            received,
            budgets,
            open,
            staff,
        },
    )
}

async fn reset_pin(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    sessions: web::Data<ConsoleSessions>,
    directory: web::Data<DirectoryService>,
) -> HttpResponse {
    let (staff, _) = match posted(&req, &body, &sessions, OPERATORS).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let user = match lookup(&directory, &staff, &path).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    match directory.set_pin(&user.uid, None, &staff.uid).await {
        Ok(()) => back(
            &user.uid,
            Ok("PIN removed: the badge alone opens a session until a new PIN is set.".into()),
        ),
        Err(e) => back(&user.uid, Err(format!("The PIN was not reset: {e}."))),
    }
}

async fn link_badge(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    sessions: web::Data<ConsoleSessions>,
    directory: web::Data<DirectoryService>,
) -> HttpResponse {
    let (staff, form) = match posted(&req, &body, &sessions, OPERATORS).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let user = match lookup(&directory, &staff, &path).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    match directory
        .register_badge(&user, form.get("badge").trim(), &staff.uid)
        .await
    {
        Ok(r) => back(&user.uid, Ok(format!("Badge {} linked.", r.badge))),
        Err(e) => back(&user.uid, Err(format!("The badge was not linked: {e}."))),
    }
}

async fn unlink_badge(
    req: HttpRequest,
    path: web::Path<(String, i64)>,
    body: web::Bytes,
    sessions: web::Data<ConsoleSessions>,
    directory: web::Data<DirectoryService>,
) -> HttpResponse {
    let (staff, _) = match posted(&req, &body, &sessions, OPERATORS).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (uid, id) = path.into_inner();
    match directory
        .revoke_registration(id, Some(&uid), &staff.uid)
        .await
    {
        Ok(true) => back(&uid, Ok("Badge unlinked.".into())),
        Ok(false) => back(&uid, Err("No such badge of this user.".into())),
        Err(e) => {
            tracing::error!(error = %e, "cannot unlink a badge");
            back(
                &uid,
                Err("The badge was not unlinked; see Folio's log.".into()),
            )
        }
    }
}

async fn stop_delegation(
    req: HttpRequest,
    path: web::Path<(String, i64)>,
    body: web::Bytes,
    sessions: web::Data<ConsoleSessions>,
    directory: web::Data<DirectoryService>,
    release: web::Data<ReleaseService>,
) -> HttpResponse {
    let (staff, _) = match posted(&req, &body, &sessions, OPERATORS).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (uid, id) = path.into_inner();
    let user = match lookup(&directory, &staff, &uid).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    match release.delegations().revoke(&user, id).await {
        Ok(true) => back(&user.uid, Ok("Delegation stopped.".into())),
        Ok(false) => back(&user.uid, Err("No such delegation of this user.".into())),
        Err(e) => {
            tracing::error!(error = %e, "cannot stop a delegation");
            back(
                &user.uid,
                Err("The delegation was not stopped; see Folio's log.".into()),
            )
        }
    }
}
