//! `/api/v1/policy`: IT's print rules (read by every role, changed by administrators) and the
//! simulation that explains a ticket (administrators and helpdesk). HTTP Basic with the
//! directory; JSON-only writes.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::me::{authenticated, json_body, ApiError};
use crate::config::RolesSettings;
use crate::devices::DeviceRegistry;
use crate::directory::settings::Role;
use crate::directory::{DirectoryService, DirectoryUser};
use crate::domain::{ColorMode, Sides};
use crate::policy::rules::{evaluate, parse_hours, DAYS};
use crate::policy::store::{PolicyError, RuleInput};
use crate::policy::{facts_for, JobFacts, PolicyStore, Requested};

/// Registers the routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/policy/rules", web::get().to(list))
        .route("/api/v1/policy/rules", web::post().to(create))
        .route("/api/v1/policy/rules/{id}", web::get().to(get))
        .route("/api/v1/policy/rules/{id}", web::put().to(update))
        .route("/api/v1/policy/rules/{id}", web::delete().to(delete))
        .route("/api/v1/policy/simulate", web::post().to(simulate));
}

/// The caller, when they hold one of `allowed`.
pub async fn with_role(
    req: &HttpRequest,
    directory: &DirectoryService,
    roles: &RolesSettings,
    allowed: &[Role],
) -> Result<DirectoryUser, ApiError> {
    let user = authenticated(req, directory).await?;
    if !roles
        .roles_of(&user.groups)
        .iter()
        .any(|r| allowed.contains(r))
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "your role does not allow this",
        ));
    }
    Ok(user)
}

const READERS: &[Role] = &[Role::Admin, Role::Helpdesk, Role::Auditor];

fn policy_error(e: PolicyError) -> ApiError {
    match e {
        PolicyError::Invalid(_) => {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_rule", e.to_string())
        }
        PolicyError::NotFound => ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such rule"),
        PolicyError::Db(e) => ApiError::internal(e),
    }
}

async fn list(
    req: HttpRequest,
    directory: web::Data<DirectoryService>,
    roles: web::Data<RolesSettings>,
    policy: web::Data<PolicyStore>,
) -> Result<HttpResponse, ApiError> {
    with_role(&req, &directory, &roles, READERS).await?;
    let rules = policy.list().await.map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(json!({ "rules": rules })))
}

async fn get(
    req: HttpRequest,
    path: web::Path<i64>,
    directory: web::Data<DirectoryService>,
    roles: web::Data<RolesSettings>,
    policy: web::Data<PolicyStore>,
) -> Result<HttpResponse, ApiError> {
    with_role(&req, &directory, &roles, READERS).await?;
    let rule = policy.get(*path).await.map_err(policy_error)?;
    Ok(HttpResponse::Ok().json(rule))
}

async fn create(
    req: HttpRequest,
    body: web::Bytes,
    directory: web::Data<DirectoryService>,
    roles: web::Data<RolesSettings>,
    policy: web::Data<PolicyStore>,
) -> Result<HttpResponse, ApiError> {
    let admin = with_role(&req, &directory, &roles, &[Role::Admin]).await?;
    let input: RuleInput = json_body(&req, &body)?;
    let rule = policy
        .create(input, &admin.uid)
        .await
        .map_err(policy_error)?;
    Ok(HttpResponse::Created().json(rule))
}

async fn update(
    req: HttpRequest,
    path: web::Path<i64>,
    body: web::Bytes,
    directory: web::Data<DirectoryService>,
    roles: web::Data<RolesSettings>,
    policy: web::Data<PolicyStore>,
) -> Result<HttpResponse, ApiError> {
    let admin = with_role(&req, &directory, &roles, &[Role::Admin]).await?;
    let input: RuleInput = json_body(&req, &body)?;
    let rule = policy
        .update(*path, input, &admin.uid)
        .await
        .map_err(policy_error)?;
    Ok(HttpResponse::Ok().json(rule))
}

