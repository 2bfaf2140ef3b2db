//! The IT console, served at `/`: sign-in with the directory, roles from its groups
//! (`[roles]`), then the dashboard, jobs (metadata only), devices and print rules. Templates and
//! assets are in `web/` (compiled in).
//!
//! Sessions live in the database (any node serves the next page): the cookie carries a random
//! token, the table its SHA-256; 30 minutes idle or 12 hours at most. Every form carries the
//! session's CSRF token (synchronizer token); the sign-in form, before any session, a
//! double-submit cookie. Failed sign-ins are limited per address.

mod audit;
mod devices;
mod jobs;
mod me;
mod pages;
mod policies;
mod reports;
mod rule_form;
mod scan_document;
mod scans;
mod users;

use std::time::Duration;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};
use askama::Template;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::form::Form;
use crate::config::RolesSettings;
use crate::db::models::console_sessions::{self as rows, ConsoleSessionRow};
use crate::db::{self, Db, DbError};
use crate::devices::DeviceRegistry;
use crate::directory::settings::Role;
use crate::directory::throttle::{Channel, Origin};
use crate::directory::{DirectoryService, Login};
use crate::spool::Spool;
use pages::{DashboardPage, JobLine, LoginPage, MessagePage};

const SESSION_COOKIE: &str = "folio_console";
const LOGIN_CSRF_COOKIE: &str = "folio_login_csrf";
const IDLE: Duration = Duration::from_secs(30 * 60);
const ABSOLUTE: Duration = Duration::from_secs(12 * 3600);

/// Registers the console's routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(dashboard))
        .route("/login", web::get().to(login_page))
        .route("/login", web::post().to(login))
        .route("/logout", web::post().to(logout))
        .route("/assets/console.css", web::get().to(css))
        .configure(policies::routes)
        .configure(audit::routes)
        .configure(me::routes)
        .configure(reports::routes)
        .configure(devices::routes)
        .configure(jobs::routes)
        .configure(users::routes)
        .configure(scans::routes)
        .configure(scan_document::routes);
}

/// Console sessions (cheap to clone). Sign-ins are limited by the directory's throttle.
#[derive(Clone)]
pub struct ConsoleSessions {
    db: Db,
    directory: DirectoryService,
    roles: RolesSettings,
}

impl ConsoleSessions {
    pub fn new(db: Db, directory: DirectoryService, roles: RolesSettings) -> ConsoleSessions {
        ConsoleSessions {
            db,
            directory,
            roles,
        }
    }
}

/// A signed-in member of IT.
#[derive(Debug, Clone)]
pub struct Staff {
    pub uid: String,
    pub roles: Vec<Role>,
    pub csrf: String,
    session: String,
    pub is_admin: bool,
    /// Admin or auditor: the audit log.
    pub can_audit: bool,
    /// An IT role (the IT pages); staff without one have their own page only.
    pub is_it: bool,
    /// A QC reviewer of scanned records: the sampled pages and the decisions on them.
    pub can_review: bool,
    /// Admin or helpdesk: users, and acting on jobs and devices.
    pub can_operate: bool,
    pub roles_text: String,
}

impl Staff {
    pub fn has(&self, any: &[Role]) -> bool {
        self.roles.iter().any(|r| any.contains(r))
    }
}

fn random_hex(n: usize) -> String {
    let mut raw = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    hex::encode(raw)
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn secure(req: &HttpRequest) -> bool {
    req.connection_info().scheme() == "https"
}

fn cookie(
    req: &HttpRequest,
    name: &'static str,
    value: String,
    path: &'static str,
) -> Cookie<'static> {
    Cookie::build(name, value)
        .path(path)
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure(req))
        .finish()
}

/// The headers of every console page.
fn page(status: StatusCode) -> HttpResponseBuilder {
    let mut r = HttpResponse::build(status);
    r.insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ));
    r
}

/// Renders a template with `status`.
pub fn render(status: StatusCode, template: &impl Template) -> HttpResponse {
    match template.render() {
        Ok(html) => page(status)
            .content_type("text/html; charset=utf-8")
            .body(html),
        Err(e) => {
            tracing::error!(error = %e, "console page could not be rendered");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("Folio: this page could not be shown; the details are in the log.\n")
        }
    }
}

