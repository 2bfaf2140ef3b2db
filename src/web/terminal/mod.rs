//! The release terminal page, `/terminal`: for a copier's built-in browser or a tablet beside
//! it. Plain HTML forms (it works without JavaScript, on old embedded browsers), a badge field
//! that keyboard-wedge readers type into (digits, then Enter), large touch targets, automatic
//! logout. Pages are templates in `web/templates/terminal/`, compiled into the binary.
//!
//! The browser cannot send the device's Bearer token, so IT links the screen to its copier
//! once by typing the token: it is kept in an HttpOnly cookie (`folio_device`) and checked on
//! every request like the REST API's. The badge session is a second cookie (`folio_session`).
//! Every form carries a CSRF token equal to a third cookie (`folio_csrf`, double submit).

mod pages;
pub mod texts;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};
use askama::Template;
use rand::RngCore;
use subtle::ConstantTimeEq;

use super::form::Form;
use crate::devices::{Device, DeviceRegistry};
use crate::directory::{BadgeError, DirectoryService};
use crate::release::settings::ReleaseSettings;
use crate::release::{JobResult, ReleaseError, ReleaseService, Selection, SessionView};
use pages::{BadgePage, Notice, PairPage, SessionPage};
use texts::Texts;

const DEVICE_COOKIE: &str = "folio_device";
const SESSION_COOKIE: &str = "folio_session";
const CSRF_COOKIE: &str = "folio_csrf";
/// The confirmations of the last action, carried over the redirect that follows it (so that
/// reloading the page does not repeat "Print all"); read once, then removed.
const NOTICE_COOKIE: &str = "folio_notice";
/// Confirmations carried at most (a cookie holds 4 KB).
const MAX_NOTICES: usize = 8;
const COOKIE_PATH: &str = "/terminal";

/// Registers the terminal's routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/terminal", web::get().to(page))
        .route("/terminal/pair", web::post().to(pair))
        .route("/terminal/badge", web::post().to(badge))
        .route("/terminal/login", web::post().to(login))
        .route("/terminal/jobs", web::post().to(jobs))
        .route("/terminal/logout", web::post().to(logout))
        // The automatic logout is a <meta refresh>, which can only GET.
        .route("/terminal/logout", web::get().to(logout))
        .route("/terminal/assets/{file}", web::get().to(asset));
}

/// What every page needs: the language, the CSRF token, the cookie flags.
struct Ctx {
    t: &'static Texts,
    csrf: String,
    /// The CSRF cookie must be (re)sent with this response.
    new_csrf: bool,
    secure: bool,
    logout_secs: u64,
}

