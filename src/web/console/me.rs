//! "My printing": every member of staff's own page (no role needed). Their documents waiting
//! (names shown: they are theirs) with delete, what happened recently, their linked badges,
//! their release PIN, who may print their documents, and their monthly budget.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::pages::{local, JobLine};
use super::{gate, posted, render, ConsoleSessions, Staff};
use crate::db::models::jobs::Which;
use crate::directory::{DirectoryService, DirectoryUser};
use crate::domain::JobState;
use crate::policy::quota::Quotas;
use crate::release::delegation::NewDelegation;
use crate::release::ReleaseService;
use crate::spool::Spool;
use crate::web::form::Form;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/me", web::get().to(page))
        .route("/me/jobs/{id}/cancel", web::post().to(cancel))
        .route("/me/badges", web::post().to(link_badge))
        .route("/me/badges/{id}/revoke", web::post().to(unlink_badge))
        .route("/me/pin", web::post().to(pin))
        .route("/me/delegations", web::post().to(delegate))
        .route(
            "/me/delegations/{id}/revoke",
            web::post().to(revoke_delegation),
        );
}

/// A job of mine: the console's line, with its name.
pub struct MyJob {
    pub id: i64,
    pub name: String,
    pub state: &'static str,
    pub pages: String,
    pub color: &'static str,
    pub sides: &'static str,
    pub submitted: String,
    pub message: String,
}

#[derive(Template)]
#[template(path = "console/me.html")]
struct MePage {
    staff: Staff,
    nav: &'static str,
    notice: Option<String>,
    error: Option<String>,
    held: Vec<MyJob>,
    history: Vec<MyJob>,
    /// (id, badge, since)
    badges: Vec<(i64, String, String)>,
    has_pin: bool,
    /// (id, to whom, until)
    given: Vec<(i64, String, String)>,
    received: String,
    budgets: Vec<String>,
}

fn back(outcome: Result<String, String>) -> HttpResponse {
    super::back_to("/me", outcome)
}

/// A form posted by a signed-in user, with their directory entry (a stale form, or the
/// directory down, answer instead).
async fn signed_in(
    req: &HttpRequest,
    body: &[u8],
    sessions: &ConsoleSessions,
    directory: &DirectoryService,
) -> Result<(Staff, Form, DirectoryUser), HttpResponse> {
    let (staff, form) = super::posted(req, body, sessions, &[]).await?;
    match me_in_directory(directory, &staff).await {
        Some(user) => Ok((staff, form, user)),
        None => Err(back(Err(
            "The staff directory is unavailable; try again later.".into(),
        ))),
    }
}

async fn me_in_directory(directory: &DirectoryService, staff: &Staff) -> Option<DirectoryUser> {
    directory
        .user(&staff.uid)
        .await
        .ok()
        .flatten()
        .map(|l| l.user)
}

#[allow(clippy::too_many_arguments)]
async fn page(
    req: HttpRequest,
    done: web::Query<super::Outcome>,
    sessions: web::Data<ConsoleSessions>,
    spool: web::Data<Spool>,
    directory: web::Data<DirectoryService>,
    release: web::Data<ReleaseService>,
    quotas: web::Data<Quotas>,
) -> HttpResponse {
    let staff = match gate(&req, &sessions, &[]).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let user = me_in_directory(&directory, &staff).await;
    let mine = |rows: Vec<crate::db::models::jobs::JobRow>| -> Vec<MyJob> {
        rows.iter()
            .map(|j| {
                let line = JobLine::of(j);
                MyJob {
                    id: j.id,
                    name: j.name.clone(),
                    state: line.state,
                    pages: line.pages,
                    color: line.color,
                    sides: line.sides,
                    submitted: line.submitted,
                    message: line.message,
                }
            })
            .collect()
    };
    let open = spool
        .list(Which::NotCompleted, Some(staff.uid.clone()), 200)
        .await
        .unwrap_or_default();
    let held: Vec<_> = open
        .into_iter()
        .filter(|j| {
            matches!(
                JobState::from_code(j.state),
                Some(JobState::PendingHeld | JobState::ProcessingStopped)
            )
        })
        .collect();
    let history = spool
        .list(Which::Completed, Some(staff.uid.clone()), 20)
        .await
        .unwrap_or_default();
    let badges = directory
        .registrations(Some(&staff.uid), false)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|r| (r.id, r.badge, local(r.created_at)))
        .collect();
    let has_pin = directory.has_pin(&staff.uid).await.unwrap_or(false);
    let (given, received) = match &user {
        Some(u) => release.delegations().of(u).await.unwrap_or_default(),
        None => Default::default(),
    };
    let given = given
        .into_iter()
        .map(|d| {
            let to = format!(
                "{} {}",
                if d.kind == "group" { "group" } else { "" },
                d.delegate
            );
            let until = d
                .until
                .map(|u| format!("until {}", local(u)))
                .unwrap_or_default();
            (d.id, to.trim().to_owned(), until)
        })
        .collect();
    let received = received
        .iter()
        .map(|d| d.owner.clone())
        .collect::<Vec<_>>()
        .join(", ");
    let department = user
        .as_ref()
        .map(|u| u.department.clone())
        .unwrap_or_default();
    let budgets = quotas
        .standing(&staff.uid, &department)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|s| super::pages::budget_line(&s, "My"))
        .collect();
    render(
        StatusCode::OK,
        &MePage {
            nav: "me",
            notice: done.notice.clone(),
            error: done.error.clone(),
            held: mine(held),
            history: mine(history),
            badges,
            has_pin,
            given,
            received,
            budgets,
            staff,
        },
    )
}