pub fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_owned()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// A page saying why not.
/// A redirect to `path` carrying `key=value` (a notice the page shows once).
pub fn see_other_with(path: &str, key: &str, value: &str) -> HttpResponse {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair(key, value)
        .finish();
    see_other(&format!("{path}?{query}"))
}

/// What [`back_to`] said, read back from the query string.
#[derive(serde::Deserialize)]
pub struct Outcome {
    #[serde(default)]
    pub notice: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
}

/// A redirect to `path` saying what happened: `notice=…` or `error=…`.
pub fn back_to(path: &str, outcome: Result<String, String>) -> HttpResponse {
    match outcome {
        Ok(n) => see_other_with(path, "notice", &n),
        Err(e) => see_other_with(path, "error", &e),
    }
}

pub fn message(staff: &Staff, status: StatusCode, heading: &str, text: &str) -> HttpResponse {
    render(
        status,
        &MessagePage {
            staff: staff.clone(),
            nav: "",
            heading: heading.to_owned(),
            message: text.to_owned(),
            kind: if status.is_success() { "ok" } else { "error" },
        },
    )
}

/// The signed-in staff member of this request, or the response to send instead (the sign-in
/// page for a missing or expired session; "not for your role" when `allowed` excludes them).
pub async fn gate(
    req: &HttpRequest,
    sessions: &ConsoleSessions,
    allowed: &[Role],
) -> Result<Staff, HttpResponse> {
    let Some(token) = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned()) else {
        return Err(see_other("/login"));
    };
    let id = token_hash(&token);
    let now = db::now_ms();
    let found = sessions
        .db
        .run(move |conn| {
            let row = rows::open(
                conn,
                &id,
                now - IDLE.as_millis() as i64,
                now - ABSOLUTE.as_millis() as i64,
            )?;
            if row.is_some() {
                rows::touch(conn, &id, now)?;
            }
            Ok::<_, DbError>(row)
        })
        .await;
    let row = match found {
        Ok(Some(row)) => {
            crate::web::guard::record("user", &row.uid);
            row
        }
        Ok(None) => return Err(see_other("/login")),
        Err(e) => {
            tracing::error!(error = %e, "console session lookup failed");
            return Err(HttpResponse::ServiceUnavailable().body("Folio: try again in a moment\n"));
        }
    };
    // Roles follow the directory's groups now, not as they were at sign-in: someone removed
    // from the admin group loses the admin pages at their next page. (The directory's cache
    // answers; when it cannot, the roles of the sign-in hold.)
    let roles: Vec<Role> = match sessions.directory.user(&row.uid).await {
        Ok(Some(found)) => sessions.roles.roles_of(&found.user.groups),
        _ => serde_json::from_str::<Vec<String>>(&row.roles)
            .unwrap_or_default()
            .iter()
            .filter_map(|r| match r.as_str() {
                "admin" => Some(Role::Admin),
                "helpdesk" => Some(Role::Helpdesk),
                "auditor" => Some(Role::Auditor),
                "reviewer" => Some(Role::Reviewer),
                _ => None,
            })
            .collect(),
    };
    let staff = Staff {
        is_admin: roles.contains(&Role::Admin),
        can_audit: roles.contains(&Role::Admin) || roles.contains(&Role::Auditor),
        is_it: roles.iter().any(|r| EVERY_ROLE.contains(r)),
        can_review: roles.contains(&Role::Reviewer),
        can_operate: OPERATORS.iter().any(|r| roles.contains(r)),
        roles_text: serde_json::to_value(&roles)
            .ok()
            .and_then(|v| serde_json::from_value::<Vec<String>>(v).ok())
            .unwrap_or_default()
            .join(", "),
        uid: row.uid,
        roles,
        csrf: row.csrf,
        session: row.id,
    };
    if !allowed.is_empty() && !staff.has(allowed) {
        return Err(message(
            &staff,
            StatusCode::FORBIDDEN,
            "Not for your role",
            "This page is for another role. Ask IT if you need it.",
        ));
    }
    Ok(staff)
}