impl Ctx {
    fn of(req: &HttpRequest, settings: &ReleaseSettings) -> Ctx {
        let t = texts::for_accept_language(
            req.headers()
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok()),
        );
        let existing = req
            .cookie(CSRF_COOKIE)
            .map(|c| c.value().to_owned())
            .filter(|v| v.len() == 32 && v.chars().all(|c| c.is_ascii_hexdigit()));
        let (csrf, new_csrf) = match existing {
            Some(v) => (v, false),
            None => {
                let mut raw = [0u8; 16];
                rand::rngs::OsRng.fill_bytes(&mut raw);
                (hex::encode(raw), true)
            }
        };
        Ctx {
            t,
            csrf,
            new_csrf,
            secure: req.connection_info().scheme() == "https",
            logout_secs: settings.terminal_logout_secs.max(10),
        }
    }

    fn cookie(&self, name: &'static str, value: String) -> Cookie<'static> {
        Cookie::build(name, value)
            .path(COOKIE_PATH)
            .http_only(true)
            // Lax, not Strict: a copier's panel opening the terminal from its own home page is
            // a cross-site navigation, and the screen must still know its copier. Forms are
            // protected by the CSRF token.
            .same_site(SameSite::Lax)
            .secure(self.secure)
            .finish()
    }

    fn removal(&self, name: &'static str) -> Cookie<'static> {
        let mut c = self.cookie(name, String::new());
        c.make_removal();
        c
    }

    /// A response with the headers every terminal page carries.
    fn headers(&self, status: StatusCode) -> HttpResponseBuilder {
        let mut r = HttpResponse::build(status);
        r.insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::X_FRAME_OPTIONS, "DENY"))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            // Not no-referrer: with it, browsers send `Origin: null` on our own forms.
            .insert_header((header::REFERRER_POLICY, "same-origin"))
            .insert_header((
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
                 form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ));
        if self.new_csrf {
            r.cookie(self.cookie(CSRF_COOKIE, self.csrf.clone()));
        }
        r
    }

    /// Renders `template` with `status`; extra cookies set or removed.
    fn respond(
        &self,
        status: StatusCode,
        template: &impl Template,
        cookies: Vec<Cookie<'static>>,
    ) -> HttpResponse {
        let body = template.render();
        match body {
            Ok(html) => {
                let mut r = self.headers(status);
                for c in cookies {
                    r.cookie(c);
                }
                r.content_type("text/html; charset=utf-8").body(html)
            }
            Err(e) => {
                tracing::error!(error = %e, "terminal page could not be rendered");
                HttpResponse::InternalServerError()
                    .content_type("text/plain; charset=utf-8")
                    .body("Folio: this page could not be shown; the details are in the log.\n")
            }
        }
    }

    fn redirect(&self, cookies: Vec<Cookie<'static>>) -> HttpResponse {
        let mut r = HttpResponse::SeeOther();
        r.insert_header((header::LOCATION, "/terminal"))
            .insert_header((header::CACHE_CONTROL, "no-store"));
        for c in cookies {
            r.cookie(c);
        }
        r.finish()
    }
}

/// The form's CSRF token matches the cookie, and the request does not come from another site.
fn csrf_ok(req: &HttpRequest, ctx: &Ctx, form: &Form) -> bool {
    if ctx.new_csrf {
        return false;
    }
    if let Some(origin) = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    {
        // An opaque origin ("null": a sandboxed frame, a data: URL) is not this page either.
        // Behind a reverse proxy, the proxy must pass the Host header on (docs/release.md).
        let host = req.connection_info().host().to_owned();
        let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or(origin);
        if origin == "null" || !origin_host.eq_ignore_ascii_case(&host) {
            return false;
        }
    }
    let sent = form.get("csrf");
    !sent.is_empty() && bool::from(sent.as_bytes().ct_eq(ctx.csrf.as_bytes()))
}

/// The copier this screen is linked to, if its token is still valid.
async fn linked_device(req: &HttpRequest, devices: &DeviceRegistry) -> Option<Device> {
    let token = req.cookie(DEVICE_COOKIE)?;
    match devices.by_token(token.value()).await {
        Ok(d) => {
            if let Some(d) = &d {
                crate::web::guard::record("device", &d.name);
            }
            d
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot check a terminal's device token");
            None
        }
    }
}

fn expired(ctx: &Ctx) -> HttpResponse {
    // A fresh CSRF cookie comes with the page, so "start again" works.
    let mut raw = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let fresh = Ctx {
        t: ctx.t,
        csrf: hex::encode(raw),
        new_csrf: true,
        secure: ctx.secure,
        logout_secs: ctx.logout_secs,
    };
    fresh.respond(
        StatusCode::FORBIDDEN,
        &PairPage::expired(&fresh),
        Vec::new(),
    )
}

#[derive(serde::Deserialize)]
struct PageQuery {
    #[serde(default)]
    step: String,
}