async fn cancel(
    req: HttpRequest,
    path: web::Path<i64>,
    body: web::Bytes,
    sessions: web::Data<ConsoleSessions>,
    spool: web::Data<Spool>,
) -> HttpResponse {
    let (staff, _) = match posted(&req, &body, &sessions, &[]).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    // Only one's own job; another's answers the same as a missing one.
    match spool.job(*path).await {
        Ok(Some((job, _))) if job.owner == staff.uid => {
            match spool.cancel(job.id, staff.uid.clone(), false).await {
                Ok(_) => back(Ok("Deleted.".into())),
                Err(e) => back(Err(e.to_string())),
            }
        }
        _ => back(Err("No such document of yours.".into())),
    }
}

async fn link_badge(
    req: HttpRequest,
    body: web::Bytes,
    sessions: web::Data<ConsoleSessions>,
    directory: web::Data<DirectoryService>,
) -> HttpResponse {
    let (_, form, user) = match signed_in(&req, &body, &sessions, &directory).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let from = crate::web::client::address(&req);
    match directory
        .register_own_badge(&user, form.get("badge").trim(), from)
        .await
    {
        Ok(_) => back(Ok("Badge linked: tap it at any copier.".into())),
        Err(e) => back(Err(format!("Not linked: {e}."))),
    }
}

async fn unlink_badge(
    req: HttpRequest,
    path: web::Path<i64>,
    body: web::Bytes,
    sessions: web::Data<ConsoleSessions>,
    directory: web::Data<DirectoryService>,
) -> HttpResponse {
    let (staff, _) = match posted(&req, &body, &sessions, &[]).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match directory
        .revoke_registration(*path, Some(&staff.uid), &staff.uid)
        .await
    {
        Ok(true) => back(Ok("Badge unlinked.".into())),
        _ => back(Err("No such badge of yours.".into())),
    }
}

async fn pin(
    req: HttpRequest,
    body: web::Bytes,
    sessions: web::Data<ConsoleSessions>,
    directory: web::Data<DirectoryService>,
) -> HttpResponse {
    let (staff, form) = match posted(&req, &body, &sessions, &[]).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (pin, done) = if form.get("remove") == "1" {
        (None, "PIN removed.")
    } else {
        (
            Some(form.get("pin").trim()),
            "PIN saved: it is asked after your badge.",
        )
    };
    match directory.set_pin(&staff.uid, pin, &staff.uid).await {
        Ok(()) => back(Ok(done.into())),
        Err(e) => back(Err(format!("Not saved: {e}."))),
    }
}

async fn delegate(
    req: HttpRequest,
    body: web::Bytes,
    sessions: web::Data<ConsoleSessions>,
    directory: web::Data<DirectoryService>,
    release: web::Data<ReleaseService>,
) -> HttpResponse {
    let (_, form, user) = match signed_in(&req, &body, &sessions, &directory).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let text = |f: &str| {
        let v = form.get(f).trim();
        (!v.is_empty()).then(|| v.to_owned())
    };
    let until = match text("until") {
        // The end of that day, local time.
        Some(d) => match d.parse::<jiff::civil::Date>().ok().and_then(|date| {
            date.to_zoned(jiff::tz::TimeZone::system())
                .ok()
                .map(|z| z.timestamp().as_millisecond() + 86_400_000 - 1)
        }) {
            Some(ms) => Some(ms),
            None => return back(Err(format!("`{d}` is not a date (YYYY-MM-DD)."))),
        },
        None => None,
    };
    let new = NewDelegation {
        to_user: text("to_user"),
        to_group: text("to_group"),
        until,
    };
    match release.delegations().create(&user, new).await {
        Ok(d) => back(Ok(format!("{} may now print your documents.", d.delegate))),
        Err(e) => back(Err(format!("Not recorded: {e}."))),
    }
}

async fn revoke_delegation(
    req: HttpRequest,
    path: web::Path<i64>,
    body: web::Bytes,
    sessions: web::Data<ConsoleSessions>,
    directory: web::Data<DirectoryService>,
    release: web::Data<ReleaseService>,
) -> HttpResponse {
    let (_, _, user) = match signed_in(&req, &body, &sessions, &directory).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match release.delegations().revoke(&user, *path).await {
        Ok(true) => back(Ok("Stopped.".into())),
        _ => back(Err("No such delegation of yours.".into())),
    }
}