/// A POST of a signed-in staff member: the session, the role, and the form's CSRF token.
pub async fn gate_form(
    req: &HttpRequest,
    sessions: &ConsoleSessions,
    allowed: &[Role],
    form: &Form,
) -> Result<Staff, HttpResponse> {
    let staff = gate(req, sessions, allowed).await?;
    let sent = form.get("csrf");
    if sent.is_empty() || !bool::from(sent.as_bytes().ct_eq(staff.csrf.as_bytes())) {
        tracing::warn!(user = %staff.uid, path = %req.path(), "console form without a valid CSRF token");
        return Err(message(
            &staff,
            StatusCode::FORBIDDEN,
            "This form has expired",
            "Reload the page and try again.",
        ));
    }
    Ok(staff)
}

/// A form posted by a signed-in user holding one of `allowed` (any user when empty), its CSRF
/// token checked: the user and the form, or the answer to send instead.
pub async fn posted(
    req: &HttpRequest,
    body: &[u8],
    sessions: &ConsoleSessions,
    allowed: &[Role],
) -> Result<(Staff, Form), HttpResponse> {
    let form = Form::parse(body);
    let staff = gate_form(req, sessions, allowed, &form).await?;
    Ok((staff, form))
}

pub const EVERY_ROLE: &[Role] = &[Role::Admin, Role::Helpdesk, Role::Auditor];
/// Who acts for others: devices, users, someone's jobs.
pub const OPERATORS: &[Role] = &[Role::Admin, Role::Helpdesk];
/// Who decides where documents may go: adding a device or changing its address.
pub const ADMINS: &[Role] = &[Role::Admin];

async fn login_page(req: HttpRequest, sessions: web::Data<ConsoleSessions>) -> HttpResponse {
    if gate(&req, &sessions, &[]).await.is_ok() {
        return see_other("/");
    }
    login_form(&req, None, StatusCode::OK)
}

fn login_form(req: &HttpRequest, error: Option<&str>, status: StatusCode) -> HttpResponse {
    let csrf = req
        .cookie(LOGIN_CSRF_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| v.len() == 32)
        .unwrap_or_else(|| random_hex(16));
    let mut r = render(
        status,
        &LoginPage {
            csrf: csrf.clone(),
            error: error.map(str::to_owned),
        },
    );
    let _ = r.add_cookie(&cookie(req, LOGIN_CSRF_COOKIE, csrf, "/login"));
    r
}

fn address(req: &HttpRequest) -> String {
    crate::web::client::address(req)
        .map(|a| a.to_string())
        .unwrap_or_default()
}

async fn login(
    req: HttpRequest,
    body: web::Bytes,
    sessions: web::Data<ConsoleSessions>,
    directory: web::Data<DirectoryService>,
    roles: web::Data<RolesSettings>,
) -> HttpResponse {
    let form = Form::parse(&body);
    let expected = req.cookie(LOGIN_CSRF_COOKIE).map(|c| c.value().to_owned());
    let sent = form.get("csrf");
    let csrf_ok = expected
        .as_deref()
        .is_some_and(|e| !sent.is_empty() && bool::from(sent.as_bytes().ct_eq(e.as_bytes())));
    if !csrf_ok {
        return login_form(
            &req,
            Some("This page expired; sign in again."),
            StatusCode::FORBIDDEN,
        );
    }
    // The directory's throttle counts per login and per address (behind a reverse proxy, the
    // address it forwards: limits.trusted_proxies), and audits the failures.
    let from = address(&req);
    let origin = Origin::new(Channel::Console, crate::web::client::address(&req));
    let user = match directory
        .sign_in(origin, form.get("login").trim(), form.get("password"))
        .await
    {
        Ok(Login::Accepted(user)) => user,
        Ok(Login::Throttled(_)) => {
            return login_form(
                &req,
                Some("Too many failed sign-ins: wait a few minutes."),
                StatusCode::TOO_MANY_REQUESTS,
            );
        }
        Ok(Login::Refused) => {
            return login_form(
                &req,
                Some("Wrong login or password."),
                StatusCode::UNAUTHORIZED,
            );
        }
        Err(e) => {
            tracing::warn!(error = %e, "console sign-in: directory unavailable");
            return login_form(
                &req,
                Some("The staff directory is unavailable; try again in a minute."),
                StatusCode::SERVICE_UNAVAILABLE,
            );
        }
    };
    // Staff without a Folio role sign in too: to their own page.
    let granted = roles.roles_of(&user.groups);
    let token = random_hex(32);
    let now = db::now_ms();
    let row = ConsoleSessionRow {
        id: token_hash(&token),
        uid: user.uid.clone(),
        roles: serde_json::to_string(&granted).unwrap_or_else(|_| "[]".into()),
        csrf: random_hex(16),
        address: Some(from.clone()),
        created_at: now,
        last_seen_at: now,
        ended_at: None,
    };
    let uid = user.uid.clone();
    let stored = sessions
        .db
        .run(move |conn| {
            db::write_tx(conn, |conn| {
                rows::insert(conn, &row)?;
                crate::audit::append(
                    conn,
                    crate::audit::Event {
                        actor: &uid,
                        action: "console.login",
                        object: &format!("user:{uid}"),
                        detail: serde_json::json!({ "address": from, "roles": row.roles })
                            .to_string(),
                        ..Default::default()
                    },
                )
            })
            .map_err(DbError::from)
        })
        .await;
    if let Err(e) = stored {
        tracing::error!(error = %e, "cannot store a console session");
        return login_form(
            &req,
            Some("Folio cannot sign you in right now; the details are in its log."),
            StatusCode::INTERNAL_SERVER_ERROR,
        );
    }
    let mut r = see_other(if granted.is_empty() { "/me" } else { "/" });
    let _ = r.add_cookie(&cookie(&req, SESSION_COOKIE, token, "/"));
    r
}

