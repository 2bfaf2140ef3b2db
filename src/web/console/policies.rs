//! The console's print rules page (administrators): the ordered list, a form to add a rule, a
//! delete button per rule, and the simulation.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::pages::{PoliciesPage, RuleLine};
use super::{gate, posted, render, see_other, ConsoleSessions, Staff};
use crate::devices::DeviceRegistry;
use crate::directory::settings::Role;
use crate::directory::DirectoryService;
use crate::domain::{ColorMode, Sides};
use crate::policy::rules::{evaluate, Actions, ColorAction, Conditions, Rule, SidesAction};
use crate::policy::store::{PolicyError, RuleInput};
use crate::policy::{facts_for, JobFacts, PolicyStore, Requested};
use crate::web::form::Form;

const ADMIN: &[Role] = &[Role::Admin];

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/policies", web::get().to(list))
        .route("/policies", web::post().to(create))
        .route("/policies/simulate", web::post().to(simulate))
        .route("/policies/{id}/delete", web::post().to(delete));
}

/// `a, b , c` → `["a", "b", "c"]`.
fn list_of(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

fn number(form: &Form, field: &str) -> Result<Option<u32>, String> {
    let v = form.get(field).trim();
    if v.is_empty() {
        return Ok(None);
    }
    v.parse()
        .map(Some)
        .map_err(|_| format!("{field}: `{v}` is not a whole number"))
}

fn text(form: &Form, field: &str) -> Option<String> {
    let v = form.get(field).trim();
    (!v.is_empty()).then(|| v.to_owned())
}

/// The rule the form describes.
fn rule_of(form: &Form) -> Result<RuleInput, String> {
    let when = Conditions {
        groups: list_of(form.get("groups")),
        users: list_of(form.get("users")),
        departments: list_of(form.get("departments")),
        document_names: list_of(form.get("document_names")),
        min_pages: number(form, "min_pages")?,
        hours: text(form, "hours"),
        days: list_of(form.get("days")),
        sites: list_of(form.get("sites")),
        ..Conditions::default()
    };
    let then = Actions {
        color: match form.get("color") {
            "allow" => Some(ColorAction::Allow),
            "force-mono" => Some(ColorAction::ForceMono),
            _ => None,
        },
        sides: match form.get("sides") {
            "allow" => Some(SidesAction::Allow),
            "force-duplex" => Some(SidesAction::ForceDuplex),
            _ => None,
        },
        max_copies: number(form, "max_copies")?,
        refuse: text(form, "refuse"),
        release_sites: list_of(form.get("release_sites")),
        hold_hours: number(form, "hold_hours")?,
        ..Actions::default()
    };
    Ok(RuleInput {
        name: form.get("name").trim().to_owned(),
        enabled: true,
        when,
        then,
        position: number(form, "position")?.map(|p| p as usize),
    })
}

/// One line of words for a rule's conditions or actions (its JSON keys and values).
fn words(value: serde_json::Value) -> String {
    let Some(map) = value.as_object() else {
        return String::new();
    };
    let parts: Vec<String> = map
        .iter()
        .filter(|(_, v)| !(v.is_null() || v.as_array().is_some_and(|a| a.is_empty())))
        .map(|(k, v)| {
            let v = match v {
                serde_json::Value::Array(a) => a
                    .iter()
                    .map(|x| {
                        x.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| x.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            format!("{}: {v}", k.replace('_', " "))
        })
        .collect();
    if parts.is_empty() {
        "every job".into()
    } else {
        parts.join(" · ")
    }
}

fn lines(rules: &[Rule]) -> Vec<RuleLine> {
    rules
        .iter()
        .enumerate()
        .map(|(i, r)| RuleLine {
            id: r.id,
            position: i + 1,
            name: r.name.clone(),
            enabled: r.enabled,
            when: words(serde_json::to_value(&r.when).unwrap_or_default()),
            then: words(serde_json::to_value(&r.then).unwrap_or_default()),
        })
        .collect()
}

async fn page(
    staff: Staff,
    policy: &PolicyStore,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
    simulation: (String, Vec<(String, String, String)>),
) -> HttpResponse {
    let rules = policy.list().await.unwrap_or_default();
    render(
        status,
        &PoliciesPage {
            staff,
            nav: "policies",
            rules: lines(&rules),
            notice,
            error,
            sim_user: simulation.0,
            simulation: simulation.1,
        },
    )
}

#[derive(serde::Deserialize)]
struct Done {
    #[serde(default)]
    saved: Option<String>,
    #[serde(default)]
    deleted: Option<String>,
}

async fn list(
    req: HttpRequest,
    done: web::Query<Done>,
    sessions: web::Data<ConsoleSessions>,
    policy: web::Data<PolicyStore>,
) -> HttpResponse {
    let staff = match gate(&req, &sessions, ADMIN).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let notice = match (&done.saved, &done.deleted) {
        (Some(name), _) => Some(format!("Rule “{name}” saved.")),
        (_, Some(name)) => Some(format!("Rule “{name}” deleted.")),
        _ => None,
    };
    page(
        staff,
        &policy,
        StatusCode::OK,
        notice,
        None,
        Default::default(),
    )
    .await
}

fn back_to_list(key: &str, name: &str) -> HttpResponse {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair(key, name)
        .finish();
    see_other(&format!("/policies?{query}"))
}

async fn create(
    req: HttpRequest,
    body: web::Bytes,
    sessions: web::Data<ConsoleSessions>,
    policy: web::Data<PolicyStore>,
) -> HttpResponse {
    let (staff, form) = match posted(&req, &body, &sessions, ADMIN).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let input = match rule_of(&form) {
        Ok(i) => i,
        Err(e) => {
            return page(
                staff,
                &policy,
                StatusCode::BAD_REQUEST,
                None,
                Some(e),
                Default::default(),
            )
            .await
        }
    };
    match policy.create(input, &staff.uid).await {
        Ok(rule) => back_to_list("saved", &rule.name),
        Err(PolicyError::Invalid(problems)) => {
            page(
                staff,
                &policy,
                StatusCode::BAD_REQUEST,
                None,
                Some(format!("The rule was not saved: {}.", problems.join("; "))),
                Default::default(),
            )
            .await
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot save a rule");
            page(
                staff,
                &policy,
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                Some("The rule could not be saved; the details are in Folio's log.".into()),
                Default::default(),
            )
            .await
        }
    }
}

async fn delete(
    req: HttpRequest,
    path: web::Path<i64>,
    body: web::Bytes,
    sessions: web::Data<ConsoleSessions>,
    policy: web::Data<PolicyStore>,
) -> HttpResponse {
    let (staff, _) = match posted(&req, &body, &sessions, ADMIN).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let name = policy.get(*path).await.map(|r| r.name).unwrap_or_default();
    match policy.delete(*path, &staff.uid).await {
        Ok(()) => back_to_list("deleted", &name),
        Err(e) => {
            page(
                staff,
                &policy,
                StatusCode::NOT_FOUND,
                None,
                Some(e.to_string()),
                Default::default(),
            )
            .await
        }
    }
}

async fn simulate(
    req: HttpRequest,
    body: web::Bytes,
    sessions: web::Data<ConsoleSessions>,
    policy: web::Data<PolicyStore>,
    directory: web::Data<DirectoryService>,
    devices: web::Data<DeviceRegistry>,
) -> HttpResponse {
    let (staff, form) = match posted(&req, &body, &sessions, ADMIN).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let user = form.get("user").trim().to_owned();
    if !matches!(directory.user(&user).await, Ok(Some(_))) {
        let e = format!("The directory has no user `{user}`.");
        return page(
            staff,
            &policy,
            StatusCode::BAD_REQUEST,
            None,
            Some(e),
            (user, Vec::new()),
        )
        .await;
    }
    let requested = Requested {
        sides: Sides::parse(form.get("sides")),
        color_mode: ColorMode::parse(form.get("color")),
        copies: None,
    };
    let pages = form.get("pages").trim().parse().ok();
    let mut facts = facts_for(
        &directory,
        &user,
        JobFacts {
            requested,
            pages,
            color_used: None,
            document_name: form.get("document_name").trim().to_owned(),
            application: String::new(),
        },
    )
    .await;
    let device_name = form.get("device").trim();
    if !device_name.is_empty() {
        if let Ok(Some(d)) = devices.get(device_name).await {
            facts.site = Some(d.location.site.clone());
            facts.device = Some(d.name);
        }
    }
    let rules = policy.rules().await.unwrap_or_default();
    let d = evaluate(&rules, &facts);
    let by = |k: &str| {
        d.decided_by
            .get(k)
            .map(|b| b.rule.clone())
            .unwrap_or_default()
    };
    let rows = vec![
        (
            "colour".to_owned(),
            d.color_mode.keyword().to_owned(),
            by("color"),
        ),
        (
            "sides".to_owned(),
            d.sides.keyword().to_owned(),
            by("sides"),
        ),
        ("copies".to_owned(), d.copies.to_string(), by("copies")),
        (
            "refused".to_owned(),
            d.refuse.clone().unwrap_or_else(|| "no".into()),
            by("refuse"),
        ),
        (
            "release at".to_owned(),
            if d.release_sites.is_empty() {
                "any site".into()
            } else {
                d.release_sites.join(", ")
            },
            by("release_sites"),
        ),
        (
            "expires after".to_owned(),
            d.hold_hours
                .map(|h| format!("{h} h"))
                .unwrap_or_else(|| "the default".into()),
            by("hold_hours"),
        ),
    ];
    page(staff, &policy, StatusCode::OK, None, None, (user, rows)).await
}