async fn page(
    req: HttpRequest,
    query: web::Query<PageQuery>,
    devices: web::Data<DeviceRegistry>,
    release: web::Data<ReleaseService>,
    settings: web::Data<ReleaseSettings>,
) -> HttpResponse {
    let ctx = Ctx::of(&req, &settings);
    let Some(device) = linked_device(&req, &devices).await else {
        return ctx.respond(StatusCode::OK, &PairPage::new(&ctx, None), Vec::new());
    };
    if let Some(session) = req.cookie(SESSION_COOKIE) {
        let notices = req
            .cookie(NOTICE_COOKIE)
            .map(|c| Notice::decode(c.value()))
            .unwrap_or_default();
        return match release.view(&device, session.value()).await {
            Ok(view) => ctx.respond(
                StatusCode::OK,
                &SessionPage::new(&ctx, &view, notices),
                vec![ctx.removal(NOTICE_COOKIE)],
            ),
            Err(e) => session_lost(&ctx, &device, e),
        };
    }
    let step = if query.step == "login" {
        "login"
    } else {
        "badge"
    };
    ctx.respond(
        StatusCode::OK,
        &BadgePage::new(&ctx, &device, step),
        Vec::new(),
    )
}

/// The session is gone (expired, logged out elsewhere) or failed: back to the badge.
fn session_lost(ctx: &Ctx, device: &Device, e: ReleaseError) -> HttpResponse {
    let mut page = BadgePage::new(ctx, device, "badge");
    match e {
        ReleaseError::NoSession => page.notice = Some(ctx.t.session_over.into()),
        other => {
            tracing::error!(error = %other, "terminal session failed");
            page.error = Some(ctx.t.failed.into());
        }
    }
    ctx.respond(StatusCode::OK, &page, vec![ctx.removal(SESSION_COOKIE)])
}

async fn pair(
    req: HttpRequest,
    body: web::Bytes,
    devices: web::Data<DeviceRegistry>,
    settings: web::Data<ReleaseSettings>,
) -> HttpResponse {
    let ctx = Ctx::of(&req, &settings);
    let form = Form::parse(&body);
    if !csrf_ok(&req, &ctx, &form) {
        return expired(&ctx);
    }
    let token = form.get("token").trim().to_owned();
    match devices.by_token(&token).await {
        Ok(Some(device)) => {
            tracing::info!(device = %device.name, "a terminal screen was linked to its copier");
            let mut cookie = ctx.cookie(DEVICE_COOKIE, token);
            // The screen stays linked until the token is rotated.
            cookie.set_max_age(actix_web::cookie::time::Duration::days(3650));
            ctx.redirect(vec![cookie, ctx.removal(SESSION_COOKIE)])
        }
        Ok(None) => ctx.respond(
            StatusCode::UNAUTHORIZED,
            &PairPage::new(&ctx, Some(ctx.t.pair_wrong)),
            Vec::new(),
        ),
        Err(e) => {
            tracing::error!(error = %e, "cannot check a device token");
            ctx.respond(
                StatusCode::INTERNAL_SERVER_ERROR,
                &PairPage::new(&ctx, Some(ctx.t.failed)),
                Vec::new(),
            )
        }
    }
}

/// A form posted from the screen: its context, fields and linked device, or the answer when
/// the CSRF token does not match (expired) or the screen is not linked (to the pairing page).
async fn posted(
    req: &HttpRequest,
    body: &[u8],
    devices: &DeviceRegistry,
    settings: &ReleaseSettings,
) -> Result<(Ctx, Form, Device), HttpResponse> {
    let ctx = Ctx::of(req, settings);
    let form = Form::parse(body);
    if !csrf_ok(req, &ctx, &form) {
        return Err(expired(&ctx));
    }
    match linked_device(req, devices).await {
        Some(device) => Ok((ctx, form, device)),
        None => Err(ctx.redirect(Vec::new())),
    }
}