async fn logout(
    req: HttpRequest,
    body: web::Bytes,
    sessions: web::Data<ConsoleSessions>,
) -> HttpResponse {
    let (staff, _) = match posted(&req, &body, &sessions, &[]).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let id = staff.session.clone();
    let _ = sessions
        .db
        .run(move |conn| Ok::<_, DbError>(rows::end(conn, &id, db::now_ms())?))
        .await;
    let mut r = see_other("/login");
    let mut gone = cookie(&req, SESSION_COOKIE, String::new(), "/");
    gone.make_removal();
    let _ = r.add_cookie(&gone);
    r
}

async fn dashboard(
    req: HttpRequest,
    sessions: web::Data<ConsoleSessions>,
    spool: web::Data<Spool>,
    devices: web::Data<DeviceRegistry>,
    policy: web::Data<crate::policy::PolicyStore>,
    release: web::Data<crate::release::ReleaseService>,
) -> HttpResponse {
    let staff = match gate(&req, &sessions, &[]).await {
        Ok(s) if s.is_it => s,
        Ok(s) if s.can_review => return see_other("/scans"),
        Ok(_) => return see_other("/me"),
        Err(r) => return r,
    };
    let counts = sessions
        .db
        .run(|conn| {
            use crate::db::models::jobs;
            let today = pages::start_of_today_ms();
            Ok::<_, DbError>((
                jobs::count_in_state(conn, 4)?,
                jobs::count_in_state(conn, 5)?,
                jobs::count_in_state(conn, 6)?,
                jobs::completed_since(conn, today)?,
                jobs::finished_since(conn, today, 100_000)?,
            ))
        })
        .await;
    let (held, printing, needs_decision, printed_today, finished) = match counts {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "dashboard counts failed");
            (0, 0, 0, 0, Vec::new())
        }
    };
    let today = pages::Today::of(&finished);
    let all_devices = devices.list().await.unwrap_or_default();
    let states =
        futures_util::future::join_all(all_devices.iter().map(|d| release.device_status(d))).await;
    let in_error: Vec<String> = all_devices
        .iter()
        .zip(states)
        .filter(|(_, s)| !s.ready)
        .map(|(d, s)| format!("{} ({})", d.name, s.state))
        .collect();
    let recent = spool
        .list(crate::db::models::jobs::Which::All, None, 10)
        .await
        .unwrap_or_default();
    render(
        StatusCode::OK,
        &DashboardPage {
            nav: "dashboard",
            held,
            printing,
            needs_decision,
            printed_today,
            devices: all_devices.len(),
            in_error,
            today,
            rules: policy.rules().await.map(|r| r.len()).unwrap_or(0),
            recent: recent.iter().map(JobLine::of).collect(),
            staff,
        },
    )
}

async fn css() -> HttpResponse {
    super::asset(
        include_str!("../../../web/static/console.css"),
        "text/css; charset=utf-8",
    )
}