async fn delete(
    req: HttpRequest,
    path: web::Path<i64>,
    directory: web::Data<DirectoryService>,
    roles: web::Data<RolesSettings>,
    policy: web::Data<PolicyStore>,
) -> Result<HttpResponse, ApiError> {
    let admin = with_role(&req, &directory, &roles, &[Role::Admin]).await?;
    policy
        .delete(*path, &admin.uid)
        .await
        .map_err(policy_error)?;
    Ok(HttpResponse::NoContent().finish())
}

/// A job to simulate: who, what document, what the client asks, where and when.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SimulateBody {
    user: String,
    #[serde(default)]
    document_name: String,
    #[serde(default)]
    pages: Option<u32>,
    #[serde(default)]
    color_used: Option<bool>,
    /// IPP keywords, as a client sends them.
    #[serde(default)]
    sides: Option<String>,
    #[serde(default, rename = "print-color-mode")]
    print_color_mode: Option<String>,
    #[serde(default)]
    copies: Option<u32>,
    #[serde(default)]
    application: String,
    /// At release on this device (its site too).
    #[serde(default)]
    device: Option<String>,
    /// `HH:MM` and `mon`…`sun`; now when absent.
    #[serde(default)]
    time: Option<String>,
    #[serde(default)]
    day: Option<String>,
}

fn bad(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_simulation", message)
}

async fn simulate(
    req: HttpRequest,
    body: web::Bytes,
    directory: web::Data<DirectoryService>,
    roles: web::Data<RolesSettings>,
    policy: web::Data<PolicyStore>,
    devices: web::Data<DeviceRegistry>,
) -> Result<HttpResponse, ApiError> {
    with_role(&req, &directory, &roles, &[Role::Admin, Role::Helpdesk]).await?;
    let b: SimulateBody = json_body(&req, &body)?;
    let requested = Requested {
        sides: match &b.sides {
            Some(k) => Some(Sides::parse(k).ok_or_else(|| bad(format!("sides `{k}`")))?),
            None => None,
        },
        color_mode: match &b.print_color_mode {
            Some(k) => {
                Some(ColorMode::parse(k).ok_or_else(|| bad(format!("print-color-mode `{k}`")))?)
            }
            None => None,
        },
        copies: b.copies,
    };
    let known = directory.user(&b.user).await.map_err(|e| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "directory_unavailable",
            e.to_string(),
        )
    })?;
    if known.is_none() {
        return Err(bad(format!("the directory has no user `{}`", b.user)));
    }
    let mut facts = facts_for(
        &directory,
        &b.user,
        JobFacts {
            requested,
            pages: b.pages,
            color_used: b.color_used,
            document_name: b.document_name.clone(),
            application: b.application.clone(),
        },
    )
    .await;
    if let Some(t) = &b.time {
        let (minute, _) = parse_hours(&format!("{t}-{t}"))
            .ok_or_else(|| bad(format!("time `{t}` is not HH:MM")))?;
        facts.minute_of_day = minute;
    }
    if let Some(d) = &b.day {
        facts.weekday = DAYS
            .iter()
            .position(|x| x.eq_ignore_ascii_case(d))
            .ok_or_else(|| bad(format!("day `{d}` is not one of {}", DAYS.join(", "))))?
            as u8;
    }
    if let Some(name) = &b.device {
        let device = devices
            .get(name)
            .await
            .map_err(ApiError::internal)?
            .ok_or_else(|| bad(format!("no device `{name}`")))?;
        facts.site = Some(device.location.site.clone());
        facts.device = Some(device.name);
    }
    let rules = policy.rules().await.map_err(ApiError::internal)?;
    let decision = evaluate(&rules, &facts);
    let sheets = b.pages.map(|p| crate::policy::sheets(p, &decision.ticket));
    Ok(HttpResponse::Ok().json(json!({
        "decision": decision,
        "sheets": sheets,
        "facts": {
            "user": facts.user, "groups": facts.groups, "department": facts.department,
            "cost_centre": facts.cost_centre, "device": facts.device, "site": facts.site,
        },
    })))
}