/// The page (step, status, error) for a failed badge or sign-in.
fn refused(
    ctx: &Ctx,
    device: &Device,
    e: ReleaseError,
    badge: &str,
    step: &'static str,
) -> HttpResponse {
    let t = ctx.t;
    let (status, step, error) = match e {
        ReleaseError::Badge(b) => match b {
            BadgeError::Unknown => (StatusCode::NOT_FOUND, "register", Some(t.unknown_badge)),
            BadgeError::PinRequired => (StatusCode::UNAUTHORIZED, "pin", None),
            BadgeError::WrongPin => (StatusCode::UNAUTHORIZED, "pin", Some(t.wrong_pin)),
            // No PIN yet: their password instead, at once.
            BadgeError::PinNotSet => (StatusCode::UNAUTHORIZED, "login", Some(t.pin_not_set)),
            BadgeError::Invalid => (StatusCode::BAD_REQUEST, "badge", Some(t.invalid_badge)),
            BadgeError::Ambiguous(_) => (StatusCode::CONFLICT, "badge", Some(t.badge_conflict)),
            BadgeError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                step,
                Some(t.directory_down),
            ),
            BadgeError::Database(m) => {
                tracing::error!(error = %m, "terminal badge check failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "badge", Some(t.failed))
            }
        },
        ReleaseError::Locked => (StatusCode::TOO_MANY_REQUESTS, "badge", Some(t.locked)),
        ReleaseError::WrongPassword => (StatusCode::UNAUTHORIZED, step, Some(t.wrong_password)),
        other => {
            tracing::error!(error = %other, "terminal sign-in failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "badge", Some(t.failed))
        }
    };
    let mut page = BadgePage::new(ctx, device, step);
    page.error = error.map(str::to_owned);
    if matches!(step, "pin" | "register") {
        page.badge = badge.to_owned();
    }
    ctx.respond(status, &page, Vec::new())
}

fn opened(ctx: &Ctx, view: &SessionView, notices: Vec<Notice>) -> HttpResponse {
    ctx.respond(
        StatusCode::OK,
        &SessionPage::new(ctx, view, notices),
        vec![ctx.cookie(SESSION_COOKIE, view.session.clone())],
    )
}

async fn badge(
    req: HttpRequest,
    body: web::Bytes,
    devices: web::Data<DeviceRegistry>,
    release: web::Data<ReleaseService>,
    settings: web::Data<ReleaseSettings>,
) -> HttpResponse {
    let (ctx, form, device) = match posted(&req, &body, &devices, &settings).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let (badge, pin) = (form.get("badge").trim(), form.get("pin").trim());
    let pin = (!pin.is_empty()).then_some(pin);
    match release.start(&device, badge, pin).await {
        Ok(view) => opened(&ctx, &view, Vec::new()),
        Err(e) => refused(&ctx, &device, e, badge, "badge"),
    }
}

/// Sign-in with login and password: a forgotten badge, or the first use of an unknown badge
/// (then linked to the user who signed in).
async fn login(
    req: HttpRequest,
    body: web::Bytes,
    devices: web::Data<DeviceRegistry>,
    release: web::Data<ReleaseService>,
    directory: web::Data<DirectoryService>,
    settings: web::Data<ReleaseSettings>,
) -> HttpResponse {
    let (ctx, form, device) = match posted(&req, &body, &devices, &settings).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let badge = form.get("badge").trim();
    let step = if badge.is_empty() {
        "login"
    } else {
        "register"
    };
    let user = match release
        .authenticate(
            &device,
            crate::web::client::address(&req),
            form.get("login").trim(),
            form.get("password"),
        )
        .await
    {
        Ok(user) => user,
        Err(e) => return refused(&ctx, &device, e, badge, step),
    };
    let mut notices = Vec::new();
    if !badge.is_empty() {
        let from = crate::web::client::address(&req);
        match directory.register_own_badge(&user, badge, from).await {
            Ok(_) => notices.push(Notice::ok(ctx.t.badge_linked.into())),
            Err(e) => notices.push(Notice::error(format!("{}: {e}", ctx.t.badge_not_linked))),
        }
    }
    match release.open(&device, &user, false, "password").await {
        Ok(view) => opened(&ctx, &view, notices),
        Err(e) => refused(&ctx, &device, e, "", "badge"),
    }
}

async fn jobs(
    req: HttpRequest,
    body: web::Bytes,
    devices: web::Data<DeviceRegistry>,
    release: web::Data<ReleaseService>,
    settings: web::Data<ReleaseSettings>,
) -> HttpResponse {
    let (ctx, form, device) = match posted(&req, &body, &devices, &settings).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Some(session) = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned()) else {
        return ctx.redirect(Vec::new());
    };
    // Names for the confirmation, before released jobs leave the list.
    let before = match release.jobs(&device, &session).await {
        Ok(jobs) => jobs,
        Err(e) => return session_lost(&ctx, &device, e),
    };
    let ids: Vec<i64> = form.all("job").filter_map(|v| v.parse().ok()).collect();
    let action = form.get("action");
    let t = ctx.t;
    let results: Result<Vec<JobResult>, ReleaseError> = match action {
        "release-all" => release.release(&device, &session, Selection::All).await,
        "release-selected" | "cancel" if ids.is_empty() => Ok(Vec::new()),
        "release-selected" => {
            release
                .release(&device, &session, Selection::Jobs(ids))
                .await
        }
        "cancel" => release.cancel(&device, &session, ids).await,
        _ => Ok(Vec::new()),
    };
    let mut notices = Vec::new();
    match results {
        Ok(results) if results.is_empty() && action != "release-all" => {
            notices.push(Notice::error(t.nothing_selected.into()));
        }
        Ok(results) => {
            for r in results {
                let name = before
                    .iter()
                    .find(|j| j.id == r.id)
                    .map(|j| j.name.clone())
                    .unwrap_or_else(|| format!("#{}", r.id));
                notices.push(match r.result {
                    "releasing" => match &r.warning {
                        Some(w) => Notice::error(format!("{name} — {} ({w})", t.sent)),
                        None => Notice::ok(format!("{name} — {}", t.sent)),
                    },
                    "canceled" => Notice::ok(format!("{name} — {}", t.canceled)),
                    _ => Notice::error(format!("{name} — {}: {}", t.not_released, r.message)),
                });
            }
        }
        Err(e @ ReleaseError::NoSession) => return session_lost(&ctx, &device, e),
        // Some jobs may have gone before the failure: the list (after the redirect) tells.
        Err(e) => {
            tracing::error!(error = %e, "a release at the terminal failed");
            notices.push(Notice::error(t.failed.into()));
        }
    }
    if notices.len() > MAX_NOTICES {
        let more = notices.len() - MAX_NOTICES + 1;
        notices.truncate(MAX_NOTICES - 1);
        notices.push(Notice::ok(format!("+ {more}")));
    }
    let mut carried = ctx.cookie(NOTICE_COOKIE, Notice::encode(&notices));
    carried.set_max_age(actix_web::cookie::time::Duration::seconds(60));
    ctx.redirect(vec![carried])
}

async fn logout(
    req: HttpRequest,
    devices: web::Data<DeviceRegistry>,
    release: web::Data<ReleaseService>,
    settings: web::Data<ReleaseSettings>,
) -> HttpResponse {
    let ctx = Ctx::of(&req, &settings);
    if let (Some(device), Some(session)) = (
        linked_device(&req, &devices).await,
        req.cookie(SESSION_COOKIE),
    ) {
        // Already ended or expired is fine: the user is logged out either way.
        let _ = release.end(&device, session.value()).await;
    }
    ctx.redirect(vec![ctx.removal(SESSION_COOKIE)])
}

async fn asset(path: web::Path<String>) -> HttpResponse {
    match path.as_str() {
        "terminal.css" => super::asset(
            include_str!("../../../web/static/terminal.css"),
            "text/css; charset=utf-8",
        ),
        "terminal.js" => super::asset(
            include_str!("../../../web/static/terminal.js"),
            "text/javascript; charset=utf-8",
        ),
        _ => HttpResponse::NotFound().finish(),
    }
}
